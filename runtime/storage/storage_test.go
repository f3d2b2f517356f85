package storage_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/openacquire/acquire/runtime/call"
	"github.com/openacquire/acquire/runtime/host/hosttest"
	"github.com/openacquire/acquire/runtime/identity"
	"github.com/openacquire/acquire/runtime/registry"
	"github.com/openacquire/acquire/runtime/storage"
)

const pw = "correct horse battery"

// small chunks keep the tests fast; multi-chunk files stay small.
const chunk = storage.MinChunkBytes

var kinds = []string{registry.Kind, identity.Kind, storage.Kind}

type fixture struct {
	env   *hosttest.Env
	c     *storage.Client
	users map[string]*identity.Session
	puts  atomic.Int64 // chunk PUTs sent through c.HTTP
	gets  atomic.Int64
}

// countingTransport counts chunk requests (envelope calls use another client).
type countingTransport struct {
	f    *fixture
	base http.RoundTripper
}

func (t *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	switch r.Method {
	case http.MethodPut:
		t.f.puts.Add(1)
	case http.MethodGet:
		t.f.gets.Add(1)
	}
	return t.base.RoundTrip(r)
}

func start(t testing.TB, storeURL string, names ...string) *fixture {
	t.Helper()
	env := hosttest.Start(t, hosttest.Options{Kinds: kinds, StoreURL: storeURL})
	f := &fixture{env: env}
	f.c = &storage.Client{C: env.Client, URL: env.Host.ServiceURL(storage.Kind)}
	f.c.HTTP = &http.Client{Transport: &countingTransport{f: f, base: http.DefaultTransport}}
	f.users = env.Users(t, pw, names...)
	return f
}

func ctx() context.Context { return context.Background() }

func data(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 1))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func crc(b []byte) string {
	return fmt.Sprintf("%08x", crc32.Checksum(b, crc32.MakeTable(crc32.Castagnoli)))
}

func sum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func mustDrive(t *testing.T, f *fixture, user, drive string, o storage.DriveOptions) *storage.DriveInfo {
	t.Helper()
	d, err := f.c.CreateDrive(ctx(), f.users[user], drive, o)
	if err != nil {
		t.Fatalf("create drive %s: %v", drive, err)
	}
	return d
}

func upload(t *testing.T, f *fixture, user, drive, name string, b []byte) *storage.FileVersion {
	t.Helper()
	fv, err := f.c.Upload(ctx(), f.users[user], drive, name, bytes.NewReader(b), int64(len(b)), storage.UploadOptions{ChunkBytes: chunk})
	if err != nil {
		t.Fatalf("upload %s/%s: %v", drive, name, err)
	}
	return fv
}

func download(t *testing.T, f *fixture, user, drive, name string, version int64) ([]byte, *storage.FileVersion) {
	t.Helper()
	var buf bytes.Buffer
	fv, err := f.c.Download(ctx(), f.users[user], drive, name, &buf, storage.DownloadOptions{Version: version})
	if err != nil {
		t.Fatalf("download %s/%s v%d: %v", drive, name, version, err)
	}
	return buf.Bytes(), fv
}

func wantClass(t *testing.T, err error, class *call.Error) {
	t.Helper()
	if !errors.Is(err, class) {
		t.Fatalf("got %v, want %s", err, class.Class)
	}
}

// TestRoundTrips: every size class comes back byte-identical, with its
// metadata, on local files and in memory (both through the host-served
// data path, since neither store signs URLs).
func TestRoundTrips(t *testing.T) {
	for _, store := range []string{"file://" + t.TempDir(), ""} {
		t.Run(map[bool]string{true: "file", false: "mem"}[store != ""], func(t *testing.T) {
			f := start(t, store, "alice")
			mustDrive(t, f, "alice", "home", storage.DriveOptions{})
			sizes := []int{0, 1, storage.InlineMaxBytes - 1, storage.InlineMaxBytes, storage.InlineMaxBytes + 1, 5*chunk + 123}
			for i, n := range sizes {
				b := data(n, uint64(i))
				name := fmt.Sprintf("f%d.bin", n)
				var progressed int64
				fv, err := f.c.Upload(ctx(), f.users["alice"], "home", name, bytes.NewReader(b), int64(n),
					storage.UploadOptions{ChunkBytes: chunk, Progress: func(done, total int64) {
						if total != int64(n) || done < progressed {
							t.Errorf("progress %d/%d after %d", done, total, progressed)
						}
						progressed = done
					}})
				if err != nil {
					t.Fatalf("%d bytes: %v", n, err)
				}
				if fv.Size != int64(n) || fv.SHA256 != sum(b) || fv.Version != 1 || fv.UploadedBy.UserUID != f.users["alice"].UserUID ||
					fv.Time.IsZero() || fv.Inline != (n <= storage.InlineMaxBytes) {
					t.Fatalf("%d bytes: metadata %+v", n, fv)
				}
				if n > 0 && progressed != int64(n) {
					t.Fatalf("%d bytes: progress ended at %d", n, progressed)
				}
				got, gv := download(t, f, "alice", "home", name, 0)
				if !bytes.Equal(got, b) || gv.SHA256 != sum(b) {
					t.Fatalf("%d bytes: downloaded %d bytes, not identical", n, len(got))
				}
			}
			if f.puts.Load() != 5+6 { // the two chunked files: 5 and 6 chunks
				t.Fatalf("%d chunk PUTs, want 11", f.puts.Load())
			}
		})
	}
}

