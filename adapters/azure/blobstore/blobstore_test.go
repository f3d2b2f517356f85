package blobstore_test

import (
	"bytes"
	"context"
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

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"

	"github.com/openacquire/acquire/adapters/azure/blobstore"
	"github.com/openacquire/acquire/runtime/store"
	"github.com/openacquire/acquire/runtime/store/drivertest"
)

var containerSeq atomic.Int64

func sharedKey(tb testing.TB) *container.SharedKeyCredential {
	k, err := container.NewSharedKeyCredential(devAccount, devKey)
	if err != nil {
		tb.Fatal(err)
	}
	return k
}

// newDriver creates a fresh container on the server and returns a driver on it.
func newDriver(tb testing.TB, endpoint, prefix string) *blobstore.Driver {
	tb.Helper()
	cfg := blobstore.Config{
		Container: fmt.Sprintf("acq-test-%04d", containerSeq.Add(1)),
		Account:   devAccount, Endpoint: endpoint, Prefix: prefix, SharedKey: sharedKey(tb),
	}
	d, err := blobstore.New(context.Background(), cfg)
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := d.Client().Create(context.Background(), nil); err != nil {
		tb.Fatalf("create container %s: %v", cfg.Container, err)
	}
	return d
}

// TestConformance runs the whole suite on Azurite with no declared gaps.
func TestConformance(t *testing.T) {
	endpoint := startServer(t)
	drivertest.RunConformance(t, func(t *testing.T) store.Driver { return newDriver(t, endpoint, "") })
}

// TestConformancePrefix runs it again under a URL prefix, except MaxKey,
// whose 1024-byte key leaves no room for one (the driver refuses the
// longer name with ErrInvalidKey, which TestPrefixKeyLimit checks).
func TestConformancePrefix(t *testing.T) {
	endpoint := startServer(t)
	drivertest.RunConformance(t, func(t *testing.T) store.Driver {
		if strings.HasSuffix(t.Name(), "/MaxKey") {
			return newDriver(t, endpoint, "")
		}
		return newDriver(t, endpoint, "svc/storage/")
	})
}

