package blobstore_test

import (
	"fmt"
	"net/http"
	"net/url"
	"testing"

	"github.com/openacquire/acquire/adapters/azure/blobstore"
	"github.com/openacquire/acquire/runtime/storage/storagetest"
)

// TestStorageSAS runs the storage service on an Azurite container: chunk
// bytes go straight between the client and the store through SAS URLs
// (Bucket.SignedURL), for a user and for a PAR.
func TestStorageSAS(t *testing.T) {
	storageFixture(t)
}

func storageFixture(t *testing.T) *storagetest.Fixture {
	t.Helper()
	endpoint := startServer(t)
	newDriver(t, endpoint, "")
	t.Setenv(blobstore.EnvConnectionString, "DefaultEndpointsProtocol=http;AccountName="+devAccount+
		";AccountKey="+devKey+";BlobEndpoint="+endpoint+";")
	blobstore.Register()
	storeURL := fmt.Sprintf("azblob://acq-test-%04d?account=%s&endpoint=%s", containerSeq.Load(), devAccount, url.QueryEscape(endpoint))
	return storagetest.SignedURLRoundTrips(t, "Azure", storeURL, endpoint+"/", "sig")
}

// TestStorageChunkURLBoundsSize: a SAS cannot bound a body's size, so
// Azurite (like Azure) stores a chunk larger than the upload declared; the
// commit measures the stored chunk and refuses it, counting nothing (quota
// and billing count declared sizes).
func TestStorageChunkURLBoundsSize(t *testing.T) {
	f := storageFixture(t)
	if status := f.ChunkSizeBound(t, nil); status != http.StatusCreated {
		t.Fatalf("Azurite answered %d to an oversized PUT through a SAS; the test expects it stored (201), leaving the commit to refuse it", status)
	}
}
