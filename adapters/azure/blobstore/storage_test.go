package blobstore_test

import (
	"fmt"
	"net/url"
	"testing"

	"github.com/openacquire/acquire/adapters/azure/blobstore"
	"github.com/openacquire/acquire/runtime/storage/storagetest"
)

// TestStorageSAS runs the storage service on an Azurite container: chunk
// bytes go straight between the client and the store through SAS URLs
// (Bucket.SignedURL), for a user and for a PAR.
func TestStorageSAS(t *testing.T) {
	endpoint := startServer(t)
	newDriver(t, endpoint, "")
	t.Setenv(blobstore.EnvConnectionString, "DefaultEndpointsProtocol=http;AccountName="+devAccount+
		";AccountKey="+devKey+";BlobEndpoint="+endpoint+";")
	blobstore.Register()
	storeURL := fmt.Sprintf("azblob://acq-test-%04d?account=%s&endpoint=%s", containerSeq.Load(), devAccount, url.QueryEscape(endpoint))
	storagetest.SignedURLRoundTrips(t, "Azure", storeURL, endpoint+"/", "sig")
}
