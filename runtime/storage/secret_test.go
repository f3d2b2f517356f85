package storage_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/openacquire/acquire/runtime/host/hosttest"
	"github.com/openacquire/acquire/runtime/storage"
)

// TestDataURLNotSignedWithSecretHash: a chunk URL carries a MAC over text
// that is all in the URL, so its key must not be a fast hash of the typed
// secret (anyone holding one URL could walk a dictionary offline). A URL
// signed with the old key, one SHA-256 of the secret, is refused; the
// service's own still works.
func TestDataURLNotSignedWithSecretHash(t *testing.T) {
	f := start(t, "", "alice")
	alice := f.users["alice"]
	mustDrive(t, f, "alice", "d", storage.DriveOptions{})
	b := data(chunk+storage.InlineMaxBytes, 3)
	if _, err := f.c.Upload(ctx(), alice, "d", "f", bytes.NewReader(b), int64(len(b)),
		storage.UploadOptions{ChunkBytes: chunk}); err != nil {
		t.Fatal(err)
	}
	dl, err := f.c.OpenFile(ctx(), alice, "d", "f", 0, 0)
	if err != nil || len(dl.Chunks) == 0 {
		t.Fatalf("open: %+v %v", dl, err)
	}
	g := dl.Chunks[0].URL
	u, err := url.Parse(g)
	if err != nil {
		t.Fatal(err)
	}
	_, key, _ := strings.Cut(u.Path, storage.DataPath)
	q := u.Query()
	oldKey := sha256.Sum256([]byte("acquire request mac\x00" + hosttest.Secret))
	m := hmac.New(sha256.New, oldKey[:])
	m.Write([]byte("acquire-storage-data-v2\n" + http.MethodGet + "\n" + key + "\n" + q.Get("exp") + "\n" + q.Get("size") + "\n" + q.Get("who")))
	old := hex.EncodeToString(m.Sum(nil))
	if q.Get("sig") == old {
		t.Fatal("the chunk URL is signed with one SHA-256 of the service secret")
	}
	if got := status(t, http.MethodGet, tamper(t, g, "sig", old), nil, ""); got != http.StatusForbidden {
		t.Fatalf("GET signed with the SHA-256 of the secret: %d, want 403", got)
	}
	if got := status(t, http.MethodGet, g, nil, ""); got != http.StatusOK {
		t.Fatalf("GET as signed: %d", got)
	}
}
