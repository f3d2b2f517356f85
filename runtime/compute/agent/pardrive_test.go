package agent_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/openacquire/acquire/runtime/call"
	"github.com/openacquire/acquire/runtime/compute/agent"
	"github.com/openacquire/acquire/runtime/host/hosttest"
	"github.com/openacquire/acquire/runtime/identity"
	"github.com/openacquire/acquire/runtime/registry"
	"github.com/openacquire/acquire/runtime/storage"
	"github.com/openacquire/acquire/runtime/wallet"
)

// TestJobLinksDoNotFillTheWallet: the services a job's links name are the
// job's choice, so 5,000 links each naming "another" service (a query
// string per job made a new URL, and each a pin: 3,848 filled the agent's
// 4 MiB wallet, each rewriting and syncing the whole file) add nothing to
// the agent's wallet, and the agent still moves a real job's files.
func TestJobLinksDoNotFillTheWallet(t *testing.T) {
	env := hosttest.Start(t, hosttest.Options{Kinds: []string{registry.Kind, identity.Kind, storage.Kind}})
	alice := env.Users(t, "Alice-Password-1", "alice")["alice"]
	ctx := context.Background()
	sc := &storage.Client{C: env.Client, URL: env.Host.ServiceURL(storage.Kind)}
	if _, err := sc.CreateDrive(ctx, alice, "in", storage.DriveOptions{}); err != nil {
		t.Fatal(err)
	}
	par, err := sc.CreatePAR(ctx, alice, "in", "", storage.PARRead, env.Clock.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	w, err := wallet.Open(dir, wallet.Options{Clock: env.Clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	c := call.NewClient(w)
	c.Clock = env.Clock.Now
	d := &agent.PARDrive{C: c}
	svc, rest, _ := strings.Cut(par.Link, storage.PARLinkPath)
	walletBytes := func() int64 {
		fi, err := os.Stat(filepath.Join(dir, wallet.FileName))
		if errors.Is(err, os.ErrNotExist) {
			return 0
		}
		if err != nil {
			t.Fatal(err)
		}
		return fi.Size()
	}
	before := walletBytes()
	for i := range 5000 {
		link := fmt.Sprintf("%s?job=%d%s%s", svc, i, storage.PARLinkPath, rest)
		_ = d.Fetch(ctx, link, t.TempDir()) // refused or done: either way no pin may stay
		if i%100 == 99 {
			if n := len(w.Pins()); n != 0 || walletBytes() > before+4096 {
				t.Fatalf("after %d job links the wallet holds %d pins, %d bytes (was %d)", i+1, n, walletBytes(), before)
			}
		}
	}
	// The agent still works: a real link's files arrive, its pin stays
	// in memory, and the wallet is as it was.
	if err := d.Fetch(ctx, par.Link, t.TempDir()); err != nil {
		t.Fatalf("a real link after 5,000 others: %v", err)
	}
	if n := len(w.Pins()); n != 0 {
		t.Fatalf("a job's link left %d pins in the agent's wallet", n)
	}
}

// TestOverlayPins: pins the wallet holds are checked against it and moved
// forward there; others stay in memory, at most Max.
func TestOverlayPins(t *testing.T) {
	trusted := &call.MemoryPins{}
	_ = trusted.Pin("https://storage.example/storage", "fp-1")
	o := &call.OverlayPins{Trusted: trusted, Max: 2}
	if fp, ok := o.Pinned("https://storage.example/storage"); !ok || fp != "fp-1" {
		t.Fatalf("trusted pin not used: %q %v", fp, ok)
	}
	if err := o.Pin("https://storage.example/storage", "fp-2"); err != nil {
		t.Fatal(err)
	}
	if fp, _ := trusted.Pinned("https://storage.example/storage"); fp != "fp-2" {
		t.Fatalf("a trusted pin did not move forward: %q", fp)
	}
	for i, u := range []string{"https://a.example/s", "https://b.example/s"} {
		if err := o.Pin(u, fmt.Sprint("x", i)); err != nil {
			t.Fatal(err)
		}
		if _, ok := trusted.Pinned(u); ok {
			t.Fatalf("%s reached the trusted pins", u)
		}
	}
	var tooMany *call.ErrTooManyServices
	if err := o.Pin("https://c.example/s", "x"); !errors.As(err, &tooMany) {
		t.Fatalf("a third service: err = %v, want ErrTooManyServices", err)
	}
}
