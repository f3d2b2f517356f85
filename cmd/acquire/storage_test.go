package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/openacquire/acquire/runtime/call"
	"github.com/openacquire/acquire/runtime/storage"
	"github.com/openacquire/acquire/runtime/wallet"
)

// writeRandom writes n random bytes to a new file in dir.
func writeRandom(t *testing.T, dir, name string, n int) (string, []byte) {
	t.Helper()
	data := make([]byte, n)
	_, _ = rand.Read(data)
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p, data
}

func sameFile(t *testing.T, path string, want []byte) {
	t.Helper()
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s: %d bytes differ from the %d uploaded", path, len(got), len(want))
	}
}

func TestDriveFileAndPARCommands(t *testing.T) {
	t.Parallel()
	alice, _ := newHostCLI(t)
	bob := alice.other()
	anon := alice.other() // never logs in: uses links only
	aSecret, _ := alice.register("alice")
	bSecret, bReg := bob.register("bob")
	alice.mustJSON(testPassword+"\n", "user", "login", "-u", "alice", "--otp", alice.code(aSecret), "--password-stdin")
	bob.mustJSON(testPassword+"\n", "user", "login", "-u", "bob", "--otp", bob.code(bSecret), "--password-stdin")
	dir := t.TempDir()
	alice.env["XDG_STATE_HOME"] = filepath.Join(dir, "state")

	d := alice.mustJSON("", "drive", "create", "docs", "--max-bytes", "10000000")
	if d["role"] != storage.RoleOwner || d["name"] != "docs" {
		t.Fatalf("drive create %v", d)
	}
	alice.mustJSON("", "drive", "create", "docs/2026")
	alice.wantError(exitUsage, "InvalidNameError", "", "drive", "create", "../escape")

	// Round trips: empty, one byte, over the inline limit and chunked.
	for _, size := range []int{0, 1, storage.InlineMaxBytes - 1, storage.InlineMaxBytes + 1, storage.InlineMaxBytes + 3*storage.MinChunkBytes + 7} {
		src, data := writeRandom(t, dir, "src.bin", size)
		v := alice.mustJSON("", "file", "upload", src, "docs", "f.bin", "--chunk-bytes", "65536")
		if int(v["size"].(float64)) != size {
			t.Fatalf("upload of %d bytes answered %v", size, v)
		}
		out := filepath.Join(dir, "out.bin")
		alice.mustJSON("", "file", "download", "docs", "f.bin", "-O", out)
		sameFile(t, out, data)
	}
	vs := alice.mustJSON("", "file", "versions", "docs", "f.bin")
	if list, _ := vs["versions"].([]any); len(list) != 5 || list[0].(map[string]any)["version"].(float64) != 1 {
		t.Fatalf("versions %v", vs)
	}
	first := filepath.Join(dir, "v1.bin")
	alice.mustJSON("", "file", "download", "docs", "f.bin", "--version", "1", "-O", first)
	sameFile(t, first, nil)
	if ls := alice.mustJSON("", "file", "ls", "docs"); len(ls["files"].([]any)) != 1 {
		t.Fatalf("ls %v", ls)
	}
	left, _ := os.ReadDir(filepath.Join(dir, "state", "acquire", "uploads"))
	if len(left) != 0 {
		t.Fatalf("finished uploads left resume records: %v", left)
	}

	// Standard input: spooled, then uploaded in chunks; it needs a NAME.
	alice.mustJSON("", "drive", "create", "pipes")
	_, piped := writeRandom(t, dir, "piped.bin", storage.InlineMaxBytes+2*storage.MinChunkBytes+5)
	if v := alice.mustJSON(string(piped), "file", "upload", "-", "pipes", "piped.bin", "--chunk-bytes", "65536"); int(v["size"].(float64)) != len(piped) {
		t.Fatalf("upload of standard input answered %v", v)
	}
	alice.mustJSON("", "file", "download", "pipes", "piped.bin", "-O", filepath.Join(dir, "piped.out"))
	sameFile(t, filepath.Join(dir, "piped.out"), piped)
	alice.wantError(exitUsage, "UsageError", "", "file", "upload", "-", "pipes")

	// A drive is deleted once empty; until then it is refused and kept.
	alice.wantError(exitNotFound, "DriveNotEmptyError", "", "drive", "rm", "pipes")
	alice.mustJSON("", "file", "rm", "pipes", "piped.bin", "--purge")
	if d := alice.mustJSON("", "drive", "rm", "pipes"); d["name"] != "pipes" {
		t.Fatalf("drive rm %v", d)
	}
	alice.wantError(exitNotFound, "NotFoundError", "", "drive", "rm", "pipes")

	// --recursive takes the files (kept versions too) and sub-drives with it.
	alice.mustJSON("", "drive", "create", "old")
	alice.mustJSON("", "drive", "create", "old/sub")
	alice.mustJSON(string(piped), "file", "upload", "-", "old/sub", "p.bin", "--chunk-bytes", "65536")
	alice.mustJSON("", "file", "upload", filepath.Join(dir, "piped.out"), "old", "q.bin")
	alice.mustJSON("", "file", "rm", "old", "q.bin", "--keep")
	tree := alice.mustJSON("", "drive", "rm", "old", "--recursive")
	if ds := tree["drives"].([]any); len(ds) != 2 || ds[0] != "old/sub" || ds[1] != "old" || int(tree["names"].(float64)) != 2 ||
		int64(tree["bytes"].(float64)) != 2*int64(len(piped)) {
		t.Fatalf("drive rm --recursive answered %v", tree)
	}
	alice.wantError(exitNotFound, "NotFoundError", "", "drive", "rm", "old", "-r")

	// The ACL: bob may not read until alice grants it; only owners change it.
	bob.wantError(exitRefused, "AccessDeniedError", "", "file", "download", "docs", "f.bin", "-O", filepath.Join(dir, "bob.bin"))
	if _, err := os.Stat(filepath.Join(dir, "bob.bin")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a refused download left a file: %v", err)
	}
	acl := alice.mustJSON("", "drive", "acl", "docs", "--add", "user:"+bReg["user_uid"].(string)+"=read")
	if rules := acl["effective"].(map[string]any)["rules"].([]any); len(rules) != 2 {
		t.Fatalf("acl %v", acl)
	}
	bob.mustJSON("", "file", "download", "docs", "f.bin", "-O", filepath.Join(dir, "bob.bin"))
	bob.wantError(exitRefused, "AccessDeniedError", "", "drive", "acl", "docs", "--add", "default=write")
	sub := alice.mustJSON("", "drive", "acl", "docs/2026")
	if sub["from"] != "docs" {
		t.Fatalf("a sub-drive without its own ACL should inherit: %v", sub)
	}

	// PARs: a read link works without login, refuses writes, dies on revoke.
	p := alice.mustJSON("", "par", "create", "docs", "f.bin", "--mode", "read", "--expires", "1h")
	link := p["link"].(string)
	if !strings.Contains(link, "#") || strings.Contains(alice.run("", "par", "list", "docs").stdout, link[strings.Index(link, "#")+1:]) {
		t.Fatalf("link %q, or its secret shows in the listing", link)
	}
	viaPAR := filepath.Join(dir, "par.bin")
	anon.mustJSON("", "par", "get", link, "-O", viaPAR)
	sameFile(t, viaPAR, mustRead(t, filepath.Join(dir, "out.bin")))
	src, _ := writeRandom(t, dir, "w.bin", 10)
	anon.wantError(exitRefused, "AccessDeniedError", "", "par", "put", link, src)
	w := alice.mustJSON("", "par", "create", "docs", "--mode", "write", "--expires", "10m")
	anon.mustJSON("", "par", "put", w["link"].(string), src, "from-link.bin")
	if v := anon.mustJSON("piped through a link", "par", "put", w["link"].(string), "-", "piped-link.txt"); int(v["size"].(float64)) != len("piped through a link") {
		t.Fatalf("par put of standard input answered %v", v)
	}
	alice.mustJSON("", "par", "revoke", p["par"].(map[string]any)["id"].(string))
	anon.wantError(exitAuth, "PARRevokedError", "", "par", "get", link, "-O", viaPAR)
	// Delete keeps versions by the drive's rule; --purge removes them.
	alice.mustJSON("", "file", "rm", "docs", "f.bin")
	alice.wantError(exitNotFound, "FileDeletedError", "", "file", "download", "docs", "f.bin", "-O", filepath.Join(dir, "x"))
	alice.mustJSON("", "file", "download", "docs", "f.bin", "--version", "2", "-O", filepath.Join(dir, "x"))
	alice.mustJSON("", "file", "rm", "docs", "f.bin", "--purge")
	alice.wantError(exitNotFound, "NotFoundError", "", "file", "versions", "docs", "f.bin")

	alice.clock.advance(11 * time.Minute)
	anon.wantError(exitAuth, "PARExpiredError", "", "par", "put", w["link"].(string), src, "late.bin")
}

