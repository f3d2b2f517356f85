package drivertest

import (
	"bytes"
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/openacquire/acquire/runtime/store"
)

// benchObjectBytes is the size of a typical ledger line item.
const benchObjectBytes = 256

var benchData = bytes.Repeat([]byte{'x'}, benchObjectBytes)

func benchBucket(b *testing.B, newDriver func(testing.TB) store.Driver) *store.Bucket {
	b.Helper()
	bk := store.NewBucket(newDriver(b))
	b.Cleanup(func() { _ = bk.Close() })
	return bk
}

// BenchmarkPutIfAbsent creates a new key per iteration (the ledger's
// append of line item n+1).
func BenchmarkPutIfAbsent(b *testing.B, newDriver func(testing.TB) store.Driver) {
	bk := benchBucket(b, newDriver)
	ctx := context.Background()
	b.SetBytes(benchObjectBytes)
	i := 0
	for b.Loop() {
		if _, err := bk.PutIfAbsent(ctx, fmt.Sprintf("bench/%09d", i), benchData); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkPutIfAbsentParallel is the same from GOMAXPROCS*4 goroutines,
// the way many requests append at once; flushes to disk overlap.
func BenchmarkPutIfAbsentParallel(b *testing.B, newDriver func(testing.TB) store.Driver) {
	bk := benchBucket(b, newDriver)
	ctx := context.Background()
	var n atomic.Int64
	b.SetBytes(benchObjectBytes)
	b.SetParallelism(4)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := bk.PutIfAbsent(ctx, fmt.Sprintf("bench/%09d", n.Add(1)), benchData); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkGet reads one small object repeatedly.
func BenchmarkGet(b *testing.B, newDriver func(testing.TB) store.Driver) {
	bk := benchBucket(b, newDriver)
	ctx := context.Background()
	if _, err := bk.Put(ctx, "bench/get", benchData); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(benchObjectBytes)
	for b.Loop() {
		if _, _, err := bk.Get(ctx, "bench/get"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCAS chains PutIfVersion on one key, each with the version the
// previous write returned (an uncontended compare-and-swap).
func BenchmarkCAS(b *testing.B, newDriver func(testing.TB) store.Driver) {
	bk := benchBucket(b, newDriver)
	ctx := context.Background()
	v, err := bk.Put(ctx, "bench/cas", benchData)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(benchObjectBytes)
	for b.Loop() {
		if v, err = bk.PutIfVersion(ctx, "bench/cas", benchData, v); err != nil {
			b.Fatal(err)
		}
	}
}

// benchListKeys is how many objects BenchmarkList lists a page of.
const benchListKeys = 1000

// BenchmarkList reads one page of 100 from a prefix holding benchListKeys
// objects (one directory of a ledger account, say).
func BenchmarkList(b *testing.B, newDriver func(testing.TB) store.Driver) {
	bk := benchBucket(b, newDriver)
	ctx := context.Background()
	for i := range benchListKeys {
		if _, err := bk.Put(ctx, fmt.Sprintf("bench/%09d", i), benchData); err != nil {
			b.Fatal(err)
		}
	}
	for b.Loop() {
		page, err := bk.List(ctx, "bench/", "", 100)
		if err != nil || len(page.Items) != 100 {
			b.Fatalf("List: %d items, %v", len(page.Items), err)
		}
	}
}
