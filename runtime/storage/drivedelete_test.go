package storage_test

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/openacquire/acquire/runtime/call"
	"github.com/openacquire/acquire/runtime/storage"
	"github.com/openacquire/acquire/runtime/store"
)

// TestDeleteDrive: only owners delete, only empty drives (no versions,
// kept tombstones included, no sub-drives), a refused delete leaves the
// drive working, and a deleted drive takes its PARs and its name with it.
func TestDeleteDrive(t *testing.T) {
	f := start(t, "", "alice", "bob")
	alice, bob := f.users["alice"], f.users["bob"]
	mustDrive(t, f, "alice", "gone", storage.DriveOptions{})
	mustDrive(t, f, "alice", "gone/sub", storage.DriveOptions{})
	if _, err := f.c.SetACL(ctx(), alice, "gone", &storage.ACL{Rules: []storage.Rule{userRule(f, "alice", storage.RoleOwner), userRule(f, "bob", storage.RoleWrite)}}); err != nil {
		t.Fatal(err)
	}
	upload(t, f, "alice", "gone", "f", []byte("data"))
	np, err := f.c.CreatePAR(ctx(), alice, "gone", "", storage.PARReadWrite, time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.c.DeleteDrive(ctx(), bob, "gone"); !errors.Is(err, storage.ErrAccessDenied) {
		t.Fatalf("a writer deletes: %v", err)
	}
	notEmpty := func(what string) {
		t.Helper()
		if _, err := f.c.DeleteDrive(ctx(), alice, "gone"); !errors.Is(err, storage.ErrDriveNotEmpty) {
			t.Fatalf("%s: got %v, want DriveNotEmptyError", what, err)
		}
		// Refused, the drive still takes new versions.
		upload(t, f, "alice", "gone", "after-refusal", nil)
		purge(t, f, "gone", "after-refusal")
	}
	notEmpty("a file")
	purge(t, f, "gone", "f")
	notEmpty("a sub-drive")
	if _, err := f.c.DeleteDrive(ctx(), alice, "gone/sub"); err != nil {
		t.Fatal(err)
	}
	upload(t, f, "alice", "gone", "kept", []byte("x"))
	keep := false
	if _, err := f.c.DeleteFile(ctx(), alice, "gone", "kept", &keep); err != nil {
		t.Fatal(err)
	}
	notEmpty("a deleted file whose versions are kept")
	purge(t, f, "gone", "kept")

	info, err := f.c.DeleteDrive(ctx(), alice, "gone")
	if err != nil || info.Name != "gone" {
		t.Fatalf("delete: %+v %v", info, err)
	}
	if _, err := f.c.GetDrive(ctx(), alice, "gone"); !errors.Is(err, call.ErrNotFound) {
		t.Fatalf("get after delete: %v", err)
	}
	if l, err := f.c.ListDrives(ctx(), alice, ""); err != nil || len(l.Drives) != 0 {
		t.Fatalf("alice's drives: %+v %v", l, err)
	}
	if _, _, err := f.env.Host.Service(storage.Kind).Bucket().Get(ctx(), "storage/pars/"+np.PAR.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("PAR record after delete: %v", err)
	}
	// The name is free again; the old link opens nothing in the new drive.
	mustDrive(t, f, "bob", "gone", storage.DriveOptions{})
	p := parClient(t, f, np.Link)
	if _, err := p.Upload(ctx(), "x", bytes.NewReader([]byte("x")), 1, storage.UploadOptions{}); !errors.Is(err, storage.ErrPARInvalid) {
		t.Fatalf("old PAR on the new drive: %v", err)
	}
	if _, err := f.c.DeleteDrive(ctx(), alice, "gone"); !errors.Is(err, storage.ErrAccessDenied) {
		t.Fatalf("alice deletes bob's new drive: %v", err)
	}
}

// The races delete_drive settles by closing the drive's usage record first:
// an empty file committed, or a sub-drive created, after the close is
// taken back, and a reservation of bytes is refused.
func TestDeleteDriveRaces(t *testing.T) {
	f := start(t, "", "alice")
	alice := f.users["alice"]
	d := mustDrive(t, f, "alice", "racing", storage.DriveOptions{})
	b := f.env.Host.Service(storage.Kind).Bucket()
	// As a delete_drive does between its close and its emptiness check.
	if _, err := b.PutJSON(ctx(), "storage/usage/"+d.ID, map[string]any{"bytes": 0, "closed": true}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.c.Upload(ctx(), alice, "racing", "empty", bytes.NewReader(nil), 0, storage.UploadOptions{}); !errors.Is(err, call.ErrNotFound) {
		t.Fatalf("empty file into a closed drive: %v", err)
	}
	if _, err := f.c.Upload(ctx(), alice, "racing", "bytes", bytes.NewReader([]byte("abc")), 3, storage.UploadOptions{}); !errors.Is(err, call.ErrNotFound) {
		t.Fatalf("bytes into a closed drive: %v", err)
	}
	if _, err := f.c.CreateDrive(ctx(), alice, "racing/late", storage.DriveOptions{}); !errors.Is(err, call.ErrNotFound) {
		t.Fatalf("sub-drive of a closed drive: %v", err)
	}
	for _, prefix := range []string{"storage/versions/" + d.ID + "/", "storage/heads/" + d.ID + "/"} {
		if items, err := b.ListAll(ctx(), prefix, 10); err != nil || len(items) != 0 {
			t.Fatalf("%s after the races: %v %v", prefix, items, err)
		}
	}
	// A delete cut short after its close is finished by deleting again.
	if _, err := f.c.DeleteDrive(ctx(), alice, "racing"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.c.GetDrive(ctx(), alice, "racing/late"); !errors.Is(err, call.ErrNotFound) {
		t.Fatalf("taken-back sub-drive: %v", err)
	}
}

func purge(t *testing.T, f *fixture, drive, name string) {
	t.Helper()
	yes := true
	if _, err := f.c.DeleteFile(ctx(), f.users["alice"], drive, name, &yes); err != nil {
		t.Fatalf("purge %s/%s: %v", drive, name, err)
	}
}
