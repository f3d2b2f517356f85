package blobstore_test

import (
	"errors"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/openacquire/acquire/adapters/azure/blobstore"
	"github.com/openacquire/acquire/runtime/store"
)

func TestParseURL(t *testing.T) {
	good := map[string]blobstore.Config{
		"azblob://box":                {Container: "box"},
		"azblob://my-box/":            {Container: "my-box"},
		"azblob://box?account=a1b2c3": {Container: "box", Account: "a1b2c3"},
		"azblob://box?account=devstoreaccount1&endpoint=http%3A%2F%2F127.0.0.1%3A10000%2Fdevstoreaccount1&prefix=svc/st": {
			Container: "box", Account: "devstoreaccount1", Endpoint: "http://127.0.0.1:10000/devstoreaccount1", Prefix: "svc/st/",
		},
	}
	for raw, want := range good {
		got, err := blobstore.ParseURL(mustURL(t, raw))
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("ParseURL(%q) = %+v, %v; want %+v", raw, got, err, want)
		}
	}
}

func mustURL(t *testing.T, raw string) *url.URL {
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// TestParseURLRefuses: every bad URL is ErrInvalidArgument with a message
// saying what is wrong, and none repeats a secret it was given.
func TestParseURLRefuses(t *testing.T) {
	const secret = "SeCrEt-VaLuE"
	bad := map[string]string{
		"gs://box":                                           "scheme",
		"azblob://user:" + secret + "@box":                   "user information",
		"azblob://box?sas_token=" + secret:                   "credentials come only",
		"azblob://box?account_key=" + secret:                 "credentials come only",
		"azblob://box?sig=1&colour=blue":                     "unknown parameter",
		"azblob://box?prefix=a&prefix=b":                     "given 2 times",
		"azblob://box/some/path":                             "?prefix=",
		"azblob://":                                          "container name",
		"azblob://ab":                                        "container name",
		"azblob://Box":                                       "container name",
		"azblob://a--b":                                      "container name",
		"azblob://box?account=UPPER":                         "account name",
		"azblob://box?account=ab":                            "account name",
		"azblob://box?endpoint=ftp://host":                   "endpoint must be",
		"azblob://box?endpoint=http://u:" + secret + "@host": "endpoint must be",
		"azblob://box?endpoint=http://host/?sig=" + secret:   "endpoint must be",
		"azblob://box?prefix=../x":                           "prefix",
	}
	for raw, want := range bad {
		_, err := blobstore.ParseURL(mustURL(t, raw))
		if !errors.Is(err, store.ErrInvalidArgument) || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseURL(%q) = %v; want ErrInvalidArgument mentioning %q", raw, err, want)
		}
		if err != nil && strings.Contains(err.Error(), secret) {
			t.Errorf("ParseURL(%q) error repeats the secret: %v", raw, err)
		}
	}
}

// TestCredentialsFromEnv: the connection string wins and supplies the
// account and endpoint; else AZURE_STORAGE_KEY with the account. Errors
// never repeat a key or connection string.
func TestCredentialsFromEnv(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	base := blobstore.Config{Container: "box"}

	cs := "DefaultEndpointsProtocol=http;AccountName=" + devAccount + ";AccountKey=" + devKey +
		";BlobEndpoint=http://127.0.0.1:10000/" + devAccount + ";"
	cfg, err := blobstore.CredentialsFromEnv(base, env(map[string]string{blobstore.EnvConnectionString: cs}))
	if err != nil || cfg.Account != devAccount || cfg.Endpoint != "http://127.0.0.1:10000/"+devAccount ||
		cfg.SharedKey == nil || cfg.SharedKey.AccountName() != devAccount {
		t.Fatalf("connection string: %+v, %v", cfg, err)
	}
	cfg, err = blobstore.CredentialsFromEnv(base, env(map[string]string{
		blobstore.EnvConnectionString: "AccountName=acct1;AccountKey=" + devKey + ";EndpointSuffix=core.chinacloudapi.cn"}))
	if err != nil || cfg.Endpoint != "https://acct1.blob.core.chinacloudapi.cn" {
		t.Fatalf("connection string with suffix: %+v, %v", cfg, err)
	}
	withURLEndpoint := base
	withURLEndpoint.Endpoint = "http://other:1/x"
	if cfg, err = blobstore.CredentialsFromEnv(withURLEndpoint, env(map[string]string{blobstore.EnvConnectionString: cs})); err != nil || cfg.Endpoint != "http://other:1/x" {
		t.Fatalf("the URL's endpoint must win: %+v, %v", cfg, err)
	}
	cfg, err = blobstore.CredentialsFromEnv(base, env(map[string]string{blobstore.EnvAccount: "acct2", blobstore.EnvKey: devKey}))
	if err != nil || cfg.Account != "acct2" || cfg.SharedKey == nil || cfg.Endpoint != "" {
		t.Fatalf("account key: %+v, %v", cfg, err)
	}

	const secret = "SeCrEtKeY"
	other := base
	other.Account = "someoneelse"
	refused := []map[string]string{
		{},
		{blobstore.EnvKey: devKey},
		{blobstore.EnvAccount: "acct2"},
		{blobstore.EnvAccount: "acct2", blobstore.EnvKey: secret + "!!not base64"},
		{blobstore.EnvConnectionString: "AccountName=acct1;SharedAccessSignature=sig=" + secret},
		{blobstore.EnvConnectionString: secret},
		{blobstore.EnvConnectionString: "AccountName=acct1;AccountKey=" + secret + "!!"},
		{blobstore.EnvConnectionString: "AccountName=acct1;AccountKey=" + devKey + ";BlobEndpoint=ftp://" + secret},
	}
	for i, m := range refused {
		_, err := blobstore.CredentialsFromEnv(base, env(m))
		if !errors.Is(err, store.ErrInvalidArgument) || strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), devKey) {
			t.Errorf("case %d: %v; want ErrInvalidArgument without the secret", i, err)
		}
	}
	if _, err := blobstore.CredentialsFromEnv(other, env(map[string]string{blobstore.EnvConnectionString: cs})); !errors.Is(err, store.ErrInvalidArgument) {
		t.Errorf("account mismatch: %v, want ErrInvalidArgument", err)
	}
}

// TestOpenURLDefaultChain: without a shared key in the environment, OpenURL
// uses azidentity's default chain (no network call at open), and such a
// driver cannot sign URLs.
func TestOpenURLDefaultChain(t *testing.T) {
	for _, k := range []string{blobstore.EnvConnectionString, blobstore.EnvKey, blobstore.EnvAccount} {
		t.Setenv(k, "")
	}
	if _, err := blobstore.OpenURL(t.Context(), mustURL(t, "azblob://box")); !errors.Is(err, store.ErrInvalidArgument) ||
		!strings.Contains(err.Error(), "account name") {
		t.Fatalf("OpenURL without an account: %v, want ErrInvalidArgument about the account", err)
	}
	d, err := blobstore.OpenURL(t.Context(), mustURL(t, "azblob://box?account=acct1"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.SignedURL(t.Context(), "k", "GET", time.Minute); !errors.Is(err, store.ErrUnsupported) {
		t.Fatalf("SignedURL with the default chain: %v, want ErrUnsupported", err)
	}
}
