package storage_test

import (
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/openacquire/acquire/runtime/storage"
	"github.com/openacquire/acquire/runtime/store"
)

// TestDeleteDriveTree: a drive goes with every file (versions kept after a
// delete, chunked files' chunks, versions whose head was lost) and every
// sub-drive, deepest first; purge_drive is bounded per call; writers are
// refused and change nothing.
func TestDeleteDriveTree(t *testing.T) {
	f := start(t, "", "alice", "bob")
	alice, bob := f.users["alice"], f.users["bob"]
	for _, d := range []string{"tree", "tree/a", "tree/a/b", "tree/c"} {
		mustDrive(t, f, "alice", d, storage.DriveOptions{})
	}
	if _, err := f.c.SetACL(ctx(), alice, "tree", &storage.ACL{Rules: []storage.Rule{userRule(f, "alice", storage.RoleOwner), userRule(f, "bob", storage.RoleWrite)}}); err != nil {
		t.Fatal(err)
	}
	big := data(storage.InlineMaxBytes+2*chunk+3, 7)
	upload(t, f, "alice", "tree", "x", big)
	upload(t, f, "alice", "tree", "x", big[:10])
	upload(t, f, "alice", "tree", "kept", []byte("kept"))
	keep := false
	if _, err := f.c.DeleteFile(ctx(), alice, "tree", "kept", &keep); err != nil {
		t.Fatal(err)
	}
	upload(t, f, "alice", "tree/a", "y", []byte("yy"))
	for i := range storage.MaxPurgeNames + 1 {
		upload(t, f, "alice", "tree/a/b", fmt.Sprintf("n%03d", i), nil)
	}
	orphan := upload(t, f, "alice", "tree/c", "lost-head", []byte("z"))
	dropHead(t, f, "tree/c", orphan.Name)
	wantBytes := int64(len(big) + 10 + len("kept") + len("yy") + 1)

	if _, err := f.c.DeleteDriveTree(ctx(), bob, "tree", nil); !errors.Is(err, storage.ErrAccessDenied) {
		t.Fatalf("a writer deletes the tree: %v", err)
	}
	if got, _ := download(t, f, "alice", "tree", "x", 1); len(got) != len(big) {
		t.Fatal("a refused tree delete changed a file")
	}

	r, err := f.c.PurgeDrive(ctx(), alice, "tree/a/b")
	if err != nil || r.Names != storage.MaxPurgeNames || r.Done {
		t.Fatalf("first purge of %d names: %+v %v", storage.MaxPurgeNames+1, r, err)
	}
	var calls int
	out, err := f.c.DeleteDriveTree(ctx(), alice, "tree", func(storage.TreeDeleted) { calls++ })
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"tree/a/b", "tree/c", "tree/a", "tree"}
	if !slices.Equal(out.Drives, want) || out.Names != 5 || out.Bytes != wantBytes {
		t.Fatalf("deleted %+v, want drives %v, 5 names, %d bytes", out, want, wantBytes)
	}
	if calls < 2*len(want) {
		t.Fatalf("progress told %d times", calls)
	}
	if l, err := f.c.ListDrives(ctx(), alice, ""); err != nil || len(l.Drives) != 0 {
		t.Fatalf("alice's drives: %+v %v", l, err)
	}
	b := f.env.Host.Service(storage.Kind).Bucket()
	for _, pre := range []string{"storage/versions/", "storage/heads/", "storage/blobs/"} {
		if left, err := b.ListAll(ctx(), pre, 10); err != nil || len(left) != 0 {
			t.Fatalf("left under %s: %v %v", pre, left, err)
		}
	}
	mustDrive(t, f, "bob", "tree", storage.DriveOptions{})
}

// dropHead deletes a name's head, as a version write whose head update was
// lost leaves it.
func dropHead(t *testing.T, f *fixture, drive, name string) {
	t.Helper()
	d, err := f.c.GetDrive(ctx(), f.users["alice"], drive)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.env.Host.Service(storage.Kind).Bucket().Delete(ctx(), "storage/heads/"+d.ID+"/"+store.EncodeName(name)); err != nil {
		t.Fatal(err)
	}
}