func TestVersionsInOrder(t *testing.T) {
	f := start(t, "", "alice")
	mustDrive(t, f, "alice", "home", storage.DriveOptions{})
	var contents [][]byte
	for i := range 3 {
		b := data(10+i*(storage.InlineMaxBytes), uint64(i)) // inline, then chunked twice
		contents = append(contents, b)
		if fv := upload(t, f, "alice", "home", "/docs/./report.txt", b); fv.Version != int64(i+1) || fv.Name != "docs/report.txt" {
			t.Fatalf("upload %d: %+v", i, fv)
		}
	}
	vl, err := f.c.ListVersions(ctx(), f.users["alice"], "home", "docs/report.txt", "", 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(vl.Versions) != 3 {
		t.Fatalf("%d versions", len(vl.Versions))
	}
	for i, v := range vl.Versions {
		if v.Version != int64(i+1) || v.SHA256 != sum(contents[i]) {
			t.Fatalf("version %d: %+v", i, v)
		}
		got, _ := download(t, f, "alice", "home", "docs/report.txt", v.Version)
		if !bytes.Equal(got, contents[i]) {
			t.Fatalf("version %d content differs", v.Version)
		}
	}
	// Paged: two, then the third.
	p1, err := f.c.ListVersions(ctx(), f.users["alice"], "home", "docs/report.txt", "", 2)
	if err != nil || len(p1.Versions) != 2 || p1.Next == "" {
		t.Fatalf("page 1: %+v %v", p1, err)
	}
	p2, err := f.c.ListVersions(ctx(), f.users["alice"], "home", "docs/report.txt", p1.Next, 2)
	if err != nil || len(p2.Versions) != 1 || p2.Versions[0].Version != 3 || p2.Next != "" {
		t.Fatalf("page 2: %+v %v", p2, err)
	}
	latest, _ := download(t, f, "alice", "home", "docs/report.txt", 0)
	if !bytes.Equal(latest, contents[2]) {
		t.Fatal("latest is not the last upload")
	}
	fl, err := f.c.ListFiles(ctx(), f.users["alice"], "home", "", 0)
	if err != nil || len(fl.Files) != 1 || fl.Files[0].Version != 3 {
		t.Fatalf("list files: %+v %v", fl, err)
	}
	upload(t, f, "alice", "home", "docs2.txt", []byte("beside docs/"))
	upload(t, f, "alice", "home", "docs/a/b.txt", []byte("under docs/"))
	for prefix, want := range map[string][]string{"docs/": {"docs/a/b.txt", "docs/report.txt"}, "docs": {"docs/a/b.txt", "docs/report.txt", "docs2.txt"},
		"/docs/a": {"docs/a/b.txt"}, "": {"docs/a/b.txt", "docs/report.txt", "docs2.txt"}, "nothing": nil} {
		fl, err := f.c.ListFilesUnder(ctx(), f.users["alice"], "home", prefix, "", 0)
		var got []string
		for _, fv := range fl.Files {
			got = append(got, fv.Name)
		}
		if err != nil || fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("list under %q: %v %v, want %v", prefix, got, err, want)
		}
	}
}

