package gcsstore_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/openacquire/acquire/adapters/gcp/gcsstore"
	"github.com/openacquire/acquire/runtime/store"
	"github.com/openacquire/acquire/runtime/store/drivertest"
)

var bucketSeq atomic.Int64

// newDriver creates a fresh bucket on the server and returns a driver on it.
func newDriver(tb testing.TB, endpoint string, cfg gcsstore.Config) *gcsstore.Driver {
	tb.Helper()
	cfg.Bucket = fmt.Sprintf("acq-test-%04d", bucketSeq.Add(1))
	cfg.Endpoint = endpoint
	cfg.Anonymous = true
	d, err := gcsstore.New(context.Background(), cfg)
	if err != nil {
		tb.Fatal(err)
	}
	if err := d.Client().Bucket(cfg.Bucket).Create(context.Background(), "test-project", nil); err != nil {
		tb.Fatalf("create bucket %s: %v", cfg.Bucket, err)
	}
	return d
}

// The declared gaps, by name and reason.
var (
	deleteGap = drivertest.Options{
		NoDeletePrecondition: "fake-gcs-server does not enforce ifGenerationMatch on delete (docs/testing.md); the driver sends it and real GCS enforces it",
	}
	// filesystemGaps are limits of fake-gcs-server's filesystem backend,
	// which maps names to file paths; TestConformanceMemory runs exactly
	// these subtests on its memory backend, which has no such limits.
	filesystemGaps = map[string]string{
		"ListFileAndDir":  "fake-gcs-server's filesystem backend stores a/b inside directory a, so names a and a/b cannot coexist",
		"ListTrickyOrder": "the subtest uses 300-byte name segments; the filesystem backend's file names are limited to 255 bytes",
		"MaxKey":          "the subtest uses a one-segment 1024-byte name; the filesystem backend's file names are limited to 255 bytes",
	}
)

func subtest(t *testing.T) string { return t.Name()[strings.LastIndex(t.Name(), "/")+1:] }

// TestConformance runs the suite on the filesystem backend (docs/testing.md).
// Signed URLs are signed locally with a test key; fake-gcs-server serves
// them without checking the signature (see TestSignedURL).
func TestConformance(t *testing.T) {
	endpoint := startServer(t, "filesystem")
	key := testKey(t)
	drivertest.RunConformanceWith(t, deleteGap, func(t *testing.T) store.Driver {
		if reason := filesystemGaps[subtest(t)]; reason != "" {
			t.Skipf("declared server gap %s: %s (run by TestConformanceMemory)", subtest(t), reason)
		}
		return newDriver(t, endpoint, gcsstore.Config{Signer: testSigner, PrivateKey: key})
	})
}

// TestConformanceMemory runs the subtests the filesystem backend cannot
// hold on fake-gcs-server's memory backend, and the rest under a URL prefix.
func TestConformanceMemory(t *testing.T) {
	endpoint := startServer(t, "memory")
	key := testKey(t)
	drivertest.RunConformanceWith(t, deleteGap, func(t *testing.T) store.Driver {
		if _, fsGap := filesystemGaps[subtest(t)]; fsGap {
			return newDriver(t, endpoint, gcsstore.Config{})
		}
		return newDriver(t, endpoint, gcsstore.Config{Prefix: "svc/accounting/", Signer: testSigner, PrivateKey: key})
	})
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(t.Context(), time.Minute)
	t.Cleanup(cancel)
	return c
}

const testSigner = "acquire-test@example-project.iam.gserviceaccount.com"

