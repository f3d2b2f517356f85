package blobstore_test

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/openacquire/acquire/adapters/azure/blobstore"
	"github.com/openacquire/acquire/runtime/call"
	"github.com/openacquire/acquire/runtime/host/hosttest"
	"github.com/openacquire/acquire/runtime/identity"
	"github.com/openacquire/acquire/runtime/registry"
	"github.com/openacquire/acquire/runtime/storage"
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
	env := hosttest.Start(t, hosttest.Options{StoreURL: storeURL, Kinds: []string{registry.Kind, identity.Kind, storage.Kind}})
	if !env.Host.Storage.SignsURLs() {
		t.Fatal("the storage service does not use the store's SAS URLs on Azure")
	}
	alice := env.Users(t, "correct horse battery", "alice")["alice"]
	c := &storage.Client{C: env.Client, URL: env.Host.ServiceURL(storage.Kind)}
	ctx := t.Context()
	if _, err := c.CreateDrive(ctx, alice, "home", storage.DriveOptions{}); err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 5*storage.MinChunkBytes+123)
	r := rand.New(rand.NewPCG(3, 4))
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	if _, err := c.Upload(ctx, alice, "home", "big.bin", bytes.NewReader(b), int64(len(b)), storage.UploadOptions{ChunkBytes: storage.MinChunkBytes}); err != nil {
		t.Fatal(err)
	}
	var got bytes.Buffer
	if _, err := c.Download(ctx, alice, "home", "big.bin", &got, storage.DownloadOptions{}); err != nil || !bytes.Equal(got.Bytes(), b) {
		t.Fatalf("download: %v (identical: %v)", err, bytes.Equal(got.Bytes(), b))
	}
	dl, err := c.OpenFile(ctx, alice, "home", "big.bin", 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if u := dl.Chunks[0].URL; !strings.HasPrefix(u, endpoint+"/") || !strings.Contains(u, "sig=") {
		t.Fatalf("chunk URL %q is not a SAS URL of the store", u)
	}
	np, err := c.CreatePAR(ctx, alice, "home", "", storage.PARReadWrite, env.Clock.Now().Add(time.Hour))
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
	if _, err := p.Download(ctx, "out.bin", &got, storage.DownloadOptions{}); err != nil || !bytes.Equal(got.Bytes(), b) {
		t.Fatalf("PAR round trip: %v", err)
	}
}