// TestPrefixKeyLimit: with a prefix, a key that fits the store's limit but
// not Azure's (prefix included) is ErrInvalidKey, before any request.
func TestPrefixKeyLimit(t *testing.T) {
	d, err := blobstore.New(ctx(t), blobstore.Config{Container: "box", Account: devAccount,
		Endpoint: "http://127.0.0.1:1/" + devAccount, Prefix: "svc/", SharedKey: sharedKey(t)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.NewBucket(d).Put(ctx(t), strings.Repeat("k", 1022), nil); !errors.Is(err, store.ErrInvalidKey) {
		t.Fatalf("Put of a 1022-byte key under a 4-byte prefix: %v, want ErrInvalidKey", err)
	}
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(t.Context(), time.Minute)
	t.Cleanup(cancel)
	return c
}

func httpDo(t *testing.T, method, u string, body []byte, header http.Header) (int, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx(t), method, u, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
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

// TestSignedURL: a SAS URL serves the caller's bytes; one pointed at another
// blob, or with a changed signature or permission, is refused with 403; a
// SAS PUT stores the body as sent, which the driver then reads.
func TestSignedURL(t *testing.T) {
	b := store.NewBucket(newDriver(t, startServer(t), "area/"))
	data := []byte("signed bytes \x00\xff")
	if _, err := b.Put(ctx(t), "doc", data); err != nil {
		t.Fatal(err)
	}
	u, err := b.SignedURL(ctx(t), "doc", "GET", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	parsed := must(url.Parse(u))
	if !strings.HasSuffix(parsed.Path, "/area/doc") || parsed.Query().Get("sp") != "r" || parsed.Query().Get("sig") == "" {
		t.Fatalf("signed URL %q does not address the prefixed blob with a read SAS", u)
	}
	if status, got := httpDo(t, "GET", u, nil, nil); status != http.StatusOK || !bytes.Equal(got, data) {
		t.Fatalf("GET signed URL: %d %q, want 200 %q", status, got, data)
	}
	if _, err := b.Put(ctx(t), "other", []byte("not yours")); err != nil {
		t.Fatal(err)
	}
	moved := *parsed
	moved.Path, moved.RawPath = strings.TrimSuffix(parsed.Path, "/doc")+"/other", ""
	if status, _ := httpDo(t, "GET", moved.String(), nil, nil); status != http.StatusForbidden {
		t.Fatalf("GET signed URL moved to another blob: status %d, want 403", status)
	}
	q := parsed.Query()
	sig := []byte(q.Get("sig"))
	sig[0] ^= 1
	q.Set("sig", string(sig))
	parsed.RawQuery = q.Encode()
	if status, _ := httpDo(t, "GET", parsed.String(), nil, nil); status != http.StatusForbidden {
		t.Fatalf("GET signed URL with a changed signature: status %d, want 403", status)
	}
	q = must(url.ParseQuery(must(url.Parse(u)).RawQuery))
	q.Set("sp", "rw")
	parsed.RawQuery = q.Encode()
	if status, _ := httpDo(t, "PUT", parsed.String(), []byte("x"), http.Header{"X-Ms-Blob-Type": {"BlockBlob"}}); status != http.StatusForbidden {
		t.Fatalf("PUT through a read SAS with widened permissions: status %d, want 403", status)
	}

	pu, err := b.SignedURL(ctx(t), "upload", "PUT", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	up := []byte("uploaded through SAS")
	if status, body := httpDo(t, "PUT", pu, up, http.Header{"X-Ms-Blob-Type": {"BlockBlob"}}); status != http.StatusCreated {
		t.Fatalf("PUT signed URL: %d %.200s, want 201", status, body)
	}
	if got, _, err := b.Get(ctx(t), "upload"); err != nil || !bytes.Equal(got, up) {
		t.Fatalf("Get after SAS PUT = %q, %v", got, err)
	}
	if status, _ := httpDo(t, "GET", pu, nil, nil); status != http.StatusForbidden {
		t.Fatalf("GET through a PUT SAS: status %d, want 403", status)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// fakeToken is a token credential that is never asked for a token here.
type fakeToken struct{}

func (fakeToken) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	return azcore.AccessToken{}, errors.New("no tokens in tests")
}

// TestSignedURLNeedsSharedKey: with a token credential there is no key to
// sign a SAS with, so SignedURL is ErrUnsupported.
func TestSignedURLNeedsSharedKey(t *testing.T) {
	d, err := blobstore.New(ctx(t), blobstore.Config{Container: "box", Account: "acct1", TokenCredential: fakeToken{}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.NewBucket(d).SignedURL(ctx(t), "k", "GET", time.Minute); !errors.Is(err, store.ErrUnsupported) {
		t.Fatalf("SignedURL with a token credential: %v, want ErrUnsupported", err)
	}
}

// TestRegisterAndOpen: store.Open dispatches azblob:// URLs once
// registered, with the credentials from the connection string.
func TestRegisterAndOpen(t *testing.T) {
	endpoint := startServer(t)
	newDriver(t, endpoint, "")
	t.Setenv(blobstore.EnvConnectionString, "DefaultEndpointsProtocol=http;AccountName="+devAccount+
		";AccountKey="+devKey+";BlobEndpoint="+endpoint+";")
	blobstore.Register()
	blobstore.Register() // idempotent
	raw := fmt.Sprintf("azblob://acq-test-%04d?account=%s&prefix=svc/a", containerSeq.Load(), devAccount)
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
	if !slices.Contains(store.Schemes(), "azblob") {
		t.Fatalf("schemes %v lack azblob", store.Schemes())
	}
}

// TestPreconditionAnswers: Azure's own answers map onto the contract:
// If-None-Match: * on an existing blob (409 BlobAlreadyExists) and If-Match
// on a vanished one are ErrPrecondition.
func TestPreconditionAnswers(t *testing.T) {
	d := newDriver(t, startServer(t), "")
	v, err := d.PutIfAbsent(ctx(t), "k", []byte("1"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.PutIfAbsent(ctx(t), "k", []byte("2")); !errors.Is(err, store.ErrPrecondition) {
		t.Fatalf("PutIfAbsent on an existing blob: %v, want ErrPrecondition", err)
	}
	if err := d.Delete(ctx(t), "k"); err != nil {
		t.Fatal(err)
	}
	if _, err := d.PutIfVersion(ctx(t), "k", []byte("3"), v); !errors.Is(err, store.ErrPrecondition) {
		t.Fatalf("PutIfVersion on a deleted blob: %v, want ErrPrecondition", err)
	}
	if err := d.DeleteIfVersion(ctx(t), "k", v); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("DeleteIfVersion on a deleted blob: %v, want ErrNotFound", err)
	}
}

func bench(tb testing.TB) store.Driver { return newDriver(tb, startServer(tb), "") }

func BenchmarkPutIfAbsent(b *testing.B)         { drivertest.BenchmarkPutIfAbsent(b, bench) }
func BenchmarkPutIfAbsentParallel(b *testing.B) { drivertest.BenchmarkPutIfAbsentParallel(b, bench) }
func BenchmarkGet(b *testing.B)                 { drivertest.BenchmarkGet(b, bench) }
func BenchmarkCAS(b *testing.B)                 { drivertest.BenchmarkCAS(b, bench) }
func BenchmarkList(b *testing.B)                { drivertest.BenchmarkList(b, bench) }
