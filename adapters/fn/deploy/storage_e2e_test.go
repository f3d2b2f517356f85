package deploy_test

import (
	"bytes"
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	gcs "cloud.google.com/go/storage"
	"google.golang.org/api/option"

	"github.com/openacquire/acquire/adapters/deployer"
	"github.com/openacquire/acquire/adapters/fn/deploy"
	"github.com/openacquire/acquire/adapters/functiontest"
	"github.com/openacquire/acquire/adapters/servertest"
	"github.com/openacquire/acquire/runtime/call"
	"github.com/openacquire/acquire/runtime/crypto"
	"github.com/openacquire/acquire/runtime/identity"
	"github.com/openacquire/acquire/runtime/storage"
)

// Storage runs on Fn (issue 20): its calls go through the /storage
// trigger, and the data URLs it serves itself (its store cannot sign
// URLs: fake-gcs-server without a signer) carry their key in the query,
// so every chunk goes through the one exact trigger /storage/data. A file
// of several chunks goes up and comes back whole through the simulated
// Fn server's exact-path triggers; a data URL whose key is changed is
// refused, and the path form (which Fn could not route) is not answered.
// Not run on a real Fn server.
func TestStorageOnFnThroughExactTriggers(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	base := servertest.Start(t, servertest.FakeGCS("memory"))
	endpoint := base + "/storage/v1/"
	gc, err := gcs.NewClient(ctx, option.WithEndpoint(endpoint), option.WithoutAuthentication())
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = gc.Close() }()
	if err := gc.Bucket("fn-store").Create(ctx, "p", nil); err != nil {
		t.Fatal(err)
	}
	r := newRig(t)
	r.api.RunFunctions(t)
	storeURL := "gs://fn-store?anonymous=true&endpoint=" + url.QueryEscape(endpoint)
	dep, err := r.d.Create(ctx, deployer.Spec{Name: "acq-files", Kinds: []string{"identity", "storage"}, Artifact: r.artifact,
		Secret: functiontest.Secret, Settings: map[string]string{deploy.SettingStoreURL: storeURL}})
	if err != nil {
		t.Fatal(err)
	}
	var sources []string
	for _, f := range r.api.Fns() {
		if f.Config["ACQUIRE_STORAGE_DATA_URL"] != "query" {
			t.Errorf("the function is not told to put data keys in the query: %v", f.Config["ACQUIRE_STORAGE_DATA_URL"])
		}
	}
	for _, tr := range r.api.Triggers() {
		sources = append(sources, tr.Source)
	}
	if !strings.Contains(strings.Join(sources, " "), "/storage/data") {
		t.Fatalf("no /storage/data trigger among %v", sources)
	}

	c := call.NewClient(&call.MemoryPins{})
	session := login(ctx, t, c, dep.URL+"/identity")
	sc := &storage.Client{C: c, URL: dep.URL + "/storage"}
	if _, err := sc.CreateDrive(ctx, session, "docs", storage.DriveOptions{}); err != nil {
		t.Fatal(err)
	}
	file := bytes.Repeat([]byte("acquire on fn "), (3*storage.MinChunkBytes+storage.InlineMaxBytes)/14) // chunked, not inline
	if _, err := sc.Upload(ctx, session, "docs", "big.bin", bytes.NewReader(file), int64(len(file)),
		storage.UploadOptions{ChunkBytes: storage.MinChunkBytes}); err != nil {
		t.Fatalf("upload through Fn's triggers: %v", err)
	}
	var got bytes.Buffer
	if _, err := sc.Download(ctx, session, "docs", "big.bin", &got, storage.DownloadOptions{}); err != nil {
		t.Fatalf("download through Fn's triggers: %v", err)
	}
	if !bytes.Equal(got.Bytes(), file) {
		t.Fatalf("downloaded %d bytes, uploaded %d", got.Len(), len(file))
	}

	dl, err := sc.OpenFile(ctx, session, "docs", "big.bin", 0, 0)
	if err != nil || dl == nil || len(dl.Chunks) < 2 {
		if dl != nil {
			t.Fatalf("open: %d chunks, inline %v", len(dl.Chunks), dl.File.Inline)
		}
		t.Fatalf("open: %v", err)
	}
	u, err := url.Parse(dl.Chunks[0].URL)
	if err != nil || u.Path != "/t/acq-files/storage/data" || u.Query().Get("key") == "" {
		t.Fatalf("chunk URL %s: not the one data trigger with the key in the query", dl.Chunks[0].URL)
	}
	if code := get(t, dl.Chunks[0].URL); code != http.StatusOK {
		t.Fatalf("GET of a chunk URL: %d", code)
	}
	other, _ := url.Parse(dl.Chunks[1].URL)
	q := u.Query()
	q.Set("key", other.Query().Get("key")) // another chunk's key under this one's signature
	u.RawQuery = q.Encode()
	if code := get(t, u.String()); code != http.StatusForbidden {
		t.Errorf("a chunk URL with another key: %d, want 403", code)
	}
	pathForm := dep.URL + "/storage/data/" + other.Query().Get("key") + "?" + other.RawQuery
	if code := get(t, pathForm); code != http.StatusNotFound {
		t.Errorf("the path form through Fn: %d, want 404 (no trigger matches)", code)
	}
}

func get(t *testing.T, u string) int {
	t.Helper()
	resp, err := http.Get(u) //nolint:gosec,noctx // the test's own URL
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	return resp.StatusCode
}

// login registers a user at idURL and logs in with a one-time code.
func login(ctx context.Context, t *testing.T, c *call.Client, idURL string) *identity.Session {
	t.Helper()
	id := &identity.Client{C: c, URL: idURL}
	reg, err := id.Register(ctx, "fiona", "Correct horse 42")
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(reg.ProvisioningURI)
	code, err := crypto.TOTPCode(u.Query().Get("secret"), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	s, _, err := id.Login(ctx, "fiona", "Correct horse 42", identity.LoginOptions{OTP: code})
	if err != nil {
		t.Fatal(err)
	}
	return s
}
