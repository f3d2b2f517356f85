package gcsstore_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openacquire/acquire/adapters/gcp/gcsstore"
	"github.com/openacquire/acquire/runtime/call"
	"github.com/openacquire/acquire/runtime/host/hosttest"
	"github.com/openacquire/acquire/runtime/identity"
	"github.com/openacquire/acquire/runtime/registry"
	"github.com/openacquire/acquire/runtime/storage"
	"github.com/openacquire/acquire/runtime/store"
)

// signingScheme opens gcs-signed://BUCKET?prefix=P as a gcsstore driver on
// the test server that signs URLs locally with a test key: gs:// URLs name
// a signer but take no key (real deployments sign through IAM), and the
// host opens its store from a URL.
const signingScheme = "gcs-signed"

var registerSigning sync.Once

func signingStore(t *testing.T, endpoint string) string {
	key := testKey(t)
	registerSigning.Do(func() {
		store.RegisterScheme(signingScheme, func(ctx context.Context, u *url.URL) (store.Driver, error) {
			q := u.Query()
			return gcsstore.New(ctx, gcsstore.Config{Bucket: u.Host, Endpoint: q.Get("endpoint"), Prefix: q.Get("prefix"), Anonymous: true,
				Signer: testSigner, PrivateKey: []byte(q.Get("key"))})
		})
	})
	newDriver(t, endpoint, gcsstore.Config{}) // creates the bucket
	return fmt.Sprintf("%s://acq-test-%04d?endpoint=%s&key=%s", signingScheme, bucketSeq.Load(), url.QueryEscape(endpoint), url.QueryEscape(string(key)))
}

// TestStorageSignedURLs runs the storage service on a GCS bucket served by
// fake-gcs-server: chunk bytes go between the client and the store through
// V4 signed URLs (the host never sees them). A multi-chunk file round-trips
// as a user and through a write PAR. fake-gcs-server does not check
// signatures, so this proves the service's use of the URLs and the bytes,
// not that GCS would accept the signatures (TestSignedURL checks their form).
func TestStorageSignedURLs(t *testing.T) {
	endpoint := startServer(t, "memory")
	env := hosttest.Start(t, hosttest.Options{StoreURL: signingStore(t, endpoint), Kinds: []string{registry.Kind, identity.Kind, storage.Kind}})
	if !env.Host.Storage.SignsURLs() {
		t.Fatal("the storage service does not use the store's signed URLs on GCS")
	}
	alice := env.Users(t, "correct horse battery", "alice")["alice"]
	c := &storage.Client{C: env.Client, URL: env.Host.ServiceURL(storage.Kind)}
	ctx := t.Context()
	if _, err := c.CreateDrive(ctx, alice, "home", storage.DriveOptions{}); err != nil {
		t.Fatal(err)
	}
	b := make([]byte, storage.InlineMaxBytes+2*storage.MinChunkBytes+77)
	r := rand.New(rand.NewPCG(3, 4))
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	fv, err := c.Upload(ctx, alice, "home", "big.bin", bytes.NewReader(b), int64(len(b)), storage.UploadOptions{ChunkBytes: storage.MinChunkBytes})
	if err != nil {
		t.Fatal(err)
	}
	want := sha256.Sum256(b)
	if chunks := (len(b) + storage.MinChunkBytes - 1) / storage.MinChunkBytes; fv.Chunks != chunks || fv.Inline || fv.SHA256 != hex.EncodeToString(want[:]) {
		t.Fatalf("version %+v", fv)
	}
	var got bytes.Buffer
	if _, err := c.Download(ctx, alice, "home", "big.bin", &got, storage.DownloadOptions{}); err != nil || !bytes.Equal(got.Bytes(), b) {
		t.Fatalf("download: %v (identical: %v)", err, bytes.Equal(got.Bytes(), b))
	}
	dl, err := c.OpenFile(ctx, alice, "home", "big.bin", 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if u := dl.Chunks[0].URL; !strings.HasPrefix(u, strings.TrimSuffix(endpoint, "/storage/v1/")) || !strings.Contains(u, "X-Goog-Signature=") {
		t.Fatalf("chunk URL %q is not a signed URL of the store", u)
	}

	np, err := c.CreatePAR(ctx, alice, "home", "", storage.PARWrite, env.Clock.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	pc := call.NewClient(&call.MemoryPins{})
	pc.Clock = env.Clock.Now
	p, err := storage.OpenPAR(pc, np.Link)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Upload(ctx, "out.bin", bytes.NewReader(b), int64(len(b)), storage.UploadOptions{ChunkBytes: storage.MinChunkBytes}); err != nil {
		t.Fatal(err)
	}
	got.Reset()
	if _, err := c.Download(ctx, alice, "home", "out.bin", &got, storage.DownloadOptions{}); err != nil || !bytes.Equal(got.Bytes(), b) {
		t.Fatalf("PAR upload round trip: %v", err)
	}
}