func (c *testClock) advance(d time.Duration) {
	c.mu.Lock()
	c.off += d
	c.mu.Unlock()
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// failingReader gives n bytes of r, then fails: an interrupted upload.
type failingReader struct {
	r io.Reader
	n int
}

func (f *failingReader) Read(p []byte) (int, error) {
	if f.n <= 0 {
		return 0, errors.New("interrupted")
	}
	if len(p) > f.n {
		p = p[:f.n]
	}
	n, err := f.r.Read(p)
	f.n -= n
	return n, err
}

func TestFileUploadResumes(t *testing.T) {
	t.Parallel()
	alice, h := newHostCLI(t)
	secret, _ := alice.register("alice")
	alice.mustJSON(testPassword+"\n", "user", "login", "-u", "alice", "--otp", alice.code(secret), "--password-stdin")
	dir := t.TempDir()
	alice.env["XDG_STATE_HOME"] = filepath.Join(dir, "state")
	alice.mustJSON("", "drive", "create", "big")
	src, data := writeRandom(t, dir, "big.bin", 8*storage.MinChunkBytes)

	// An upload cut off after 3 chunks, remembered where the CLI looks.
	w, err := wallet.Open(alice.dir, wallet.Options{Clock: alice.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	s, err := w.Session(alice.url, "alice")
	if err != nil {
		t.Fatal(err)
	}
	c := &storage.Client{C: call.NewClient(w), URL: h.ServiceURL(storage.Kind), Parallel: 1}
	c.C.Clock = alice.clock.Now
	var id string
	_, err = c.Upload(context.Background(), s, "big", "big.bin", &failingReader{r: bytes.NewReader(data), n: 3 * storage.MinChunkBytes},
		int64(len(data)), storage.UploadOptions{ChunkBytes: storage.MinChunkBytes, OnBegin: func(u storage.Upload) { id = u.ID }})
	if err == nil || id == "" {
		t.Fatalf("the cut-off upload: id %q, err %v", id, err)
	}
	g := newGlobals(nil, io.Discard, io.Discard, func(k string) string { return alice.env[k] }, alice.clock.Now)
	fi, _ := os.Stat(src)
	rs, err := g.resumeState(resumeKey{c.URL, s.UserUID, "big", "big.bin"}, src, fi)
	if err != nil {
		t.Fatal(err)
	}
	rs.save(id)

	r := alice.run("", "file", "upload", src, "big", "--chunk-bytes", "65536")
	if r.code != 0 || !strings.Contains(r.stderr, "resuming upload "+id) {
		t.Fatalf("upload: exit %d, stderr %q", r.code, r.stderr)
	}
	st, err := c.UploadStatus(context.Background(), s, id)
	if err != nil || st.State != storage.UploadCommitted {
		t.Fatalf("the resumed upload is not the one committed: %+v %v", st, err)
	}
	out := filepath.Join(dir, "back.bin")
	alice.mustJSON("", "file", "download", "big", "big.bin", "-O", out)
	sameFile(t, out, data)
}

// TestGroupCommands: 'acquire group' creates, lists, shows and edits
// groups; 'drive acl' names them with their owner, so another user's
// group of the same name (issue 25's takeover) lets no one in.
func TestGroupCommands(t *testing.T) {
	t.Parallel()
	alice, _ := newHostCLI(t)
	bob, mallory := alice.other(), alice.other()
	aSecret, aReg := alice.register("alice")
	bSecret, bReg := bob.register("bob")
	mSecret, mReg := mallory.register("mallory")
	alice.mustJSON(testPassword+"\n", "user", "login", "-u", "alice", "--otp", alice.code(aSecret), "--password-stdin")
	bob.mustJSON(testPassword+"\n", "user", "login", "-u", "bob", "--otp", bob.code(bSecret), "--password-stdin")
	mallory.mustJSON(testPassword+"\n", "user", "login", "-u", "mallory", "--otp", mallory.code(mSecret), "--password-stdin")
	aUID, bUID, mUID := aReg["user_uid"].(string), bReg["user_uid"].(string), mReg["user_uid"].(string)

	if r := alice.run("", "group", "--help"); r.code != 0 || !strings.Contains(r.stdout, "create") || !strings.Contains(r.stdout, "group:UID/NAME") {
		t.Fatalf("group --help: %d %s %s", r.code, r.stdout, r.stderr)
	}
	alice.mustJSON("", "drive", "create", "proj")
	src, data := writeRandom(t, t.TempDir(), "plans", 10)
	alice.mustJSON("", "file", "upload", src, "proj", "plans")
	// A rule for a group that does not exist is refused.
	alice.wantError(exitNotFound, "NotFoundError", "", "drive", "acl", "proj", "--add", "group:team=owner")

	g := alice.mustJSON("", "group", "create", "team", mUID)
	if g["name"] != "team" || len(g["members"].([]any)) != 1 {
		t.Fatalf("group create: %v", g)
	}
	alice.wantError(exitNotFound, "AlreadyExistsError", "", "group", "create", "team")
	alice.mustJSON("", "group", "add", "team", "user:"+bUID)
	g = alice.mustJSON("", "group", "remove", "team", mUID)
	if m := g["members"].([]any); len(m) != 1 || m[0].(map[string]any)["user_uid"] != bUID {
		t.Fatalf("after add and remove: %v", g)
	}
	if l := alice.mustJSON("", "group", "list"); len(l["groups"].([]any)) != 1 {
		t.Fatalf("group list: %v", l)
	}
	acl := alice.mustJSON("", "drive", "acl", "proj", "--add", "group:team=owner")
	rules := acl["effective"].(map[string]any)["rules"].([]any)
	if r := rules[len(rules)-1].(map[string]any); r["group"] != "team" || r["user_uid"] != aUID {
		t.Fatalf("the rule names alice's team: %v", r)
	}

	// Mallory makes a "team" of her own: it is not alice's.
	mallory.mustJSON("", "group", "create", "team", mUID)
	mallory.wantError(exitRefused, "AccessDeniedError", "", "file", "download", "proj", "plans", "-O", filepath.Join(t.TempDir(), "x"))
	mallory.wantError(exitRefused, "AccessDeniedError", "", "drive", "acl", "proj", "--set", "user:"+mUID+"=owner")
	mallory.wantError(exitNotFound, "NotFoundError", "", "group", "show", aUID+"/team")
	// Bob, in alice's team, reads and sees the team.
	out := filepath.Join(t.TempDir(), "plans")
	bob.mustJSON("", "file", "download", "proj", "plans", "-O", out)
	sameFile(t, out, data)
	if g := bob.mustJSON("", "group", "show", aUID+"/team"); g["owner"].(map[string]any)["user_uid"] != aUID {
		t.Fatalf("bob shows alice's team: %v", g)
	}
	if r := alice.run("", "drive", "acl", "proj"); r.code != 0 || !strings.Contains(r.stdout, "group:"+aUID+"@") {
		t.Fatalf("drive acl text: %s %s", r.stdout, r.stderr)
	}
	alice.wantError(exitUsage, "UsageError", "", "group", "add", "team")
}
