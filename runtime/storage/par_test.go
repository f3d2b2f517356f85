package storage_test

import (
	"bytes"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/openacquire/acquire/runtime/call"
	"github.com/openacquire/acquire/runtime/storage"
)

func parClient(t *testing.T, f *fixture, link string) *storage.PARClient {
	t.Helper()
	c := call.NewClient(&call.MemoryPins{}) // no session anywhere
	c.Clock = f.env.Clock.Now
	p, err := storage.OpenPAR(c, link)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestPAR: read, write and read-write links on a drive or a file, used
// without logging in; refused after expiry or revocation, writes refused
// on read links, a file link confined to its file.
func TestPAR(t *testing.T) {
	f := start(t, "file://"+t.TempDir(), "alice")
	alice := f.users["alice"]
	mustDrive(t, f, "alice", "jobs", storage.DriveOptions{})
	input := data(4*chunk+9, 5)
	upload(t, f, "alice", "jobs", "in/data.bin", input)
	upload(t, f, "alice", "jobs", "in/small.txt", []byte("hello"))
	expires := f.env.Clock.Now().Add(time.Hour)

	readPAR, err := f.c.CreatePAR(ctx(), alice, "jobs", "", storage.PARRead, expires)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(readPAR.Link, f.c.URL+"/par/"+readPAR.PAR.ID+"#") || readPAR.PAR.SecretMAC != "" {
		t.Fatalf("link %q / par %+v", readPAR.Link, readPAR.PAR)
	}
	r := parClient(t, f, readPAR.Link)
	var buf bytes.Buffer
	if _, err := r.Download(ctx(), "in/data.bin", &buf, storage.DownloadOptions{}); err != nil || !bytes.Equal(buf.Bytes(), input) {
		t.Fatalf("PAR download: %v", err)
	}
	fl, err := r.List(ctx(), "", 0)
	if err != nil || len(fl.Files) != 2 {
		t.Fatalf("PAR list: %+v %v", fl, err)
	}
	if by := fl.Files[0].UploadedBy; by.UserUID != "" || by.IdentityURL != "" {
		t.Fatalf("a link's holder learns who uploaded: %+v", by)
	}
	_, err = r.Upload(ctx(), "out.txt", bytes.NewReader([]byte("x")), 1, storage.UploadOptions{})
	wantClass(t, err, storage.ErrAccessDenied)
	_, err = r.Upload(ctx(), "out.bin", bytes.NewReader(data(2*chunk, 1)), 2*chunk, storage.UploadOptions{ChunkBytes: chunk})
	wantClass(t, err, storage.ErrAccessDenied)
	_, err = r.Download(ctx(), "../../etc/passwd", io.Discard, storage.DownloadOptions{})
	wantClass(t, err, storage.ErrInvalidName)

	// A write PAR on the drive: the compute agent's outputs, chunked and inline.
	writePAR, err := f.c.CreatePAR(ctx(), alice, "jobs", "", storage.PARWrite, expires)
	if err != nil {
		t.Fatal(err)
	}
	w := parClient(t, f, writePAR.Link)
	out := data(3*chunk+1+storage.InlineMaxBytes, 6)
	fv, err := w.Upload(ctx(), "out/result.bin", bytes.NewReader(out), int64(len(out)), storage.UploadOptions{ChunkBytes: chunk})
	if err != nil || fv.UploadedBy.PAR != writePAR.PAR.ID {
		t.Fatalf("PAR upload: %+v %v", fv, err)
	}
	if _, err := w.Upload(ctx(), "out/log.txt", strings.NewReader("done\n"), 5, storage.UploadOptions{}); err != nil {
		t.Fatal(err)
	}
	if got, _ := download(t, f, "alice", "jobs", "out/result.bin", 0); !bytes.Equal(got, out) {
		t.Fatal("PAR upload differs")
	}
	_, err = w.Download(ctx(), "in/small.txt", io.Discard, storage.DownloadOptions{})
	wantClass(t, err, storage.ErrAccessDenied)

	// A read-write PAR on one file: that file only.
	filePAR, err := f.c.CreatePAR(ctx(), alice, "jobs", "/in/./small.txt", storage.PARReadWrite, expires)
	if err != nil || filePAR.PAR.Name != "in/small.txt" {
		t.Fatalf("file PAR: %+v %v", filePAR, err)
	}
	fp := parClient(t, f, filePAR.Link)
	buf.Reset()
	if _, err := fp.Download(ctx(), "", &buf, storage.DownloadOptions{}); err != nil || buf.String() != "hello" {
		t.Fatalf("file PAR download: %q %v", buf.String(), err)
	}
	if _, err := fp.Upload(ctx(), "in/small.txt", strings.NewReader("hello again"), 11, storage.UploadOptions{}); err != nil {
		t.Fatal(err)
	}
	_, err = fp.Download(ctx(), "in/data.bin", io.Discard, storage.DownloadOptions{})
	wantClass(t, err, storage.ErrAccessDenied)

	// A wrong secret is refused without saying why.
	bad := parClient(t, f, readPAR.Link[:strings.Index(readPAR.Link, "#")]+"#not-the-secret")
	_, err = bad.Download(ctx(), "in/small.txt", io.Discard, storage.DownloadOptions{})
	wantClass(t, err, storage.ErrPARInvalid)

	// Listing and revocation by the owner.
	pl, err := f.c.ListPARs(ctx(), alice, "jobs")
	if err != nil || len(pl.PARs) != 3 {
		t.Fatalf("list PARs: %+v %v", pl, err)
	}
	for _, p := range pl.PARs {
		if p.SecretMAC != "" {
			t.Fatal("list_pars shows a secret's hash")
		}
	}
	if _, err := f.c.RevokePAR(ctx(), alice, writePAR.PAR.ID); err != nil {
		t.Fatal(err)
	}
	_, err = w.Upload(ctx(), "out/late.txt", strings.NewReader("x"), 1, storage.UploadOptions{})
	wantClass(t, err, storage.ErrPARRevoked)
	if _, err := r.Info(ctx()); err != nil {
		t.Fatalf("revoking one PAR touched another: %v", err)
	}

	// Expiry: chunk URLs never outlive their PAR, and the PAR itself ends.
	d, err := r.Info(ctx())
	if err != nil || d.Mode != storage.PARRead || d.CreatedBy != (storage.Principal{}) || d.Drive != "jobs" {
		t.Fatal(err)
	}
	f.env.Clock.Advance(time.Hour + time.Second)
	_, err = r.Download(ctx(), "in/small.txt", io.Discard, storage.DownloadOptions{})
	wantClass(t, err, storage.ErrPARExpired)
	_, err = r.List(ctx(), "", 0)
	wantClass(t, err, storage.ErrPARExpired)
}

// TestPARURLsBoundedByExpiry: a PAR expiring in 2 minutes hands out chunk
// URLs that expire with it, not DataURLLife later.
func TestPARURLsBoundedByExpiry(t *testing.T) {
	f := start(t, "", "alice")
	mustDrive(t, f, "alice", "d", storage.DriveOptions{})
	upload(t, f, "alice", "d", "f", data(2*chunk+storage.InlineMaxBytes, 1))
	exp := f.env.Clock.Now().Add(2 * time.Minute)
	np, err := f.c.CreatePAR(ctx(), f.users["alice"], "d", "f", storage.PARRead, exp)
	if err != nil {
		t.Fatal(err)
	}
	c := call.NewClient(&call.MemoryPins{})
	c.Clock = f.env.Clock.Now
	var dl storage.Download
	_, key, _ := storage.ParsePARLink(np.Link)
	if err := c.Call(ctx(), f.c.URL, "par_open_file", &storage.PARCallArgs{PARKey: key}, &dl); err != nil {
		t.Fatal(err)
	}
	for _, u := range dl.Chunks {
		if u.Expires.After(exp) {
			t.Fatalf("chunk URL expires %v, after its PAR (%v)", u.Expires, exp)
		}
	}
	f.env.Clock.Advance(2*time.Minute + time.Second)
	resp, err := http.Get(dl.Chunks[0].URL)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("chunk URL after its PAR expired: %s", resp.Status)
	}
}