// TestConcurrentUploads: two uploads to one name at once both become versions.
func TestConcurrentUploads(t *testing.T) {
	f := start(t, "file://"+t.TempDir(), "alice")
	mustDrive(t, f, "alice", "home", storage.DriveOptions{})
	a, b := data(3*chunk, 1), data(3*chunk+7, 2)
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, content := range [][]byte{a, b} {
		wg.Go(func() {
			_, errs[i] = f.c.Upload(ctx(), f.users["alice"], "home", "same.bin", bytes.NewReader(content), int64(len(content)),
				storage.UploadOptions{ChunkBytes: chunk})
		})
	}
	wg.Wait()
	if errs[0] != nil || errs[1] != nil {
		t.Fatal(errs)
	}
	vl, err := f.c.ListVersions(ctx(), f.users["alice"], "home", "same.bin", "", 0)
	if err != nil || len(vl.Versions) != 2 {
		t.Fatalf("versions: %+v %v", vl, err)
	}
	seen := map[string]bool{}
	for _, v := range vl.Versions {
		got, _ := download(t, f, "alice", "home", "same.bin", v.Version)
		seen[sum(got)] = true
	}
	if !seen[sum(a)] || !seen[sum(b)] {
		t.Fatal("both uploads are not kept as versions")
	}
}

// failingReader gives its bytes until after, then fails.
type failingReader struct {
	r     io.Reader
	after int64
	n     int64
}

func (f *failingReader) Read(p []byte) (int, error) {
	if f.n >= f.after {
		return 0, errors.New("disk unplugged")
	}
	p = p[:min(int64(len(p)), f.after-f.n)]
	n, err := f.r.Read(p)
	f.n += int64(n)
	return n, err
}

// TestResume: an upload interrupted after some chunks is resumed by id;
// only the missing chunks are sent again, and the file comes back whole.
func TestResume(t *testing.T) {
	f := start(t, "file://"+t.TempDir(), "alice")
	mustDrive(t, f, "alice", "home", storage.DriveOptions{})
	b := data(10*chunk+5, 9)
	var began storage.Upload
	f.c.Parallel = 1 // the reader fails after 4 chunks; with one in flight exactly 4 land
	_, err := f.c.Upload(ctx(), f.users["alice"], "home", "big.bin", &failingReader{r: bytes.NewReader(b), after: 4*chunk + 100},
		int64(len(b)), storage.UploadOptions{ChunkBytes: chunk, OnBegin: func(u storage.Upload) { began = u }})
	var ue *storage.UploadError
	if !errors.As(err, &ue) || ue.Upload != began.ID || began.Chunks != 11 {
		t.Fatalf("interrupted upload: %v (began %+v)", err, began)
	}
	st, err := f.c.UploadStatus(ctx(), f.users["alice"], ue.Upload)
	if err != nil || len(st.Present) != 4 || st.State != storage.UploadOpen {
		t.Fatalf("status: %+v %v", st, err)
	}
	for i := range 4 {
		if st.Present[i].CRC32C != crc(b[i*chunk:(i+1)*chunk]) {
			t.Fatalf("chunk %d's recorded hash is wrong", i)
		}
	}
	before := f.puts.Load()
	fv, err := f.c.Upload(ctx(), f.users["alice"], "home", "big.bin", bytes.NewReader(b), int64(len(b)),
		storage.UploadOptions{Resume: ue.Upload})
	if err != nil {
		t.Fatal(err)
	}
	if sent := f.puts.Load() - before; sent != 7 {
		t.Fatalf("resume sent %d chunks, want the 7 missing", sent)
	}
	if got, _ := download(t, f, "alice", "home", "big.bin", 0); !bytes.Equal(got, b) || fv.SHA256 != sum(b) {
		t.Fatal("resumed file differs")
	}
	// Resuming a committed upload (its answer was lost, say) sends nothing
	// and answers the same version: an upload never becomes two versions.
	before = f.puts.Load()
	again, err := f.c.Upload(ctx(), f.users["alice"], "home", "big.bin", bytes.NewReader(b), int64(len(b)),
		storage.UploadOptions{Resume: ue.Upload})
	if err != nil || again.Version != fv.Version || f.puts.Load() != before {
		t.Fatalf("resuming a committed upload: %+v %v (%d PUTs)", again, err, f.puts.Load()-before)
	}
}

