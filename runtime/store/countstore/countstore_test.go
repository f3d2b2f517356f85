package countstore_test

import (
	"context"
	"errors"
	"hash/crc32"
	"io"
	"testing"

	"github.com/openacquire/acquire/runtime/store"
	"github.com/openacquire/acquire/runtime/store/countstore"
	"github.com/openacquire/acquire/runtime/store/drivertest"
	"github.com/openacquire/acquire/runtime/store/filestore"
	"github.com/openacquire/acquire/runtime/store/memstore"
)

// The wrapper is a driver like any other: it passes the conformance suite
// over the memory store (no extensions) and the file store (streams, CRCs).
func TestConformanceOverMemory(t *testing.T) {
	drivertest.RunConformance(t, func(*testing.T) store.Driver { return countstore.Wrap(memstore.New(), &countstore.Counter{}) })
}

func TestConformanceOverFiles(t *testing.T) {
	drivertest.RunConformance(t, func(t *testing.T) store.Driver {
		d, err := filestore.Open(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		d.SetSplitSize(64) // so the list-cost test's folder of 400 splits
		return countstore.Wrap(d, &countstore.Counter{})
	})
}

// Each request lands in its class, failed ones too; signing counts nothing.
func TestCountsByClass(t *testing.T) {
	ctx := context.Background()
	for name, open := range map[string]func(t *testing.T) store.Driver{
		"memory": func(*testing.T) store.Driver { return memstore.New() },
		"files": func(t *testing.T) store.Driver {
			d, err := filestore.Open(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			return d
		},
	} {
		t.Run(name, func(t *testing.T) {
			var c countstore.Counter
			b := store.NewBucket(countstore.Wrap(open(t), &c))
			step := func(want countstore.Counts, do func() error) {
				t.Helper()
				before := c.Snapshot()
				_ = do()
				if got := c.Snapshot().Sub(before); got != want {
					t.Fatalf("counted %v, want %v", got, want)
				}
			}
			var v store.Version
			step(countstore.Counts{CondPut: 1}, func() (err error) { v, err = b.PutIfAbsent(ctx, "a", []byte("1")); return err })
			step(countstore.Counts{CondPut: 1}, func() error { _, err := b.PutIfAbsent(ctx, "a", []byte("1")); return err }) // refused, still billed
			step(countstore.Counts{CondPut: 1}, func() (err error) { v, err = b.PutIfVersion(ctx, "a", []byte("2"), v); return err })
			step(countstore.Counts{Put: 1}, func() error { _, err := b.Put(ctx, "b", []byte("x")); return err })
			data := []byte("chunk")
			step(countstore.Counts{Put: 1}, func() error {
				_, err := b.PutCRC32C(ctx, "c", data, crc32.Checksum(data, crc32.MakeTable(crc32.Castagnoli)))
				return err
			})
			step(countstore.Counts{Get: 1}, func() error { _, _, err := b.Get(ctx, "a"); return err })
			step(countstore.Counts{Get: 1}, func() error {
				st, err := b.Open(ctx, "c")
				if err != nil {
					return err
				}
				defer func() { _ = st.Close() }()
				got, err := io.ReadAll(st.R)
				if string(got) != "chunk" {
					t.Errorf("streamed %q, %v", got, err)
				}
				return err
			})
			step(countstore.Counts{List: 2}, func() error {
				p, err := b.List(ctx, "", "", 2)
				if err == nil {
					_, err = b.List(ctx, "", p.Next, 2)
				}
				return err
			})
			step(countstore.Counts{Delete: 1}, func() error { return b.Delete(ctx, "b") })
			step(countstore.Counts{Delete: 1}, func() error { return b.DeleteIfVersion(ctx, "a", v) })
			step(countstore.Counts{}, func() error { _, err := b.SignedURL(ctx, "c", "GET", 60e9); return err })
			if c.Snapshot().Total() != 11 {
				t.Fatalf("total %d, want 11", c.Snapshot().Total())
			}
		})
	}
}

// A wrong CRC is refused before anything lands, with or without the
// extension underneath, as store.Bucket does.
func TestWrongCRCRefused(t *testing.T) {
	ctx := context.Background()
	b := store.NewBucket(countstore.Wrap(memstore.New(), &countstore.Counter{}))
	if _, err := b.PutCRC32C(ctx, "k", []byte("data"), 1); !errors.Is(err, store.ErrInvalidArgument) {
		t.Fatalf("wrong crc: %v", err)
	}
	if _, _, err := b.Get(ctx, "k"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("after a refused put: %v", err)
	}
}

// Requests under a diverted context count there, not in the driver's counter.
func TestDivert(t *testing.T) {
	var own, other countstore.Counter
	b := store.NewBucket(countstore.Wrap(memstore.New(), &own))
	ctx := countstore.Divert(context.Background(), &other)
	if _, err := b.Put(ctx, "k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	if _, _, err := b.Get(context.Background(), "k"); err != nil {
		t.Fatal(err)
	}
	if own.Snapshot() != (countstore.Counts{Get: 1}) || other.Snapshot() != (countstore.Counts{Put: 1}) {
		t.Fatalf("own %v, diverted %v", own.Snapshot(), other.Snapshot())
	}
}
