package s3store_test

import (
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/openacquire/acquire/adapters/aws/s3store"
	"github.com/openacquire/acquire/runtime/store"
)

func TestParseURL(t *testing.T) {
	good := map[string]s3store.Config{
		"s3://my-bucket":                   {Bucket: "my-bucket"},
		"s3://my-bucket/?region=eu-west-1": {Bucket: "my-bucket", Region: "eu-west-1"},
		"s3://b.example?endpoint=http%3A%2F%2F127.0.0.1%3A7070&path_style=true&prefix=svc/id": {
			Bucket: "b.example", Endpoint: "http://127.0.0.1:7070", PathStyle: true, Prefix: "svc/id/",
		},
		"s3://abc?prefix=x/":                            {Bucket: "abc", Prefix: "x/"},
		"s3://abc?endpoint=https://s3.example.com/base": {Bucket: "abc", Endpoint: "https://s3.example.com/base"},
	}
	for raw, want := range good {
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		got, err := s3store.ParseURL(u)
		if err != nil || got != want {
			t.Errorf("ParseURL(%q) = %+v, %v; want %+v", raw, got, err, want)
		}
	}
}

// TestParseURLRefuses: every bad URL is ErrInvalidArgument with a message
// saying what is wrong, and none repeats a secret it was given.
func TestParseURLRefuses(t *testing.T) {
	const secret = "SeCrEt-VaLuE"
	bad := map[string]string{
		"gs://bucket":                                       "scheme",
		"s3://AKIAEXAMPLE:" + secret + "@bucket":            "user information",
		"s3://user@bucket":                                  "user information",
		"s3://bucket?secret_access_key=" + secret:           "credentials come only",
		"s3://bucket?aws_session_token=" + secret:           "credentials come only",
		"s3://bucket?colour=blue":                           "unknown parameter",
		"s3://bucket?region=a&region=b":                     "given 2 times",
		"s3://bucket/some/path":                             "?prefix=",
		"s3://bucket#frag":                                  "want s3://bucket",
		"s3://":                                             "bucket name",
		"s3://UPPER":                                        "bucket name",
		"s3://ab":                                           "bucket name",
		"s3://bucket?region=" + secret:                      "malformed region",
		"s3://bucket?endpoint=ftp://host":                   "endpoint must be",
		"s3://bucket?endpoint=http://u:" + secret + "@host": "endpoint must be",
		"s3://bucket?endpoint=" + url.QueryEscape("http://host/?token="+secret): "endpoint must be",
		"s3://bucket?prefix=../x":                        "prefix",
		"s3://bucket?prefix=/x":                          "prefix",
		"s3://bucket?prefix=a//b":                        "prefix",
		"s3://bucket?prefix=" + strings.Repeat("p", 300): "prefix",
		"s3://bucket?path_style=perhaps":                 "path_style",
		"s3://bucket?%zz":                                "malformed query",
	}
	for raw, want := range bad {
		u, err := url.Parse(raw)
		if err != nil {
			continue // refused even earlier, by net/url
		}
		_, err = s3store.ParseURL(u)
		if !errors.Is(err, store.ErrInvalidArgument) || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseURL(%q) = %v; want ErrInvalidArgument saying %q", raw, err, want)
			continue
		}
		if strings.Contains(err.Error(), secret) {
			t.Errorf("ParseURL(%q): error repeats a secret: %v", raw, err)
		}
	}
}
