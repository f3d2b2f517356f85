package storage_test

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/openacquire/acquire/runtime/call"
	"github.com/openacquire/acquire/runtime/storage"
)

func userRule(f *fixture, name, role string) storage.Rule {
	s := f.users[name]
	return storage.Rule{Kind: storage.RuleUser, IdentityURL: s.IdentityURL, UserUID: s.UserUID, Role: role}
}

func member(f *fixture, name string) storage.Principal {
	s := f.users[name]
	return storage.Principal{IdentityURL: s.IdentityURL, UserUID: s.UserUID}
}

// TestACL: user, group and default rules; roles read < write < owner;
// sub-drives inherit unless they have their own; only owners change ACLs;
// every denial is AccessDeniedError.
func TestACL(t *testing.T) {
	f := start(t, "", "alice", "bob", "carol", "dave")
	alice, bob, carol, dave := f.users["alice"], f.users["bob"], f.users["carol"], f.users["dave"]
	d := mustDrive(t, f, "alice", "proj", storage.DriveOptions{})
	if d.Role != storage.RoleOwner {
		t.Fatalf("creator's role %q", d.Role)
	}
	mustDrive(t, f, "alice", "proj/sub", storage.DriveOptions{})
	mustDrive(t, f, "alice", "proj/sub/deep", storage.DriveOptions{})
	upload(t, f, "alice", "proj/sub/deep", "f", []byte("secret"))

	denied := func(who string, err error) {
		t.Helper()
		if !errors.Is(err, storage.ErrAccessDenied) {
			t.Fatalf("%s: got %v, want AccessDeniedError", who, err)
		}
	}
	// Bob has no role anywhere.
	_, err := f.c.Download(ctx(), bob, "proj/sub/deep", "f", io.Discard, storage.DownloadOptions{})
	denied("bob reads", err)
	_, err = f.c.ListFiles(ctx(), bob, "proj", "", 0)
	denied("bob lists", err)
	_, err = f.c.SetACL(ctx(), bob, "proj", &storage.ACL{Rules: []storage.Rule{userRule(f, "bob", storage.RoleOwner)}})
	denied("bob sets the ACL", err)
	_, err = f.c.CreateDrive(ctx(), bob, "proj/bobs", storage.DriveOptions{})
	denied("bob creates a sub-drive", err)

	// Bob reads, carol's group writes, everyone else reads by default... then not.
	if _, err := f.c.SetGroup(ctx(), alice, "team", []storage.Principal{member(f, "carol")}); err != nil {
		t.Fatal(err)
	}
	acl := &storage.ACL{Rules: []storage.Rule{userRule(f, "alice", storage.RoleOwner), userRule(f, "bob", storage.RoleRead),
		{Kind: storage.RuleGroup, Group: "team", Role: storage.RoleWrite}}}
	if _, err := f.c.SetACL(ctx(), alice, "proj", acl); err != nil {
		t.Fatal(err)
	}
	// Inherited two levels down.
	if got, _ := download(t, f, "bob", "proj/sub/deep", "f", 0); string(got) != "secret" {
		t.Fatal("bob cannot read through inheritance")
	}
	_, err = f.c.Upload(ctx(), bob, "proj/sub/deep", "g", bytes.NewReader([]byte("x")), 1, storage.UploadOptions{})
	denied("bob (read) writes", err)
	_, err = f.c.Upload(ctx(), bob, "proj", "g", bytes.NewReader(data(2*chunk, 1)), 2*chunk, storage.UploadOptions{ChunkBytes: chunk})
	denied("bob (read) writes in chunks", err)
	_, err = f.c.DeleteFile(ctx(), bob, "proj/sub/deep", "f", nil)
	denied("bob (read) deletes", err)
	upload(t, f, "carol", "proj/sub", "by-carol", []byte("from the team"))
	_, err = f.c.SetACL(ctx(), carol, "proj", acl)
	denied("carol (write) sets the ACL", err)
	_, err = f.c.CreatePAR(ctx(), carol, "proj", "", storage.PARRead, f.env.Clock.Now().Add(3600e9))
	denied("carol (write) creates a PAR", err)
	_, err = f.c.ListFiles(ctx(), dave, "proj/sub", "", 0)
	denied("dave reads", err)

	// Group membership is the group owner's to change: carol leaves the team.
	_, err = f.c.SetGroup(ctx(), carol, "team", nil)
	denied("carol changes alice's group", err)
	if _, err := f.c.SetGroup(ctx(), alice, "team", []storage.Principal{member(f, "dave")}); err != nil {
		t.Fatal(err)
	}
	_, err = f.c.Upload(ctx(), carol, "proj/sub", "again", bytes.NewReader([]byte("x")), 1, storage.UploadOptions{})
	denied("carol after leaving the team", err)
	upload(t, f, "dave", "proj/sub", "by-dave", []byte("x"))

	// A sub-drive's own ACL replaces the inherited one: default read only.
	own := &storage.ACL{Rules: []storage.Rule{userRule(f, "alice", storage.RoleOwner), {Kind: storage.RuleDefault, Role: storage.RoleRead}}}
	if _, err := f.c.SetACL(ctx(), alice, "proj/sub", own); err != nil {
		t.Fatal(err)
	}
	info, err := f.c.GetACL(ctx(), carol, "proj/sub/deep")
	if err != nil || info.From != "proj/sub" || info.Own != nil || info.Role != storage.RoleRead {
		t.Fatalf("get_acl: %+v %v", info, err)
	}
	_, err = f.c.Upload(ctx(), dave, "proj/sub", "x", bytes.NewReader([]byte("x")), 1, storage.UploadOptions{})
	denied("dave (group write on the parent, default read here)", err)
	// Back to inheriting.
	if _, err := f.c.SetACL(ctx(), alice, "proj/sub", nil); err != nil {
		t.Fatal(err)
	}
	upload(t, f, "dave", "proj/sub", "x", []byte("x"))

	// An owner cannot lock themselves out, nor leave a top-level drive without an ACL.
	_, err = f.c.SetACL(ctx(), alice, "proj", &storage.ACL{Rules: []storage.Rule{userRule(f, "bob", storage.RoleOwner)}})
	if !errors.Is(err, call.ErrBadArguments) {
		t.Fatalf("alice removing herself: %v", err)
	}
	if _, err := f.c.SetACL(ctx(), alice, "proj", nil); !errors.Is(err, call.ErrBadArguments) {
		t.Fatalf("top-level drive without an ACL: %v", err)
	}

	// Listing: alice's top-level drives; the sub-drives of proj for a reader.
	dl, err := f.c.ListDrives(ctx(), alice, "")
	if err != nil || len(dl.Drives) != 1 || dl.Drives[0].Name != "proj" {
		t.Fatalf("alice's drives: %+v %v", dl, err)
	}
	dl, err = f.c.ListDrives(ctx(), bob, "proj")
	if err != nil || len(dl.Drives) != 1 || dl.Drives[0].Name != "proj/sub" || dl.Drives[0].Role != storage.RoleRead {
		t.Fatalf("proj's sub-drives for bob: %+v %v", dl, err)
	}
	// Drive names are one namespace: bob cannot take "proj".
	_, err = f.c.CreateDrive(ctx(), bob, "proj", storage.DriveOptions{})
	if !errors.Is(err, call.ErrExists) {
		t.Fatalf("bob taking proj: %v", err)
	}
}
