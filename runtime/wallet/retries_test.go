package wallet

import (
	"path/filepath"
	"testing"
	"time"
)

// Derived ids are stable per wallet (across opens) and differ between
// wallets, so nobody without the wallet can predict them.
func TestDeriveIDStablePerWallet(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a")
	a, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	id1, err := a.DeriveID("chq-", "cheque for request", "http://x/identity", "u1", "order-1")
	if err != nil || len(id1) != 44 {
		t.Fatalf("%q %v", id1, err)
	}
	a2, _ := Open(dir, Options{})
	if id2, _ := a2.DeriveID("chq-", "cheque for request", "http://x/identity", "u1", "order-1"); id2 != id1 {
		t.Fatalf("reopened wallet derived %s, then %s", id1, id2)
	}
	if id3, _ := a.DeriveID("chq-", "cheque for request", "http://x/identity", "u1", "order-2"); id3 == id1 {
		t.Fatal("another request id derived the same id")
	}
	b, _ := Open(filepath.Join(t.TempDir(), "b"), Options{})
	if idb, _ := b.DeriveID("chq-", "cheque for request", "http://x/identity", "u1", "order-1"); idb == id1 {
		t.Fatal("another wallet derived the same id")
	}
}

// Remember keeps the first value until its time, then forgets it.
func TestRememberFirstValue(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	w, err := Open(t.TempDir(), Options{Clock: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	if v, err := w.Remember("k", "first", now.Add(time.Hour)); err != nil || v != "first" {
		t.Fatalf("%q %v", v, err)
	}
	if v, _ := w.Remember("k", "second", now.Add(2*time.Hour)); v != "first" {
		t.Fatalf("retry got %q", v)
	}
	now = now.Add(time.Hour)
	if v, _ := w.Remember("k", "third", now.Add(time.Hour)); v != "third" {
		t.Fatalf("after its time: %q", v)
	}
}
