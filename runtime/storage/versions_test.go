package storage_test

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/openacquire/acquire/runtime/call"
	"github.com/openacquire/acquire/runtime/storage"
	"github.com/openacquire/acquire/runtime/store"
)

// TestVersionQuota: every version counts against the drive's version
// limit, empty files and tombstones too (they used to reserve nothing and
// pass any limit); purging gives the count back.
func TestVersionQuota(t *testing.T) {
	f := start(t, "", "alice")
	alice := f.users["alice"]
	d := mustDrive(t, f, "alice", "v", storage.DriveOptions{MaxVersions: 3, MaxBytes: 1})
	if d.MaxVersions != 3 {
		t.Fatalf("max_versions %d", d.MaxVersions)
	}
	put := func(name string) error {
		_, err := f.c.Upload(ctx(), alice, "v", name, bytes.NewReader(nil), 0, storage.UploadOptions{})
		return err
	}
	for i := range 3 {
		if err := put(fmt.Sprint("e", i)); err != nil {
			t.Fatal(err)
		}
	}
	wantClass(t, put("e3"), storage.ErrQuotaExceeded)
	_, err := f.c.DeleteFile(ctx(), alice, "v", "e0", nil) // a tombstone is a version too
	wantClass(t, err, storage.ErrQuotaExceeded)
	info, err := f.c.GetDrive(ctx(), alice, "v")
	if err != nil || info.UsageVersions != 3 || info.UsageBytes != 0 {
		t.Fatalf("usage after the refusals: %+v %v", info, err)
	}
	yes := true
	if _, err := f.c.DeleteFile(ctx(), alice, "v", "e0", &yes); err != nil {
		t.Fatal(err)
	}
	if info, _ := f.c.GetDrive(ctx(), alice, "v"); info.UsageVersions != 2 {
		t.Fatalf("versions after a purge: %d", info.UsageVersions)
	}
	if err := put("e3"); err != nil {
		t.Fatal(err)
	}
	// Raised by the owner.
	if _, err := f.c.SetDrive(ctx(), alice, "v", 1, 4, storage.DeleteKeep); err != nil {
		t.Fatal(err)
	}
	if err := put("e4"); err != nil {
		t.Fatal(err)
	}

	// The default, and bad limits refused.
	if d := mustDrive(t, f, "alice", "dflt", storage.DriveOptions{}); d.MaxVersions != storage.DefaultMaxVersions {
		t.Fatalf("default max_versions %d", d.MaxVersions)
	}
	for _, n := range []int64{-1, storage.MaxVersionsLimit + 1} {
		_, err := f.c.CreateDrive(ctx(), alice, "bad", storage.DriveOptions{MaxVersions: n})
		wantClass(t, err, call.ErrBadArguments)
		_, err = f.c.SetDrive(ctx(), alice, "v", 0, n, storage.DeleteKeep)
		wantClass(t, err, call.ErrBadArguments)
	}
}

// writeVersions writes n empty version records of name straight into the
// store, as a drive that reached them through its calls would hold them
// (16 385 commits through the service would take minutes), counted in its
// usage record.
func writeVersions(t *testing.T, f *fixture, d *storage.DriveInfo, name string, n int) {
	t.Helper()
	b := f.env.Host.Service(storage.Kind).Bucket()
	pre := "storage/versions/" + d.ID + "/" + store.EncodeName(name) + "/"
	for i := 1; i <= n; i++ {
		rec := storage.FileVersion{Drive: d.Name, Name: name, Version: int64(i), Inline: true, SHA256: sum(nil)}
		if _, err := b.PutJSON(ctx(), fmt.Sprintf("%s%012d", pre, i), rec); err != nil {
			t.Fatal(err)
		}
	}
	head := storage.FileVersion{Drive: d.Name, Name: name, Version: int64(n), Inline: true, SHA256: sum(nil)}
	if _, err := b.PutJSON(ctx(), "storage/heads/"+d.ID+"/"+store.EncodeName(name), head); err != nil {
		t.Fatal(err)
	}
	var u map[string]any
	if _, err := b.GetJSON(ctx(), "storage/usage/"+d.ID, &u); err != nil {
		u = map[string]any{"bytes": 0}
	}
	v, _ := u["versions"].(float64)
	u["versions"] = int(v) + n
	if _, err := b.PutJSON(ctx(), "storage/usage/"+d.ID, u); err != nil {
		t.Fatal(err)
	}
}