// TestAbandonedUploadSwept: the host's sweep removes an upload left
// unfinished past its expiry, chunks and all.
func TestAbandonedUploadSwept(t *testing.T) {
	f := start(t, "", "alice")
	mustDrive(t, f, "alice", "home", storage.DriveOptions{})
	b := data(5*chunk, 3)
	f.c.Parallel = 1
	_, err := f.c.Upload(ctx(), f.users["alice"], "home", "x", &failingReader{r: bytes.NewReader(b), after: chunk + 1},
		int64(len(b)), storage.UploadOptions{ChunkBytes: chunk})
	var ue *storage.UploadError
	if !errors.As(err, &ue) {
		t.Fatal(err)
	}
	f.env.Host.Sweep(ctx())
	if _, err := f.c.UploadStatus(ctx(), f.users["alice"], ue.Upload); err != nil {
		t.Fatalf("swept before its expiry: %v", err)
	}
	if items, err := f.env.Host.Service(storage.Kind).Bucket().ListAll(ctx(), "storage/blobs/", 100); err != nil || len(items) == 0 {
		t.Fatalf("the interrupted upload stored no chunk to sweep: %d %v", len(items), err)
	}
	f.env.Clock.Advance(storage.UploadLife + storage.UploadSweepGrace + time.Minute)
	f.env.Host.Sweep(ctx())
	// The session has expired by now; log in again to ask.
	u := f.env.Users(t, pw, "alice2")["alice2"]
	_, err = f.c.UploadStatus(ctx(), u, ue.Upload)
	wantClass(t, err, call.ErrNotFound)
	items, err := f.env.Host.Service(storage.Kind).Bucket().ListAll(ctx(), "storage/blobs/", 100)
	if err != nil || len(items) != 0 {
		t.Fatalf("chunks left behind: %d %v", len(items), err)
	}
}

func TestQuota(t *testing.T) {
	f := start(t, "", "alice")
	mustDrive(t, f, "alice", "small", storage.DriveOptions{MaxBytes: 3 * chunk})
	upload(t, f, "alice", "small", "a", data(2*chunk, 1))
	for _, n := range []int{2 * chunk, chunk + 1} { // chunked (refused at begin) and inline (refused at commit)
		_, err := f.c.Upload(ctx(), f.users["alice"], "small", "b", bytes.NewReader(data(n, 2)), int64(n), storage.UploadOptions{ChunkBytes: chunk})
		wantClass(t, err, storage.ErrQuotaExceeded)
	}
	info, err := f.c.GetDrive(ctx(), f.users["alice"], "small")
	if err != nil || info.UsageBytes != 2*chunk {
		t.Fatalf("usage after refusals: %+v %v", info, err)
	}
	if _, err := f.c.ListVersions(ctx(), f.users["alice"], "small", "b", "", 0); !errors.Is(err, call.ErrNotFound) {
		t.Fatalf("a refused upload left a version: %v", err)
	}
	upload(t, f, "alice", "small", "c", data(chunk, 3)) // exactly fills it
}

func TestDelete(t *testing.T) {
	f := start(t, "", "alice")
	mustDrive(t, f, "alice", "keep", storage.DriveOptions{})
	v1 := data(2*chunk+1, 1)
	upload(t, f, "alice", "keep", "f", v1)
	tomb, err := f.c.DeleteFile(ctx(), f.users["alice"], "keep", "f", nil)
	if err != nil || !tomb.Deleted || tomb.Version != 2 {
		t.Fatalf("delete (keep): %+v %v", tomb, err)
	}
	_, err = f.c.Download(ctx(), f.users["alice"], "keep", "f", io.Discard, storage.DownloadOptions{})
	wantClass(t, err, storage.ErrFileDeleted)
	if got, _ := download(t, f, "alice", "keep", "f", 1); !bytes.Equal(got, v1) {
		t.Fatal("version 1 lost by a keeping delete")
	}
	if fl, _ := f.c.ListFiles(ctx(), f.users["alice"], "keep", "", 0); len(fl.Files) != 0 {
		t.Fatalf("a deleted file is listed: %+v", fl.Files)
	}
	// Purge, overriding the drive's rule: every version and chunk goes.
	purge := true
	if _, err := f.c.DeleteFile(ctx(), f.users["alice"], "keep", "f", &purge); err != nil {
		t.Fatal(err)
	}
	_, err = f.c.ListVersions(ctx(), f.users["alice"], "keep", "f", "", 0)
	wantClass(t, err, call.ErrNotFound)
	info, _ := f.c.GetDrive(ctx(), f.users["alice"], "keep")
	blobs, _ := f.env.Host.Service(storage.Kind).Bucket().ListAll(ctx(), "storage/blobs/", 100)
	if info.UsageBytes != 0 || len(blobs) != 0 {
		t.Fatalf("after purge: usage %d, %d chunks", info.UsageBytes, len(blobs))
	}
	// A purging drive purges by default.
	mustDrive(t, f, "alice", "scratch", storage.DriveOptions{DeleteRule: storage.DeletePurge})
	upload(t, f, "alice", "scratch", "g", data(10, 1))
	if _, err := f.c.DeleteFile(ctx(), f.users["alice"], "scratch", "g", nil); err != nil {
		t.Fatal(err)
	}
	_, err = f.c.ListVersions(ctx(), f.users["alice"], "scratch", "g", "", 0)
	wantClass(t, err, call.ErrNotFound)
}

