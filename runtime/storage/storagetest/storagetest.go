// Package storagetest runs the storage service on a store whose driver
// signs URLs, the same way for every such adapter (S3, GCS, Azure): the
// chunk bytes go between the client and the store, never through the host.
// Adapters' tests call SignedURLRoundTrips against their real server and
// add the checks only their store can make.
package storagetest

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/openacquire/acquire/runtime/call"
	"github.com/openacquire/acquire/runtime/host/hosttest"
	"github.com/openacquire/acquire/runtime/identity"
	"github.com/openacquire/acquire/runtime/registry"
	"github.com/openacquire/acquire/runtime/storage"
)

// Fixture is a host serving the storage service on the store, a user with
// a drive "home" holding "big.bin" (Data, uploaded in chunks), and the
// client that put it there.
type Fixture struct {
	Env   *hosttest.Env
	C     *storage.Client
	Alice *identity.Session
	Data  []byte
}

// SignedURLRoundTrips starts a host on storeURL, checks that the storage
// service uses the store's signed URLs, uploads a multi-chunk file as a
// user and downloads it byte-identical, checks that its chunk URL is the
// store's (it starts with urlPrefix and carries the query parameter
// sigParam), and round-trips the same bytes through a read-write PAR,
// without a session. store names the store in failure messages.
func SignedURLRoundTrips(t *testing.T, store, storeURL, urlPrefix, sigParam string) *Fixture {
	t.Helper()
	env := hosttest.Start(t, hosttest.Options{StoreURL: storeURL, Kinds: []string{registry.Kind, identity.Kind, storage.Kind}})
	if !env.Host.Storage.SignsURLs() {
		t.Fatalf("the storage service does not use the store's signed URLs on %s", store)
	}
	f := &Fixture{Env: env, C: &storage.Client{C: env.Client, URL: env.Host.ServiceURL(storage.Kind)},
		Alice: env.Users(t, "correct horse battery", "alice")["alice"], Data: make([]byte, 5*storage.MinChunkBytes+123)}
	ctx := t.Context()
	if _, err := f.C.CreateDrive(ctx, f.Alice, "home", storage.DriveOptions{}); err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(1, 2))
	for i := range f.Data {
		f.Data[i] = byte(r.Uint32())
	}
	chunked := storage.UploadOptions{ChunkBytes: storage.MinChunkBytes}
	fv, err := f.C.Upload(ctx, f.Alice, "home", "big.bin", bytes.NewReader(f.Data), int64(len(f.Data)), chunked)
	if err != nil {
		t.Fatal(err)
	}
	want := sha256.Sum256(f.Data)
	if fv.Inline || fv.Chunks != 6 || fv.SHA256 != hex.EncodeToString(want[:]) {
		t.Fatalf("version %+v", fv)
	}
	f.mustRead(t, "download", func(w *bytes.Buffer) error {
		_, err := f.C.Download(ctx, f.Alice, "home", "big.bin", w, storage.DownloadOptions{})
		return err
	})
	dl, err := f.C.OpenFile(ctx, f.Alice, "home", "big.bin", 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if u := dl.Chunks[0].URL; !strings.HasPrefix(u, urlPrefix) || !strings.Contains(u, sigParam+"=") {
		t.Fatalf("chunk URL %q is not a signed URL of %s", u, store)
	}
	np, err := f.C.CreatePAR(ctx, f.Alice, "home", "", storage.PARReadWrite, env.Clock.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	pc := call.NewClient(&call.MemoryPins{})
	pc.Clock = env.Clock.Now
	p, err := storage.OpenPAR(pc, np.Link)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Upload(ctx, "out.bin", bytes.NewReader(f.Data), int64(len(f.Data)), chunked); err != nil {
		t.Fatal(err)
	}
	f.mustRead(t, "PAR round trip", func(w *bytes.Buffer) error {
		_, err := p.Download(ctx, "out.bin", w, storage.DownloadOptions{})
		return err
	})
	return f
}

// mustRead fails unless read writes exactly Data.
func (f *Fixture) mustRead(t *testing.T, what string, read func(*bytes.Buffer) error) {
	t.Helper()
	var got bytes.Buffer
	if err := read(&got); err != nil || !bytes.Equal(got.Bytes(), f.Data) {
		t.Fatalf("%s: %v (identical: %v)", what, err, bytes.Equal(got.Bytes(), f.Data))
	}
}

// MustDownload fails unless the user's file name holds exactly Data.
func (f *Fixture) MustDownload(t *testing.T, name string) {
	t.Helper()
	f.mustRead(t, "download of "+name, func(w *bytes.Buffer) error {
		_, err := f.C.Download(t.Context(), f.Alice, "home", name, w, storage.DownloadOptions{})
		return err
	})
}
