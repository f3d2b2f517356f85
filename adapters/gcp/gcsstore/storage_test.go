package gcsstore_test

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/openacquire/acquire/adapters/gcp/gcsstore"
	"github.com/openacquire/acquire/runtime/storage/storagetest"
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
// V4 signed URLs (the host never sees them), for a user and for a PAR.
// fake-gcs-server does not check signatures, so this proves the service's
// use of the URLs and the bytes, not that GCS would accept the signatures
// (TestSignedURL checks their form).
func TestStorageSignedURLs(t *testing.T) {
	endpoint := startServer(t, "memory")
	storagetest.SignedURLRoundTrips(t, "GCS", signingStore(t, endpoint), strings.TrimSuffix(endpoint, "/storage/v1/")+"/", "X-Goog-Signature")
}

// TestStorageChunkURLBoundsSize: a chunk's signed PUT URL signs
// x-goog-content-length-range at the chunk's size, and the service hands
// the header to the client with the URL; GCS refuses a body of another
// size. fake-gcs-server checks neither signatures nor that header and
// stores the oversized chunk, so here the commit carries the bound: it
// measures the stored chunk and refuses it, counting nothing.
func TestStorageChunkURLBoundsSize(t *testing.T) {
	endpoint := startServer(t, "memory")
	f := storagetest.SignedURLRoundTrips(t, "GCS", signingStore(t, endpoint), strings.TrimSuffix(endpoint, "/storage/v1/")+"/", "X-Goog-Signature")
	if status := f.ChunkSizeBound(t, nil); status/100 != 2 {
		t.Fatalf("fake-gcs-server answered %d to an oversized PUT; the test expects it stored (it enforces no signed header), leaving the commit to refuse it", status)
	}
}