func status(t *testing.T, method, u string, body []byte, sha string) int {
	t.Helper()
	req, err := http.NewRequest(method, u, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if sha != "" {
		req.Header.Set(storage.CRC32CHeader, sha)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	return resp.StatusCode
}

func tamper(t *testing.T, raw, param, value string) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set(param, value)
	u.RawQuery = q.Encode()
	return u.String()
}

// TestDataURLs: the host-served chunk URLs refuse tampering, expiry,
// bytes that do not match their hash, and writes after commit.
func TestDataURLs(t *testing.T) {
	f := start(t, "", "alice")
	alice := f.users["alice"]
	mustDrive(t, f, "alice", "d", storage.DriveOptions{})
	b := data(2*chunk+storage.InlineMaxBytes, 1)
	var first storage.ChunkURL
	_, err := f.c.Upload(ctx(), alice, "d", "f", bytes.NewReader(b), int64(len(b)), storage.UploadOptions{ChunkBytes: chunk,
		OnBegin: func(u storage.Upload) {
			first = u.URLs[0]
			c0 := b[:chunk]
			if got := status(t, "PUT", first.URL, c0, crc(b[chunk:2*chunk])); got != http.StatusUnprocessableEntity {
				t.Errorf("PUT with the wrong hash: %d", got)
			}
			if got := status(t, "PUT", first.URL, c0[:100], crc(c0[:100])); got != http.StatusBadRequest {
				t.Errorf("PUT of the wrong size: %d", got)
			}
			if got := status(t, "PUT", tamper(t, first.URL, "size", "100"), c0[:100], crc(c0[:100])); got != http.StatusForbidden {
				t.Errorf("PUT with a changed size: %d", got)
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	if got := status(t, "PUT", first.URL, b[:chunk], crc(b[:chunk])); got != http.StatusConflict {
		t.Fatalf("PUT after commit: %d", got)
	}
	dl, err := f.c.OpenFile(ctx(), alice, "d", "f", 0, 0)
	if err != nil || len(dl.Chunks) != dl.File.Chunks {
		t.Fatalf("open: %+v %v", dl, err)
	}
	g := dl.Chunks[1].URL
	if !strings.Contains(g, "/000001.") {
		t.Fatalf("GET URL %q does not name the chunk under its CRC", g)
	}
	if got := status(t, "GET", g, nil, ""); got != http.StatusOK {
		t.Fatalf("GET: %d", got)
	}
	for name, u := range map[string]string{
		"sig":        tamper(t, g, "sig", strings.Repeat("0", 64)),
		"exp":        tamper(t, g, "exp", "9999999999"),
		"who":        tamper(t, g, "who", "0123456789abcdef"), // another principal's slots
		"other key":  strings.Replace(g, "/000001.", "/000002.", 1),
		"as a PUT":   g,
		"no sig":     tamper(t, g, "sig", ""),
		"path climb": strings.Replace(g, "storage/blobs/", "storage/blobs/../uploads/", 1),
	} {
		method := "GET"
		if name == "as a PUT" {
			method = "PUT"
		}
		if got := status(t, method, u, b[:chunk], crc(b[:chunk])); got != http.StatusForbidden && (name != "path climb" || got/100 != 3) {
			t.Errorf("%s: %d, want 403", name, got)
		}
	}
	f.env.Clock.Advance(storage.DataURLLife + time.Second)
	if got := status(t, "GET", g, nil, ""); got != http.StatusForbidden {
		t.Fatalf("GET after expiry: %d", got)
	}
}