func TestNames(t *testing.T) {
	cases := map[string]string{"/a/../b": "b", "./x": "x", "a//b/": "a/b", "a/./b/../c": "a/c", "héllo wörld.txt": "héllo wörld.txt"}
	for in, want := range cases {
		if got, err := storage.CleanName(in); err != nil || got != want {
			t.Errorf("CleanName(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"../../x", "..", "a/../../x", "", "/", ".", "a\x00b", "a\nb", `..\x`, string(make([]byte, 300)), "\xff"} {
		if _, err := storage.CleanName(bad); !errors.Is(err, storage.ErrInvalidName) {
			t.Errorf("CleanName(%q): %v, want InvalidNameError", bad, err)
		}
	}
	f := start(t, "", "alice")
	mustDrive(t, f, "alice", "home", storage.DriveOptions{})
	upload(t, f, "alice", "home", "/a/../b", []byte("x"))
	if got, _ := download(t, f, "alice", "home", "b", 0); string(got) != "x" {
		t.Fatal("/a/../b was not stored as b")
	}
	for _, bad := range []string{"../../x", "../home2/x"} {
		_, err := f.c.Upload(ctx(), f.users["alice"], "home", bad, bytes.NewReader([]byte("x")), 1, storage.UploadOptions{})
		wantClass(t, err, storage.ErrInvalidName)
		_, err = f.c.Upload(ctx(), f.users["alice"], "home", bad, bytes.NewReader(data(2*chunk, 1)), 2*chunk, storage.UploadOptions{ChunkBytes: chunk})
		wantClass(t, err, storage.ErrInvalidName)
	}
	for _, bad := range []string{"../x", "a/../b", "a//b", "", "a b"} {
		_, err := f.c.CreateDrive(ctx(), f.users["alice"], bad, storage.DriveOptions{})
		wantClass(t, err, storage.ErrInvalidName)
	}
}

// setUploadState rewrites an upload record as a commit that stopped
// (crashed) would leave it: committing, its lease run out.
func setUploadState(t *testing.T, f *fixture, id, state string) {
	t.Helper()
	b := f.env.Host.Service(storage.Kind).Bucket()
	var rec map[string]any
	if _, err := b.GetJSON(ctx(), "storage/uploads/"+id, &rec); err != nil {
		t.Fatal(err)
	}
	rec["state"], rec["lease_until"] = state, f.env.Clock.Now().Add(-time.Second)
	if _, err := b.PutJSON(ctx(), "storage/uploads/"+id, rec); err != nil {
		t.Fatal(err)
	}
}

// TestStoppedCommit: a commit that stopped after adding its version is
// found by the next commit of the upload (no second version); one that
// stopped before is finished by it; one never retried is swept, chunks and all.
func TestStoppedCommit(t *testing.T) {
	f := start(t, "", "alice")
	alice := f.users["alice"]
	mustDrive(t, f, "alice", "home", storage.DriveOptions{})
	b := data(5*chunk, 4)
	var id string
	fv, err := f.c.Upload(ctx(), alice, "home", "f", bytes.NewReader(b), int64(len(b)),
		storage.UploadOptions{ChunkBytes: chunk, OnBegin: func(u storage.Upload) { id = u.ID }})
	if err != nil {
		t.Fatal(err)
	}
	setUploadState(t, f, id, storage.UploadCommitting) // stopped after its version
	again, err := f.c.Upload(ctx(), alice, "home", "f", bytes.NewReader(b), int64(len(b)), storage.UploadOptions{Resume: id})
	if err != nil || again.Version != fv.Version {
		t.Fatalf("commit after a stopped one: %+v %v", again, err)
	}
	if vl, _ := f.c.ListVersions(ctx(), alice, "home", "f", "", 0); len(vl.Versions) != 1 {
		t.Fatalf("%d versions of one upload", len(vl.Versions))
	}

	// Refused at commit (the drive filled up meanwhile): the upload is open
	// again. Then, as if a later commit claimed it and stopped before its
	// version, committing: the next commit makes the version.
	mustDrive(t, f, "alice", "q", storage.DriveOptions{MaxBytes: 6 * chunk})
	_, err = f.c.Upload(ctx(), alice, "q", "g", bytes.NewReader(b), int64(len(b)), storage.UploadOptions{ChunkBytes: chunk,
		OnBegin: func(u storage.Upload) { id = u.ID; upload(t, f, "alice", "q", "filler", data(2*chunk, 5)) }})
	wantClass(t, err, storage.ErrQuotaExceeded)
	if st, err := f.c.UploadStatus(ctx(), alice, id); err != nil || st.State != storage.UploadOpen || len(st.Present) != 5 {
		t.Fatalf("after a refused commit: %+v %v", st, err)
	}
	if _, err := f.c.SetDrive(ctx(), alice, "q", 0, 0, storage.DeleteKeep); err != nil {
		t.Fatal(err)
	}
	setUploadState(t, f, id, storage.UploadCommitting)
	gv, err := f.c.Upload(ctx(), alice, "q", "g", bytes.NewReader(b), int64(len(b)), storage.UploadOptions{Resume: id})
	if err != nil || gv.Version != 1 || gv.SHA256 != sum(b) {
		t.Fatalf("finishing a stopped commit: %+v %v", gv, err)
	}
	if got, _ := download(t, f, "alice", "q", "g", 0); !bytes.Equal(got, b) {
		t.Fatal("the finished commit's file differs")
	}

	// An interrupted one left committing, never retried, is swept.
	_, err = f.c.Upload(ctx(), alice, "home", "h", &failingReader{r: bytes.NewReader(b), after: 2 * chunk}, int64(len(b)),
		storage.UploadOptions{ChunkBytes: chunk, OnBegin: func(u storage.Upload) { id = u.ID }})
	var ue *storage.UploadError
	if !errors.As(err, &ue) {
		t.Fatal(err)
	}
	setUploadState(t, f, id, storage.UploadCommitting)
	f.env.Clock.Advance(storage.UploadLife + storage.UploadSweepGrace + time.Minute)
	f.env.Host.Sweep(ctx())
	bucket := f.env.Host.Service(storage.Kind).Bucket()
	if items, _ := bucket.ListAll(ctx(), "storage/blobs/"+id+"/", 10); len(items) != 0 {
		t.Fatalf("%d chunks of a stopped, abandoned commit left", len(items))
	}
	// The committed files keep their chunks through the sweep.
	items, err := bucket.ListAll(ctx(), "storage/blobs/", 100)
	if err != nil || len(items) != 10 {
		t.Fatalf("committed chunks after the sweep: %d %v", len(items), err)
	}
}

// TestRottenChunkRefused: a chunk whose bytes changed on disk after the
// upload (the header intact, so the store streams it without noticing) is
// refused by the downloading client against the CRC-32C its upload
// recorded: a typed checksum error, and nothing past it is written.
func TestRottenChunkRefused(t *testing.T) {
	root := t.TempDir()
	f := start(t, "file://"+root, "alice")
	mustDrive(t, f, "alice", "home", storage.DriveOptions{})
	b := data(5*chunk+123, 9) // past the inline limit: 6 chunks
	upload(t, f, "alice", "home", "x", b)
	items, err := f.env.Host.Service(storage.Kind).Bucket().ListAll(ctx(), "storage/blobs/", 100)
	if err != nil || len(items) != 6 {
		t.Fatalf("chunks: %d %v", len(items), err)
	}
	rotted := 0
	err = filepath.WalkDir(root, func(path string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() || !strings.Contains(path, "blobs") || !strings.HasSuffix(path, ".obj") {
			return err
		}
		if info, err := e.Info(); err != nil || info.Size() < chunk || rotted > 0 {
			return err
		}
		raw, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		raw[len(raw)-100] ^= 0x40 // a data byte, far from the header
		rotted++
		return os.WriteFile(path, raw, 0o600)
	})
	if err != nil || rotted != 1 {
		t.Fatalf("rotting a chunk file: %d %v", rotted, err)
	}
	var out bytes.Buffer
	_, err = f.c.Download(ctx(), f.users["alice"], "home", "x", &out, storage.DownloadOptions{})
	wantClass(t, err, storage.ErrChecksum)
	if out.Len() >= len(b) {
		t.Fatalf("%d bytes written despite the rotten chunk", out.Len())
	}
}
