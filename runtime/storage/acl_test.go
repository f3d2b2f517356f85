package storage_test

import (
	"bytes"
	"errors"
	"io"
	"strconv"
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
		storage.GroupRule(member(f, "alice"), "team", storage.RoleWrite)}}
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

	// Group membership is the group owner's to change: carol's set_group
	// makes a "team" of her own, and alice's is as it was.
	if _, err := f.c.SetGroup(ctx(), carol, "team", nil); err != nil {
		t.Fatal(err)
	}
	upload(t, f, "carol", "proj/sub", "still", []byte("in alice's team"))
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

// TestGroupTakeover is issue 25's repro: alice gives group "team" owner
// on her drive; mallory makes a group "team" of her own with herself in
// it. Groups belong to their owners, so mallory's "team" is not the one
// alice's rule names: she neither reads the drive nor takes it over.
func TestGroupTakeover(t *testing.T) {
	f := start(t, "", "alice", "bob", "mallory")
	alice, bob, mallory := f.users["alice"], f.users["bob"], f.users["mallory"]
	mustDrive(t, f, "alice", "proj", storage.DriveOptions{})
	upload(t, f, "alice", "proj", "plans", []byte("secret"))

	// The rule as it was written before groups had owners, naming a group
	// nobody has made yet: refused, not left for the first taker.
	_, err := f.c.SetACL(ctx(), alice, "proj", &storage.ACL{Rules: []storage.Rule{userRule(f, "alice", storage.RoleOwner),
		{Kind: storage.RuleGroup, Group: "team", Role: storage.RoleOwner}}})
	if err == nil {
		t.Errorf("a rule for group \"team\", which did not exist, was accepted")
	}
	if _, err := f.c.SetGroup(ctx(), mallory, "team", []storage.Principal{member(f, "mallory")}); err != nil {
		t.Fatal(err)
	}
	// Alice's own "team" does not exist either (mallory's is mallory's).
	_, err = f.c.SetACL(ctx(), alice, "proj", &storage.ACL{Rules: []storage.Rule{userRule(f, "alice", storage.RoleOwner),
		storage.GroupRule(member(f, "alice"), "team", storage.RoleOwner)}})
	if err != nil {
		wantClass(t, err, call.ErrNotFound)
	}
	// Alice makes her team (bob) and names it.
	if _, err := f.c.CreateGroup(ctx(), alice, "team", []storage.Principal{member(f, "bob")}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.c.SetACL(ctx(), alice, "proj", &storage.ACL{Rules: []storage.Rule{userRule(f, "alice", storage.RoleOwner),
		storage.GroupRule(member(f, "alice"), "team", storage.RoleOwner)}}); err != nil {
		t.Fatal(err)
	}

	// Mallory: no read, no list, no new ACL, no change to alice's group.
	if _, err := f.c.Download(ctx(), mallory, "proj", "plans", io.Discard, storage.DownloadOptions{}); !errors.Is(err, storage.ErrAccessDenied) {
		t.Fatalf("mallory downloads alice's file through a group named team: %v", err)
	}
	_, err = f.c.ListFiles(ctx(), mallory, "proj", "", 0)
	wantClass(t, err, storage.ErrAccessDenied)
	_, err = f.c.SetACL(ctx(), mallory, "proj", &storage.ACL{Rules: []storage.Rule{userRule(f, "mallory", storage.RoleOwner)}})
	if !errors.Is(err, storage.ErrAccessDenied) {
		t.Fatalf("mallory sets herself sole owner of alice's drive: %v", err)
	}
	if _, err := f.c.EditGroup(ctx(), mallory, "team", []storage.Principal{member(f, "mallory")}, nil); err != nil {
		t.Fatal(err) // her own team
	}
	_, err = f.c.GetGroup(ctx(), mallory, ptr(member(f, "alice")), "team")
	wantClass(t, err, call.ErrNotFound)
	if g, err := f.c.GetGroup(ctx(), alice, nil, "team"); err != nil || len(g.Members) != 1 || g.Members[0] != member(f, "bob") {
		t.Fatalf("alice's team after mallory's calls: %+v %v", g, err)
	}

	// Bob, in alice's team, is an owner; alice still is.
	if got, _ := download(t, f, "bob", "proj", "plans", 0); string(got) != "secret" {
		t.Fatal("bob (alice's team) cannot read")
	}
	if info, err := f.c.GetACL(ctx(), alice, "proj"); err != nil || info.Role != storage.RoleOwner {
		t.Fatalf("alice's role: %+v %v", info, err)
	}
	if g, err := f.c.GetGroup(ctx(), bob, ptr(member(f, "alice")), "team"); err != nil || g.Owner != member(f, "alice") {
		t.Fatalf("bob reads the team he is in: %+v %v", g, err)
	}
}

// TestGroupCalls: create, edit, list; the refusals.
func TestGroupCalls(t *testing.T) {
	f := start(t, "", "alice", "bob", "carol")
	alice, bob := f.users["alice"], f.users["bob"]
	if _, err := f.c.CreateGroup(ctx(), alice, "team", nil); err != nil {
		t.Fatal(err)
	}
	_, err := f.c.CreateGroup(ctx(), alice, "team", nil)
	wantClass(t, err, call.ErrExists)
	// Bob's group of the same name is another group.
	if _, err := f.c.CreateGroup(ctx(), bob, "team", []storage.Principal{member(f, "carol")}); err != nil {
		t.Fatal(err)
	}
	g, err := f.c.EditGroup(ctx(), alice, "team", []storage.Principal{member(f, "bob"), member(f, "carol"), member(f, "bob")}, nil)
	if err != nil || len(g.Members) != 2 {
		t.Fatalf("add: %+v %v", g, err)
	}
	if g, err = f.c.EditGroup(ctx(), alice, "team", nil, []storage.Principal{member(f, "bob")}); err != nil || len(g.Members) != 1 || g.Members[0] != member(f, "carol") {
		t.Fatalf("remove: %+v %v", g, err)
	}
	_, err = f.c.EditGroup(ctx(), alice, "nope", []storage.Principal{member(f, "bob")}, nil)
	wantClass(t, err, call.ErrNotFound)
	l, err := f.c.ListGroups(ctx(), alice)
	if err != nil || len(l.Groups) != 1 || l.Groups[0].Name != "team" || l.Groups[0].Owner != member(f, "alice") {
		t.Fatalf("alice's groups: %+v %v", l, err)
	}
	// Bad input changes nothing.
	for _, bad := range [][]storage.Principal{{{UserUID: "x"}}, {{IdentityURL: "u", UserUID: "x", PAR: "p"}}, {{IdentityURL: "u\n", UserUID: "x"}}} {
		_, err = f.c.EditGroup(ctx(), alice, "team", bad, nil)
		wantClass(t, err, call.ErrBadArguments)
	}
	many := make([]storage.Principal, storage.MaxGroupMembers+1)
	for i := range many {
		many[i] = storage.Principal{IdentityURL: "https://id.example", UserUID: string(rune('a'+i%26)) + strconv.Itoa(i)}
	}
	_, err = f.c.SetGroup(ctx(), alice, "team", many)
	wantClass(t, err, storage.ErrTooMany)
	_, err = f.c.CreateGroup(ctx(), alice, "../x", nil)
	wantClass(t, err, storage.ErrInvalidName)
	if g, err := f.c.GetGroup(ctx(), alice, nil, "team"); err != nil || len(g.Members) != 1 {
		t.Fatalf("after refusals: %+v %v", g, err)
	}
	// A group rule without its owner is refused.
	mustDrive(t, f, "alice", "d", storage.DriveOptions{})
	_, err = f.c.SetACL(ctx(), alice, "d", &storage.ACL{Rules: []storage.Rule{userRule(f, "alice", storage.RoleOwner),
		{Kind: storage.RuleGroup, Group: "team", Role: storage.RoleRead}}})
	wantClass(t, err, call.ErrBadArguments)
	// Another user's existing group may be named: its owner says who is in it.
	if _, err := f.c.SetACL(ctx(), alice, "d", &storage.ACL{Rules: []storage.Rule{userRule(f, "alice", storage.RoleOwner),
		storage.GroupRule(member(f, "bob"), "team", storage.RoleRead)}}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.c.ListFiles(ctx(), f.users["carol"], "d", "", 0); err != nil {
		t.Fatalf("carol, in bob's team: %v", err)
	}
}

func ptr[T any](v T) *T { return &v }
