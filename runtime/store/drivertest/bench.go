package drivertest

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

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
	var lat latencies
	for b.Loop() {
		t0 := time.Now()
		if _, err := bk.PutIfAbsent(ctx, fmt.Sprintf("bench/%09d", i), benchData); err != nil {
			b.Fatal(err)
		}
		lat.add(time.Since(t0))
		i++
	}
	lat.report(b)
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
	var lat latencies
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			t0 := time.Now()
			if _, err := bk.PutIfAbsent(ctx, fmt.Sprintf("bench/%09d", n.Add(1)), benchData); err != nil {
				b.Error(err)
				return
			}
			lat.add(time.Since(t0))
		}
	})
	lat.report(b)
}

// BenchmarkGet reads one small object repeatedly.
func BenchmarkGet(b *testing.B, newDriver func(testing.TB) store.Driver) {
	bk := benchBucket(b, newDriver)
	ctx := context.Background()
	if _, err := bk.Put(ctx, "bench/get", benchData); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(benchObjectBytes)
	var lat latencies
	for b.Loop() {
		t0 := time.Now()
		if _, _, err := bk.Get(ctx, "bench/get"); err != nil {
			b.Fatal(err)
		}
		lat.add(time.Since(t0))
	}
	lat.report(b)
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
	var lat latencies
	for b.Loop() {
		t0 := time.Now()
		if v, err = bk.PutIfVersion(ctx, "bench/cas", benchData, v); err != nil {
			b.Fatal(err)
		}
		lat.add(time.Since(t0))
	}
	lat.report(b)
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
	var lat latencies
	for b.Loop() {
		t0 := time.Now()
		page, err := bk.List(ctx, "bench/", "", 100)
		if err != nil || len(page.Items) != 100 {
			b.Fatalf("List: %d items, %v", len(page.Items), err)
		}
		lat.add(time.Since(t0))
	}
	lat.report(b)
}

// maxLatencySamples bounds the memory a run's latencies take: the first
// million operations give the percentiles.
const maxLatencySamples = 1 << 20

// latencies collects operation times for p50/p99, reported beside the
// operations per second so each server's figures read alike.
type latencies struct {
	mu sync.Mutex
	d  []time.Duration
	n  int
}

func (l *latencies) add(d time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.n++
	if len(l.d) < maxLatencySamples {
		l.d = append(l.d, d)
	}
}

func (l *latencies) report(b *testing.B) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.d) == 0 || b.Elapsed() <= 0 {
		return
	}
	slices.Sort(l.d)
	ms := func(q int) float64 { return float64(l.d[min(len(l.d)-1, len(l.d)*q/100)]) / float64(time.Millisecond) }
	b.ReportMetric(float64(l.n)/b.Elapsed().Seconds(), "ops/s")
	b.ReportMetric(ms(50), "p50-ms")
	b.ReportMetric(ms(99), "p99-ms")
}
