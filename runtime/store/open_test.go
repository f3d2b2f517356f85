package store

import (
	"context"
	"errors"
	"net/url"
	"path/filepath"
	"testing"

	"github.com/openacquire/acquire/runtime/store/memstore"
)

func TestOpenMemShared(t *testing.T) {
	ctx := context.Background()
	a, err := Open(ctx, "mem://open-test")
	if err != nil {
		t.Fatal(err)
	}
	b, err := Open(ctx, "mem://open-test")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Put(ctx, "k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	if got, _, err := b.Get(ctx, "k"); err != nil || string(got) != "v" {
		t.Fatalf("second Open of mem://open-test: %q %v", got, err)
	}
	private, err := Open(ctx, "mem://")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := private.Get(ctx, "k"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("mem:// shares data: %v", err)
	}
}

func TestOpenFileForms(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	t.Chdir(dir)
	urls := []string{
		"file://" + filepath.Join(dir, "abs"),
		"file://localhost" + filepath.Join(dir, "abs"),
		"file://./abs",
		filepath.Join(dir, "abs"),
		"abs",
	}
	first, err := Open(ctx, urls[0])
	if err != nil {
		t.Fatal(err)
	}
	if _, err := first.Put(ctx, "k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	for _, u := range urls {
		b, err := Open(ctx, u)
		if err != nil {
			t.Fatalf("Open(%q): %v", u, err)
		}
		if got, _, err := b.Get(ctx, "k"); err != nil || string(got) != "v" {
			t.Fatalf("Open(%q) is another folder: %q %v", u, got, err)
		}
	}
}

func TestOpenRefuses(t *testing.T) {
	ctx := context.Background()
	cases := map[string]error{
		"nosuch://x":          ErrUnsupported,
		"file://otherhost/x":  ErrInvalidArgument,
		"file://":             ErrInvalidArgument,
		"file:///x?opt=1":     ErrInvalidArgument,
		"mem://name/sub/path": ErrInvalidArgument,
	}
	for u, want := range cases {
		if _, err := Open(ctx, u); !errors.Is(err, want) {
			t.Errorf("Open(%q) = %v, want %v", u, err, want)
		}
	}
}

func TestRegisterScheme(t *testing.T) {
	// The registry is process-global: unregister so -count=N can rerun.
	t.Cleanup(func() {
		registry.Lock()
		delete(registry.openers, "testscheme")
		registry.Unlock()
	})
	var got *url.URL
	RegisterScheme("testscheme", func(_ context.Context, u *url.URL) (Driver, error) {
		got = u
		return memstore.New(), nil
	})
	if _, err := Open(context.Background(), "testscheme://bucket/pre?region=x"); err != nil {
		t.Fatal(err)
	}
	if got.Host != "bucket" || got.Query().Get("region") != "x" {
		t.Fatalf("opener got %v", got)
	}
	for _, s := range []string{"testscheme", "Bad", "", "mem"} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("RegisterScheme(%q) did not panic", s)
				}
			}()
			RegisterScheme(s, func(context.Context, *url.URL) (Driver, error) { return nil, nil })
		}()
	}
}
