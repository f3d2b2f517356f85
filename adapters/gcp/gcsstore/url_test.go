package gcsstore_test

import (
	"errors"
	"net/url"
	"reflect"
	"strings"
	"testing"

	"github.com/openacquire/acquire/adapters/gcp/gcsstore"
	"github.com/openacquire/acquire/runtime/store"
)

func TestParseURL(t *testing.T) {
	good := map[string]gcsstore.Config{
		"gs://my-bucket":    {Bucket: "my-bucket"},
		"gs://my_bucket.x/": {Bucket: "my_bucket.x"},
		"gs://bk1?endpoint=http%3A%2F%2F127.0.0.1%3A4443%2Fstorage%2Fv1%2F&anonymous=true&prefix=svc/acct": {
			Bucket: "bk1", Endpoint: "http://127.0.0.1:4443/storage/v1/", Anonymous: true, Prefix: "svc/acct/",
		},
		"gs://bk1?signer=auto":                            {Bucket: "bk1", Signer: "auto"},
		"gs://bk1?signer=sa@proj.iam.gserviceaccount.com": {Bucket: "bk1", Signer: "sa@proj.iam.gserviceaccount.com"},
	}
	for raw, want := range good {
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		got, err := gcsstore.ParseURL(u)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("ParseURL(%q) = %+v, %v; want %+v", raw, got, err, want)
		}
	}
}

// TestParseURLRefuses: every bad URL is ErrInvalidArgument with a message
// saying what is wrong, and none repeats a secret it was given.
func TestParseURLRefuses(t *testing.T) {
	const secret = "SeCrEt-VaLuE"
	bad := map[string]string{
		"s3://bucket":                                       "scheme",
		"gs://user:" + secret + "@bucket":                   "user information",
		"gs://bucket?private_key=" + secret:                 "credentials come only",
		"gs://bucket?access_token=" + secret:                "credentials come only",
		"gs://bucket?colour=blue":                           "unknown parameter",
		"gs://bucket?prefix=a&prefix=b":                     "given 2 times",
		"gs://bucket/some/path":                             "?prefix=",
		"gs://":                                             "bucket name",
		"gs://UPPER":                                        "bucket name",
		"gs://bucket?endpoint=ftp://host":                   "endpoint must be",
		"gs://bucket?endpoint=http://u:" + secret + "@host": "endpoint must be",
		"gs://bucket?prefix=../x":                           "prefix",
		"gs://bucket?signer=" + secret:                      "signer must be",
		"gs://bucket?anonymous=perhaps":                     "anonymous must be",
	}
	for raw, want := range bad {
		u, err := url.Parse(raw)
		if err != nil {
			continue
		}
		_, err = gcsstore.ParseURL(u)
		if !errors.Is(err, store.ErrInvalidArgument) || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseURL(%q) = %v; want ErrInvalidArgument saying %q", raw, err, want)
			continue
		}
		if strings.Contains(err.Error(), secret) {
			t.Errorf("ParseURL(%q): error repeats a secret: %v", raw, err)
		}
	}
}