func testKey(t *testing.T) []byte {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

func httpDo(t *testing.T, method, u string, body []byte) (int, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx(t), method, u, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	got, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, got
}

// TestSignedURL: with a signing identity the driver makes V4 URLs that
// address the prefixed object and carry a V4 signature. fake-gcs-server
// serves them but does not check signatures, so this proves the URL's form
// and the bytes served, not that GCS would accept the signature.
func TestSignedURL(t *testing.T) {
	endpoint := startServer(t, "filesystem")
	const signer = testSigner
	b := store.NewBucket(newDriver(t, endpoint, gcsstore.Config{Prefix: "area/", Signer: signer, PrivateKey: testKey(t)}))
	data := []byte("signed bytes \x00\xff")
	if _, err := b.Put(ctx(t), "doc", data); err != nil {
		t.Fatal(err)
	}
	u, err := b.SignedURL(ctx(t), "doc", "GET", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	p, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	q := p.Query()
	if !strings.HasSuffix(p.Path, "/area/doc") || q.Get("X-Goog-Algorithm") != "GOOG4-RSA-SHA256" ||
		!strings.HasPrefix(q.Get("X-Goog-Credential"), signer+"/") || (q.Get("X-Goog-Expires") != "60" && q.Get("X-Goog-Expires") != "59") || len(q.Get("X-Goog-Signature")) != 512 {
		t.Fatalf("signed URL %q lacks the V4 form", u)
	}
	if status, got := httpDo(t, "GET", u, nil); status != 200 || !bytes.Equal(got, data) {
		t.Fatalf("GET signed URL: %d %q, want 200 %q", status, got, data)
	}
	pu, err := b.SignedURL(ctx(t), "upload", "PUT", time.Minute)
	if err != nil || !strings.Contains(pu, "/area/upload?") {
		t.Fatalf("signed PUT URL %q, %v", pu, err)
	}
	// A sized PUT URL signs the length range GCS enforces, and says to send it.
	su, headers, err := b.SignedPutURL(ctx(t), "upload", 100, time.Minute)
	if err != nil || headers[gcsstore.LengthRangeHeader] != "100,100" || len(headers) != 1 {
		t.Fatalf("sized PUT URL: %q %v %v", su, headers, err)
	}
	if sp, err := url.Parse(su); err != nil || !strings.Contains(sp.Query().Get("X-Goog-SignedHeaders"), gcsstore.LengthRangeHeader) {
		t.Fatalf("sized PUT URL %q does not sign %s", su, gcsstore.LengthRangeHeader)
	}

	unsigned := store.NewBucket(newDriver(t, endpoint, gcsstore.Config{}))
	if _, err := unsigned.SignedURL(ctx(t), "doc", "GET", time.Minute); !errors.Is(err, store.ErrUnsupported) {
		t.Fatalf("SignedURL without a signer: %v, want ErrUnsupported", err)
	}
}

// TestRegisterAndOpen: store.Open dispatches gs:// URLs once registered.
func TestRegisterAndOpen(t *testing.T) {
	endpoint := startServer(t, "filesystem")
	newDriver(t, endpoint, gcsstore.Config{})
	gcsstore.Register()
	gcsstore.Register() // idempotent
	raw := fmt.Sprintf("gs://acq-test-%04d?anonymous=true&prefix=svc/a&endpoint=%s", bucketSeq.Load(), url.QueryEscape(endpoint))
	b, err := store.Open(ctx(t), raw)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = b.Close() }()
	v, err := b.PutIfAbsent(ctx(t), "k", []byte("via store.Open"))
	if err != nil {
		t.Fatal(err)
	}
	got, gv, err := b.Get(ctx(t), "k")
	if err != nil || string(got) != "via store.Open" || gv != v {
		t.Fatalf("Get = %q %q %v", got, gv, err)
	}
	if !slices.Contains(store.Schemes(), "gs") {
		t.Fatalf("schemes %v lack gs", store.Schemes())
	}
}

func bench(tb testing.TB) store.Driver {
	return newDriver(tb, startServer(tb, "filesystem"), gcsstore.Config{})
}

func BenchmarkPutIfAbsent(b *testing.B)         { drivertest.BenchmarkPutIfAbsent(b, bench) }
func BenchmarkPutIfAbsentParallel(b *testing.B) { drivertest.BenchmarkPutIfAbsentParallel(b, bench) }
func BenchmarkGet(b *testing.B)                 { drivertest.BenchmarkGet(b, bench) }
func BenchmarkCAS(b *testing.B)                 { drivertest.BenchmarkCAS(b, bench) }
func BenchmarkList(b *testing.B)                { drivertest.BenchmarkList(b, bench) }
