package drivertest

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/openacquire/acquire/runtime/store"
)

// EntriesReader is what every driver implements so the suite can check the
// cost of a list page: how many stored entries (directory entries, index
// keys, or listing items received from the server) its listings have read.
// The contract (driver.Driver.List): a page costs O(page + log n), never a
// read of the whole folder.
type EntriesReader interface {
	EntriesRead() int64
}

// listCostKeys is how many objects the list-cost test puts in one folder.
const listCostKeys = 400

// testListPageCost: a page of 10 from the start of a folder, from its
// middle (page token) and under a narrower prefix reads far fewer entries
// than the folder holds.
func (s *suite) testListPageCost(t *testing.T, b *store.Bucket) {
	c := ctx(t)
	er, ok := s.driver.(EntriesReader)
	if !ok || er.EntriesRead() < 0 {
		t.Fatalf("%s does not count the entries its listings read (drivertest.EntriesReader)", s.driverName)
	}
	keys := make([]string, listCostKeys)
	for i := range keys {
		keys[i] = fmt.Sprintf("lc/%04d", i*37%listCostKeys)
	}
	if err := putMany(c, b, append(keys, "lb/x", "ld/y"), 8); err != nil {
		t.Fatal(err)
	}
	first, err := b.List(c, "lc/", "", 10)
	if err != nil {
		t.Fatal(err)
	}
	mid := ""
	for range listCostKeys / 20 { // a token from the middle of the folder
		page, err := b.List(c, "lc/", mid, 10)
		if err != nil {
			t.Fatal(err)
		}
		mid = page.Next
	}
	cases := []struct{ name, prefix, token, wantFirst string }{
		{"first page", "lc/", "", "lc/0000"},
		{"page from the middle", "lc/", mid, fmt.Sprintf("lc/%04d", listCostKeys/2)},
		{"narrower prefix", "lc/03", "", "lc/0300"},
		{"second page", "lc/", first.Next, "lc/0010"},
	}
	for _, tc := range cases {
		before := er.EntriesRead()
		page, err := b.List(c, tc.prefix, tc.token, 10)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		read := er.EntriesRead() - before
		if len(page.Items) != 10 || page.Items[0].Key != tc.wantFirst {
			t.Fatalf("%s: %d items starting %v, want 10 from %s", tc.name, len(page.Items), page.Items, tc.wantFirst)
		}
		if read >= listCostKeys/2 {
			t.Errorf("%s: a page of 10 read %d entries of a folder of %d", tc.name, read, listCostKeys)
		}
	}
}

// longPrefix is shared by every name of the long-prefix list-cost test: a
// drive's file heads under one deep folder look like this (the folder's
// '/' escaped), and it is longer than a tree of one-byte buckets follows.
const longPrefix = "docs%2F2026%2Fquarterly-reports%2Fengineering%2Freport-"

// testListPageCostLongPrefix: in a folder whose names all share a long
// prefix, a page of 10 from the start and from the middle still reads far
// fewer entries than the folder holds.
func (s *suite) testListPageCostLongPrefix(t *testing.T, b *store.Bucket) {
	c := ctx(t)
	er, ok := s.driver.(EntriesReader)
	if !ok {
		t.Fatalf("%s does not count the entries its listings read (drivertest.EntriesReader)", s.driverName)
	}
	keys := make([]string, listCostKeys)
	for i := range keys {
		keys[i] = fmt.Sprintf("lq/%s%06d", longPrefix, i*37%listCostKeys)
	}
	if err := putMany(c, b, append(keys, "lq/a", "lq/z"), 8); err != nil {
		t.Fatal(err)
	}
	mid := ""
	for range listCostKeys / 20 {
		page, err := b.List(c, "lq/"+longPrefix, mid, 10)
		if err != nil {
			t.Fatal(err)
		}
		mid = page.Next
	}
	cases := []struct{ name, prefix, token, wantFirst string }{
		{"first page", "lq/", "", "lq/a"},
		{"first page under the prefix", "lq/" + longPrefix, "", fmt.Sprintf("lq/%s%06d", longPrefix, 0)},
		{"page from the middle", "lq/" + longPrefix, mid, fmt.Sprintf("lq/%s%06d", longPrefix, listCostKeys/2)},
	}
	for _, tc := range cases {
		before := er.EntriesRead()
		page, err := b.List(c, tc.prefix, tc.token, 10)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		read := er.EntriesRead() - before
		if len(page.Items) != 10 || page.Items[0].Key != tc.wantFirst {
			t.Fatalf("%s: %d items starting %v, want 10 from %s", tc.name, len(page.Items), page.Items, tc.wantFirst)
		}
		if read >= listCostKeys/2 {
			t.Errorf("%s: a page of 10 read %d entries of a folder of %d sharing a %d-byte prefix", tc.name, read, listCostKeys, len(longPrefix))
		}
	}
}

// putMany writes keys from workers goroutines.
func putMany(ctx context.Context, b *store.Bucket, keys []string, workers int) error {
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for range workers {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= len(keys) {
					return
				}
				if _, err := b.Put(ctx, keys[i], []byte("x")); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// benchListLargeKeys is the folder size BenchmarkListLarge pages through:
// the contract says a page costs the same here as in a folder of 1000.
const benchListLargeKeys = 100_000

// BenchmarkListLarge reads one page of 100 from the middle of a folder of
// 10^5 objects (built by 16 writers; on a cloud server that takes minutes)
// and reports the entries the driver read per page.
func BenchmarkListLarge(b *testing.B, newDriver func(testing.TB) store.Driver) {
	d := newDriver(b)
	bk := store.NewBucket(d)
	b.Cleanup(func() { _ = bk.Close() })
	ctx := context.Background()
	keys := make([]string, benchListLargeKeys)
	for i := range keys {
		keys[i] = fmt.Sprintf("big/%09d", i*7919%benchListLargeKeys)
	}
	t0 := time.Now()
	if err := putMany(ctx, bk, keys, 16); err != nil {
		b.Fatal(err)
	}
	b.Logf("built %d objects in %v", len(keys), time.Since(t0).Round(time.Millisecond))
	token := ""
	for range benchListLargeKeys / 2 / 1000 {
		page, err := bk.List(ctx, "big/", token, 1000)
		if err != nil {
			b.Fatal(err)
		}
		token = page.Next
	}
	er, _ := d.(EntriesReader)
	var read0 int64
	if er != nil {
		read0 = er.EntriesRead()
	}
	var lat latencies
	b.ResetTimer()
	for b.Loop() {
		t0 := time.Now()
		page, err := bk.List(ctx, "big/", token, 100)
		if err != nil || len(page.Items) != 100 {
			b.Fatalf("List: %d items, %v", len(page.Items), err)
		}
		lat.add(time.Since(t0))
	}
	lat.report(b)
	if er != nil {
		b.ReportMetric(float64(er.EntriesRead()-read0)/float64(b.N), "entries/page")
	}
}
