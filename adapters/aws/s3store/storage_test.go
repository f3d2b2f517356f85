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

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

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
	f, _ := storageFixture(t)
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

// storageFixture runs the storage service on a fresh bucket of a fresh
// versitygw and answers the fixture and a driver on the same bucket.
func storageFixture(t *testing.T) (*storagetest.Fixture, *s3store.Driver) {
	t.Helper()
	endpoint := startServer(t)
	d := newDriver(t, endpoint, "")
	s3store.Register()
	t.Setenv("AWS_ACCESS_KEY_ID", serverAccess)
	t.Setenv("AWS_SECRET_ACCESS_KEY", serverSecret)
	t.Setenv("AWS_CONFIG_FILE", "/dev/null")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
	storeURL := fmt.Sprintf("s3://acq-test-%04d?region=us-east-1&path_style=true&endpoint=%s", bucketSeq.Load(), url.QueryEscape(endpoint))
	return storagetest.SignedURLRoundTrips(t, "S3", storeURL, endpoint+"/", "X-Amz-Signature"), d
}

// TestStorageChunkURLBoundsSize: a chunk's presigned PUT URL signs its
// Content-Length, so versitygw refuses a body larger than the chunk the
// upload declared (quota and billing count declared sizes); and should an
// S3-compatible server not enforce that, the commit measures the stored
// chunk and refuses it: here the oversized chunk is written with the
// bucket's own credentials, unframed, as a signed PUT would store it.
func TestStorageChunkURLBoundsSize(t *testing.T) {
	f, d := storageFixture(t)
	status := f.ChunkSizeBound(t, func(chunkURL string, body []byte) {
		u, err := url.Parse(chunkURL)
		if err != nil {
			t.Fatal(err)
		}
		bucket, key, _ := strings.Cut(strings.TrimPrefix(u.Path, "/"), "/")
		if _, err := d.Client().PutObject(t.Context(), &s3.PutObjectInput{Bucket: &bucket, Key: &key, Body: bytes.NewReader(body),
			ContentLength: aws.Int64(int64(len(body)))}); err != nil {
			t.Fatal(err)
		}
	})
	if status != http.StatusForbidden {
		t.Fatalf("versitygw answered %d to an oversized PUT through a chunk URL; want 403 (Content-Length is signed)", status)
	}
}
