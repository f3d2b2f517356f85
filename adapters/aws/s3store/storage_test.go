package s3store_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/openacquire/acquire/adapters/aws/s3store"
	"github.com/openacquire/acquire/runtime/storage"
	"github.com/openacquire/acquire/runtime/storage/storagetest"
)

// TestStorageSignedURLs runs the storage service on an S3 bucket served by
// versitygw: chunk bytes go straight between the client and the store
// through presigned URLs (Bucket.SignedURL), never through the host. A
// multi-chunk file and a PAR upload round-trip; a tampered URL is refused
// by the store itself; an interrupted upload resumes from the store's
// listing.
func TestStorageSignedURLs(t *testing.T) {
	endpoint := startServer(t)
	newDriver(t, endpoint, "")
	s3store.Register()
	t.Setenv("AWS_ACCESS_KEY_ID", serverAccess)
	t.Setenv("AWS_SECRET_ACCESS_KEY", serverSecret)
	t.Setenv("AWS_CONFIG_FILE", "/dev/null")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
	storeURL := fmt.Sprintf("s3://acq-test-%04d?region=us-east-1&path_style=true&endpoint=%s", bucketSeq.Load(), url.QueryEscape(endpoint))
	f := storagetest.SignedURLRoundTrips(t, "S3", storeURL, endpoint+"/", "X-Amz-Signature")
	c, alice, b, ctx := f.C, f.Alice, f.Data, t.Context()
	dl, err := c.OpenFile(ctx, alice, "home", "big.bin", 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	u := dl.Chunks[0].URL
	tampered := strings.Replace(u, "/000000?", "/000001?", 1)
	for name, raw := range map[string]string{"signed": u, "tampered": tampered} {
		resp, err := http.Get(raw)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		if ok := resp.StatusCode == http.StatusOK; ok != (name == "signed") {
			t.Fatalf("%s URL: %s", name, resp.Status)
		}
	}

	// An interrupted upload resumes: the store's listing shows what landed.
	c.Parallel = 1
	_, err = c.Upload(ctx, alice, "home", "resumed.bin", io.MultiReader(bytes.NewReader(b[:2*storage.MinChunkBytes+5]), failing{}),
		int64(len(b)), storage.UploadOptions{ChunkBytes: storage.MinChunkBytes})
	var ue *storage.UploadError
	if !errors.As(err, &ue) {
		t.Fatalf("interrupted upload: %v", err)
	}
	if st, err := c.UploadStatus(ctx, alice, ue.Upload); err != nil || len(st.Present) != 2 {
		t.Fatalf("status after 2 chunks: %+v %v", st, err)
	}
	if _, err := c.Upload(ctx, alice, "home", "resumed.bin", bytes.NewReader(b), int64(len(b)), storage.UploadOptions{Resume: ue.Upload}); err != nil {
		t.Fatal(err)
	}
	f.MustDownload(t, "resumed.bin")
}

type failing struct{}

func (failing) Read([]byte) (int, error) { return 0, errors.New("disk unplugged") }
