package s3store_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/openacquire/acquire/adapters/aws/s3store"
	"github.com/openacquire/acquire/runtime/call"
	"github.com/openacquire/acquire/runtime/host/hosttest"
	"github.com/openacquire/acquire/runtime/identity"
	"github.com/openacquire/acquire/runtime/registry"
	"github.com/openacquire/acquire/runtime/storage"
)

// TestStorageSignedURLs runs the storage service on an S3 bucket served by
// versitygw: chunk bytes go straight between the client and the store
// through presigned URLs (Bucket.SignedURL), never through the host. A
// multi-chunk file and a PAR upload round-trip; a tampered URL is refused
// by the store itself.
func TestStorageSignedURLs(t *testing.T) {
	endpoint := startServer(t)
	newDriver(t, endpoint, "")
	s3store.Register()
	t.Setenv("AWS_ACCESS_KEY_ID", serverAccess)
	t.Setenv("AWS_SECRET_ACCESS_KEY", serverSecret)
	t.Setenv("AWS_CONFIG_FILE", "/dev/null")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
	storeURL := fmt.Sprintf("s3://acq-test-%04d?region=us-east-1&path_style=true&endpoint=%s", bucketSeq.Load(), url.QueryEscape(endpoint))
	env := hosttest.Start(t, hosttest.Options{StoreURL: storeURL, Kinds: []string{registry.Kind, identity.Kind, storage.Kind}})
	if !env.Host.Storage.SignsURLs() {
		t.Fatal("the storage service does not use the store's signed URLs on S3")
	}
	alice := env.Users(t, "correct horse battery", "alice")["alice"]
	c := &storage.Client{C: env.Client, URL: env.Host.ServiceURL(storage.Kind)}
	ctx := t.Context()
	if _, err := c.CreateDrive(ctx, alice, "home", storage.DriveOptions{}); err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 5*storage.MinChunkBytes+123)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	fv, err := c.Upload(ctx, alice, "home", "big.bin", bytes.NewReader(b), int64(len(b)), storage.UploadOptions{ChunkBytes: storage.MinChunkBytes})
	if err != nil {
		t.Fatal(err)
	}
	want := sha256.Sum256(b)
	if fv.Chunks != 6 || fv.SHA256 != hex.EncodeToString(want[:]) {
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
	u := dl.Chunks[0].URL
	if !strings.HasPrefix(u, endpoint+"/") || !strings.Contains(u, "X-Amz-Signature=") {
		t.Fatalf("chunk URL %q is not a presigned URL of the store", u)
	}
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
	got.Reset()
	if _, err := c.Download(ctx, alice, "home", "resumed.bin", &got, storage.DownloadOptions{}); err != nil || !bytes.Equal(got.Bytes(), b) {
		t.Fatalf("resumed upload round trip: %v", err)
	}

	// A write PAR used without a session, its chunks through signed URLs too.
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

type failing struct{}

func (failing) Read([]byte) (int, error) { return 0, errors.New("disk unplugged") }
