package memstore_test

import (
	"context"
	"testing"

	"github.com/openacquire/acquire/runtime/store"
	"github.com/openacquire/acquire/runtime/store/drivertest"
	"github.com/openacquire/acquire/runtime/store/memstore"
)

func newDriver(testing.TB) store.Driver { return memstore.New() }

func TestConformance(t *testing.T) {
	drivertest.RunConformance(t, func(t *testing.T) store.Driver { return newDriver(t) })
}

func TestNamedBucketsShareData(t *testing.T) {
	ctx := context.Background()
	a := store.NewBucket(memstore.Named("test-shared"))
	b := store.NewBucket(memstore.Named("test-shared"))
	other := store.NewBucket(memstore.Named("test-other"))
	if _, err := a.Put(ctx, "k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if got, _, err := b.Get(ctx, "k"); err != nil || string(got) != "v" {
		t.Fatalf("second handle: %q, %v", got, err)
	}
	if _, _, err := other.Get(ctx, "k"); err == nil {
		t.Fatal("another name sees the data")
	}
}

func BenchmarkPutIfAbsent(b *testing.B) { drivertest.BenchmarkPutIfAbsent(b, newDriver) }
func BenchmarkPutIfAbsentParallel(b *testing.B) {
	drivertest.BenchmarkPutIfAbsentParallel(b, newDriver)
}
func BenchmarkGet(b *testing.B)  { drivertest.BenchmarkGet(b, newDriver) }
func BenchmarkCAS(b *testing.B)  { drivertest.BenchmarkCAS(b, newDriver) }
func BenchmarkList(b *testing.B) { drivertest.BenchmarkList(b, newDriver) }

func BenchmarkListLarge(b *testing.B) { drivertest.BenchmarkListLarge(b, newDriver) }