// TestPurgeManyVersions: delete_file --purge, purge_drive and
// delete_drive page through more versions than the 16 384 a purge used
// to list at once (it then failed, and the drive could not be deleted).
func TestPurgeManyVersions(t *testing.T) {
	f := start(t, "", "alice")
	alice := f.users["alice"]
	d := mustDrive(t, f, "alice", "big", storage.DriveOptions{})
	writeVersions(t, f, d, "many", storage.MaxChunks+5)
	yes := true
	if _, err := f.c.DeleteFile(ctx(), alice, "big", "many", &yes); err != nil {
		t.Fatalf("purging %d versions: %v", storage.MaxChunks+5, err)
	}
	_, err := f.c.ListVersions(ctx(), alice, "big", "many", "", 0)
	wantClass(t, err, call.ErrNotFound)

	writeVersions(t, f, d, "more", storage.MaxChunks+5)
	upload(t, f, "alice", "big", "small", []byte("x"))
	calls := 0
	for done := false; !done; calls++ {
		r, err := f.c.PurgeDrive(ctx(), alice, "big")
		if err != nil {
			t.Fatalf("purge_drive call %d: %v", calls, err)
		}
		done = r.Done
	}
	if want := (storage.MaxChunks+6)/storage.MaxPurgeVersions + 1; calls < want {
		t.Fatalf("purge_drive took %d calls; at most %d versions a call means at least %d", calls, storage.MaxPurgeVersions, want)
	}
	if info, err := f.c.GetDrive(ctx(), alice, "big"); err != nil || info.UsageVersions != 0 || info.UsageBytes != 0 {
		t.Fatalf("usage after purge_drive: %+v %v", info, err)
	}
	if _, err := f.c.DeleteDrive(ctx(), alice, "big"); err != nil {
		t.Fatal(err)
	}
}

// TestPurgePages: with pages of 7 and 10 versions a purge_drive call, one
// call removes the oldest 10 of 30 (a page and part of the next), the
// rest stay fetchable, and later calls finish.
func TestPurgePages(t *testing.T) {
	defer storage.SetPurgePages(7, 10)()
	f := start(t, "", "alice")
	alice := f.users["alice"]
	mustDrive(t, f, "alice", "p", storage.DriveOptions{})
	for i := range 30 {
		upload(t, f, "alice", "p", "f", []byte{byte(i)})
	}
	r, err := f.c.PurgeDrive(ctx(), alice, "p")
	if err != nil || r.Done || r.Versions != 10 || r.Names != 0 || r.Bytes != 10 {
		t.Fatalf("first purge_drive: %+v %v", r, err)
	}
	vl, err := f.c.ListVersions(ctx(), alice, "p", "f", "", 0)
	if err != nil || len(vl.Versions) != 20 || vl.Versions[0].Version != 11 {
		t.Fatalf("after one call: %+v %v", vl, err)
	}
	if got, _ := download(t, f, "alice", "p", "f", 30); !bytes.Equal(got, []byte{29}) {
		t.Fatal("the latest version is gone")
	}
	yes := true
	if _, err := f.c.DeleteFile(ctx(), alice, "p", "f", &yes); err != nil {
		t.Fatal(err)
	}
	if info, _ := f.c.GetDrive(ctx(), alice, "p"); info.UsageVersions != 0 || info.UsageBytes != 0 {
		t.Fatalf("usage: %+v", info)
	}
	if _, err := f.c.DeleteDrive(ctx(), alice, "p"); err != nil {
		t.Fatal(err)
	}
}
