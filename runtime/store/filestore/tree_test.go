package filestore

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/openacquire/acquire/runtime/store/driver"
)

// openSmall opens a driver whose folders split past a few entries, on
// every insertion, so the tests see deep bucket trees with few keys.
func openSmall(t *testing.T, entries int) *Driver {
	t.Helper()
	d, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	d.splitEntries, d.splitOdds = entries, 1
	d.noFlush = true // these tests are about layout, not durability
	t.Cleanup(func() { _ = d.Close() })
	return d
}

// testKeys mixes names with long common prefixes (zero-padded counters),
// random ones and bytes that need escaping, in one folder and in sub-folders.
func testKeys(n int) []string {
	r := rand.New(rand.NewPCG(1, 2))
	var keys []string
	for i := range n {
		switch i % 4 {
		case 0:
			keys = append(keys, fmt.Sprintf("f/%020d", i))
		case 1:
			keys = append(keys, fmt.Sprintf("f/%x", r.Uint64()))
		case 2:
			keys = append(keys, fmt.Sprintf("f/A.%d-%c", i, 'A'+r.IntN(60)))
		default:
			keys = append(keys, fmt.Sprintf("f/s%d/x", i))
		}
	}
	slices.Sort(keys)
	return slices.Compact(keys)
}

func listAll(t *testing.T, d *Driver, prefix string, pageSize int) []string {
	t.Helper()
	var got []string
	token := ""
	for {
		page, err := d.List(t.Context(), prefix, token, pageSize)
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range page.Items {
			got = append(got, it.Key)
		}
		if page.Next == "" {
			return got
		}
		token = page.Next
	}
}

// TestSplitKeepsOrder: once a folder has split into buckets many levels
// deep, every key is still read, listed in order (whole and from any page
// token, under a partial-name prefix too) and no directory holds much more
// than the split size.
func TestSplitKeepsOrder(t *testing.T) {
	const split = 8
	d := openSmall(t, split)
	ctx := t.Context()
	keys := testKeys(1500)
	for _, k := range keys {
		if _, err := d.Put(ctx, k, []byte(k)); err != nil {
			t.Fatal(err)
		}
	}
	buckets := 0
	err := filepath.WalkDir(d.root, func(path string, e fs.DirEntry, err error) error {
		if err != nil || !e.IsDir() {
			return err
		}
		if strings.HasSuffix(path, bucketSuffix) {
			buckets++
		}
		names, err := os.ReadDir(path)
		if err == nil && len(names) > split+260 && path != filepath.Join(d.root, locksDir) {
			t.Errorf("%s holds %d entries", path, len(names))
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if buckets < 20 {
		t.Fatalf("only %d buckets: the folder did not split", buckets)
	}
	for _, k := range keys {
		got, _, err := d.Get(ctx, k)
		if err != nil || string(got) != k {
			t.Fatalf("Get %q: %q %v", k, got, err)
		}
	}
	if got := listAll(t, d, "", 7); !slices.Equal(got, keys) {
		t.Fatalf("listed %d keys, want %d (or out of order)", len(got), len(keys))
	}
	for _, prefix := range []string{"f/0000000000000000001", "f/A.1", "f/s1", "f/a", "f/"} {
		var want []string
		for _, k := range keys {
			if strings.HasPrefix(k, prefix) {
				want = append(want, k)
			}
		}
		if got := listAll(t, d, prefix, 13); !slices.Equal(got, want) {
			t.Fatalf("prefix %q: listed %d keys, want %d", prefix, len(got), len(want))
		}
	}
	for _, i := range []int{0, 1, 700, len(keys) - 2} {
		token := base64.RawURLEncoding.EncodeToString([]byte(keys[i]))
		page, err := d.List(ctx, "f/", token, 5)
		if err != nil {
			t.Fatal(err)
		}
		want := keys[i+1 : min(i+6, len(keys))]
		var got []string
		for _, it := range page.Items {
			got = append(got, it.Key)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("after %q: got %q want %q", keys[i], got, want)
		}
	}
}

// TestPageReadsLittle: a page from the middle of a big folder reads a
// bounded number of directory entries, not the folder.
func TestPageReadsLittle(t *testing.T) {
	d := openSmall(t, 64)
	ctx := t.Context()
	const n = 4000
	for i := range n {
		if _, err := d.PutIfAbsent(ctx, fmt.Sprintf("q/job-%06d", i*7919%n), nil); err != nil {
			t.Fatal(err)
		}
	}
	for _, token := range []string{"", "q/job-002000"} {
		d.entriesRead.Store(0)
		page, err := d.List(ctx, "q/", base64.RawURLEncoding.EncodeToString([]byte(token)), 10)
		if err != nil || len(page.Items) != 10 {
			t.Fatalf("page after %q: %d items, %v", token, len(page.Items), err)
		}
		if read := d.entriesRead.Load(); read > 600 {
			t.Fatalf("a page of 10 after %q read %d directory entries of a folder of %d", token, read, n)
		}
	}
}

// TestNothingLeftBehind: deleting every object (of every kind of name)
// leaves only the root's own .tmp and .locks, both without stray files
// beyond the lock stripes.
func TestNothingLeftBehind(t *testing.T) {
	d := openSmall(t, 8)
	ctx := t.Context()
	keys := testKeys(600)
	keys = append(keys, "calls/seen/00001/a", "ledger/expiry/0001/x", strings.Repeat("L", 250)+"/y")
	for _, k := range keys {
		v, err := d.Put(ctx, k, []byte("x"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := d.PutIfVersion(ctx, k, []byte("y"), v); err != nil {
			t.Fatal(err)
		}
	}
	// A refused conditional write on an absent key makes no folders.
	if _, err := d.PutIfVersion(ctx, "never/made/k", []byte("z"), "00"); !errors.Is(err, driver.ErrPrecondition) {
		t.Fatalf("PutIfVersion on absent key: %v", err)
	}
	for _, k := range keys {
		if err := d.Delete(ctx, k); err != nil {
			t.Fatalf("Delete %q: %v", k, err)
		}
	}
	names, err := os.ReadDir(d.root)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range names {
		if e.Name() != tempDir && e.Name() != locksDir {
			t.Errorf("left behind: %s", e.Name())
		}
	}
	if tmp, _ := os.ReadDir(filepath.Join(d.root, tempDir)); len(tmp) != 0 {
		t.Errorf("%d temp files left", len(tmp))
	}
}

// TestOldLayoutReadable: a store written before lock stripes (a lock file
// beside each object) reads as before, and deleting an object removes its
// old lock file and its emptied folder.
func TestOldLayoutReadable(t *testing.T) {
	d := openSmall(t, 1000)
	ctx := t.Context()
	if _, err := d.Put(ctx, "old/k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(d.root, "old.dir", "k.lock"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if got, _, err := d.Get(ctx, "old/k"); err != nil || string(got) != "v" {
		t.Fatalf("Get: %q %v", got, err)
	}
	if got := listAll(t, d, "old/", 10); !slices.Equal(got, []string{"old/k"}) {
		t.Fatalf("List: %q", got)
	}
	if err := d.Delete(ctx, "old/k"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(d.root, "old.dir")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("old folder left: %v", err)
	}
}

// TestConcurrentSplits: writers, readers, deleters and listers on one
// folder while it splits and prunes under them: every acknowledged key is
// read back (also while splits move it), every deleted one is gone, and
// listings stay sorted without duplicates; with short names and with names
// sharing a long prefix (split under markers, some parting from it).
func TestConcurrentSplits(t *testing.T) {
	long := "docs%2F2026%2Fquarterly-reports%2Fengineering%2F"
	for _, tc := range []struct {
		name string
		key  func(i, j int) string
	}{
		{"short names", func(i, j int) string {
			if i%3 == 0 {
				return fmt.Sprintf("c/%02d-%03d", i%17, j)
			}
			return fmt.Sprintf("c/%d%03d/k", i%10, j)
		}},
		{"long shared prefix", func(i, j int) string {
			if i%3 == 0 {
				return fmt.Sprintf("c/%s-%03d", long[:i%len(long)], j)
			}
			return fmt.Sprintf("c/%s%d%03d", long, i%10, j)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) { concurrentSplits(t, tc.key) })
	}
}

func concurrentSplits(t *testing.T, key func(i, j int) string) {
	d := openSmall(t, 6)
	ctx := context.Background()
	const writers, per = 6, 120
	var wg sync.WaitGroup
	errs := make(chan error, writers*per)
	for w := range writers {
		wg.Go(func() {
			var kept []string
			for i := range per {
				k := key(i, w*per+i)
				put := d.PutIfAbsent
				if i%4 < 2 {
					put = d.Put // replaces take the key lock: another path
				}
				if _, err := put(ctx, k, []byte(k)); err != nil {
					errs <- fmt.Errorf("put %s: %w", k, err)
					return
				}
				if i%2 == 0 {
					if err := d.Delete(ctx, k); err != nil {
						errs <- fmt.Errorf("delete %s: %w", k, err)
						return
					}
					continue
				}
				kept = append(kept, k)
				for _, k := range []string{k, kept[i*7%len(kept)]} {
					if got, _, err := d.Get(ctx, k); err != nil || string(got) != k {
						errs <- fmt.Errorf("get %s while others split: %q, %w", k, got, err)
						return
					}
				}
			}
		})
	}
	wg.Go(func() {
		for range 40 {
			var prev string
			token := ""
			for {
				page, err := d.List(ctx, "c/", token, 17)
				if err != nil {
					errs <- err
					return
				}
				for _, it := range page.Items {
					if it.Key <= prev {
						errs <- fmt.Errorf("listing out of order: %q after %q", it.Key, prev)
						return
					}
					prev = it.Key
				}
				if page.Next == "" {
					break
				}
				token = page.Next
			}
		}
	})
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	want := 0
	for w := range writers {
		for i := range per {
			k := key(i, w*per+i)
			_, _, err := d.Get(ctx, k)
			if i%2 == 0 && !errors.Is(err, driver.ErrNotFound) || i%2 == 1 && err != nil {
				t.Fatalf("Get %s: %v", k, err)
			}
			if i%2 == 1 {
				want++
			}
		}
	}
	if got := listAll(t, d, "c/", 50); len(got) != want {
		t.Fatalf("listed %d keys, want %d", len(got), want)
	}
}

// TestSplitsUnderConcurrentWriters: a folder written by many goroutines at
// once still splits (a split waits for the writers to step out of the
// folder's lock rather than giving up when one is in it).
func TestSplitsUnderConcurrentWriters(t *testing.T) {
	const split = 32
	d := openSmall(t, split)
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := range 300 {
				if _, err := d.PutIfAbsent(context.Background(), fmt.Sprintf("w/acct-%09d", i*8+w), nil); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	err := filepath.WalkDir(d.root, func(path string, e fs.DirEntry, err error) error {
		if err != nil || !e.IsDir() || path == filepath.Join(d.root, locksDir) {
			return err
		}
		names, err := os.ReadDir(path)
		if err == nil && len(names) > 4*split+40 {
			t.Errorf("%s holds %d entries: it did not split under concurrent writers", path, len(names))
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// longPrefixKeys are names sharing a prefix far longer than a chain of
// one-byte buckets could follow (the old tree stopped at 20 bytes), then
// later names that part from it at several places, and some that are
// prefixes of it.
func longPrefixKeys(n int) []string {
	long := "docs%2F2026%2Fquarterly-reports%2Fengineering%2Freport-"
	var keys []string
	for i := range n {
		keys = append(keys, fmt.Sprintf("h/%s%06d", long, i*7919%n))
	}
	for i := range n / 4 {
		keys = append(keys,
			fmt.Sprintf("h/%s%04d", long[:20], i),
			fmt.Sprintf("h/%s%04d", long[:40], i),
			fmt.Sprintf("h/%sx%03d/sub", long[:i%len(long)], i))
	}
	keys = append(keys, "h/"+long[:10], "h/"+long, "h/d")
	return keys
}

// TestLongSharedPrefix: a folder of names sharing a 55-byte prefix splits
// into a shallow tree (markers, not chains of one-byte buckets), a page
// anywhere in it reads a bounded number of entries, names that arrive
// later and part from the prefix earlier are found, listed in order and
// bounded too, and deleting everything leaves nothing, markers included.
func TestLongSharedPrefix(t *testing.T) {
	const split = 50
	d := openSmall(t, split)
	ctx := t.Context()
	keys := longPrefixKeys(2000)
	for _, k := range keys {
		if _, err := d.PutIfAbsent(ctx, k, []byte(k)); err != nil {
			t.Fatal(err)
		}
	}
	slices.Sort(keys)
	keys = slices.Compact(keys)
	depth, markers := 0, 0
	err := filepath.WalkDir(d.root, func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if e.Name() == markerName {
			markers++
		}
		if !e.IsDir() || path == filepath.Join(d.root, locksDir) {
			return nil
		}
		depth = max(depth, strings.Count(path, bucketSuffix))
		names, err := os.ReadDir(path)
		if err == nil && len(names) > 4*split+300 {
			t.Errorf("%s holds %d entries", path, len(names))
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if markers == 0 || depth > 12 {
		t.Fatalf("%d markers, %d buckets deep: the shared prefix was not compressed", markers, depth)
	}
	for _, k := range keys {
		if got, _, err := d.Get(ctx, k); err != nil || string(got) != k {
			t.Fatalf("Get %q: %q %v", k, got, err)
		}
	}
	if got := listAll(t, d, "h/", 37); !slices.Equal(got, keys) {
		t.Fatalf("listed %d keys, want %d (or out of order)", len(got), len(keys))
	}
	for _, i := range []int{0, 1, len(keys) / 3, len(keys) / 2, len(keys) - 20} {
		d.entriesRead.Store(0)
		token := base64.RawURLEncoding.EncodeToString([]byte(keys[i]))
		page, err := d.List(ctx, "h/", token, 10)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, it := range page.Items {
			got = append(got, it.Key)
		}
		if want := keys[i+1 : i+11]; !slices.Equal(got, want) {
			t.Fatalf("after %q: got %q want %q", keys[i], got, want)
		}
		if read := d.entriesRead.Load(); read > 1500 {
			t.Errorf("a page of 10 after %q read %d entries of a folder of %d", keys[i], read, len(keys))
		}
	}
	for _, prefix := range []string{"h/docs%2F2026%2Fquarterly-reports%2Fengineering%2Freport-00", "h/docs%2F2026%2Fq", "h/docs%2F2026%2Fquarterly-reports%2Fx"} {
		var want []string
		for _, k := range keys {
			if strings.HasPrefix(k, prefix) {
				want = append(want, k)
			}
		}
		if got := listAll(t, d, prefix, 13); !slices.Equal(got, want) {
			t.Fatalf("prefix %q: listed %d keys, want %d", prefix, len(got), len(want))
		}
	}
	for _, k := range keys {
		if err := d.Delete(ctx, k); err != nil {
			t.Fatalf("Delete %q: %v", k, err)
		}
	}
	if _, err := os.Stat(filepath.Join(d.root, "h.dir")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("emptied folder left behind: %v", err)
	}
}

// TestOneByteBucketsReadable: a folder split by the tree before markers
// (chains of one-byte buckets keyed by consecutive bytes, no marker) is
// read, listed, written and split further as it is.
func TestOneByteBucketsReadable(t *testing.T) {
	d := openSmall(t, 1_000_000) // write unsplit, then lay out by hand
	ctx := t.Context()
	var keys []string
	for i := range 300 {
		keys = append(keys, fmt.Sprintf("o/acct-%05d", i*7%300))
	}
	for _, k := range keys {
		if _, err := d.Put(ctx, k, []byte(k)); err != nil {
			t.Fatal(err)
		}
	}
	// The old layout: every name in the deepest bucket along its first 9
	// bytes ("acct-0000" .. "acct-0029"), one byte per bucket level.
	top := filepath.Join(d.root, "o.dir")
	names, err := os.ReadDir(top)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range names {
		seg, ok := movable(e.Name())
		if !ok {
			continue
		}
		dir := top
		for k := range 9 {
			dir = filepath.Join(dir, encodeSegment(seg[k:k+1])+bucketSuffix)
		}
		if err := os.MkdirAll(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(filepath.Join(top, e.Name()), filepath.Join(dir, e.Name())); err != nil {
			t.Fatal(err)
		}
	}
	slices.Sort(keys)
	check := func(keys []string) {
		t.Helper()
		for _, k := range keys {
			if got, _, err := d.Get(ctx, k); err != nil || string(got) != k {
				t.Fatalf("Get %q: %q %v", k, got, err)
			}
		}
		if got := listAll(t, d, "o/", 11); !slices.Equal(got, keys) {
			t.Fatalf("listed %d keys, want %d (or out of order): %q", len(got), len(keys), got)
		}
		if got := listAll(t, d, "o/acct-001", 3); len(got) != 100 {
			t.Fatalf("prefix listed %d keys, want 100", len(got))
		}
	}
	check(keys)
	d.splitEntries = 4 // now split what the old layout left, the new way
	for i := 300; i < 600; i++ {
		k := fmt.Sprintf("o/acct-%05d", i)
		if _, err := d.PutIfAbsent(ctx, k, []byte(k)); err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k)
	}
	slices.Sort(keys)
	check(keys)
	for _, k := range keys {
		if err := d.Delete(ctx, k); err != nil {
			t.Fatalf("Delete %q: %v", k, err)
		}
	}
	if _, err := os.Stat(top); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("emptied folder left behind: %v", err)
	}
}

// TestSplitCrashStates: a split that stopped part way (a crash) leaves
// every name readable and listed: after its marker only, and after its
// marker and some of its buckets; later writes finish the split.
func TestSplitCrashStates(t *testing.T) {
	for _, moved := range []int{0, 1, 3} { // bucket groups moved before the crash
		t.Run(fmt.Sprint(moved), func(t *testing.T) {
			d := openSmall(t, 1_000_000)
			ctx := t.Context()
			var keys []string
			for i := range 200 {
				k := fmt.Sprintf("z/docs%%2F2026%%2Fquarterly-reports%%2F%d-%03d", i%5, i)
				if _, err := d.Put(ctx, k, []byte(k)); err != nil {
					t.Fatal(err)
				}
				keys = append(keys, k)
			}
			slices.Sort(keys)
			// What split does, stopped after the marker and moved groups.
			node, k := "z.dir/", "docs%2F2026%2Fquarterly-reports%2F"
			groups := startSplit(t, d, node, k)
			for i := range moved {
				b := bucketName(k, len(k), byte('0'+i))
				if err := d.moveInto(node, node+b+"/", groups[b]); err != nil {
					t.Fatal(err)
				}
			}
			check := func(keys []string) {
				t.Helper()
				for _, k := range keys {
					if got, _, err := d.Get(ctx, k); err != nil || string(got) != k {
						t.Fatalf("Get %q: %q %v", k, got, err)
					}
				}
				if got := listAll(t, d, "z/", 9); !slices.Equal(got, keys) {
					t.Fatalf("listed %d keys, want %d (or out of order)", len(got), len(keys))
				}
			}
			check(keys)
			d.splitEntries = 10
			for i := 200; i < 260; i++ {
				k := fmt.Sprintf("z/docs%%2F2026%%2Fquarterly-reports%%2F%d-%03d", i%5, i)
				if _, err := d.PutIfAbsent(ctx, k, []byte(k)); err != nil {
					t.Fatal(err)
				}
				keys = append(keys, k)
			}
			slices.Sort(keys)
			check(keys)
			if left, _ := d.readNames(node); len(left) > 20 {
				t.Fatalf("the split did not finish: %d entries left in the folder", len(left))
			}
		})
	}
}

// TestSplitStoppedMidBucket: a split killed while moving one bucket's names
// (as a host SIGKILLed mid-split leaves it) leaves strays: names in the node
// that belong in a bucket that now exists. They are listed in order (a
// bucket sorts by its prefix, so a stray listed in place came after the
// bucket's bigger keys: "out of order" in CI), and every write acts on the
// key's one copy: a Put is read back, a PutIfVersion matches the stray's
// version, a Delete removes it, a PutIfAbsent is refused. The next split
// moves the rest, however few names the node holds.
func TestSplitStoppedMidBucket(t *testing.T) {
	d := openSmall(t, 1_000_000)
	ctx := t.Context()
	r := rand.New(rand.NewPCG(3, 4))
	var keys []string
	for range 300 {
		k := fmt.Sprintf("ledger/transfers/tx-%016x", r.Uint64())
		if _, err := d.PutIfAbsent(ctx, k, []byte(k)); err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k)
	}
	slices.Sort(keys)
	node, k := "ledger.dir/transfers.dir/", "tx-"
	groups := startSplit(t, d, node, k)
	// Every group half moved: the half left behind are strays.
	var strays []string
	for b, g := range groups {
		slices.Sort(g)
		half := len(g) / 2
		if err := d.moveInto(node, node+b+"/", g[half:]); err != nil {
			t.Fatal(err)
		}
		for _, name := range g[:half] {
			seg, _ := movable(name)
			strays = append(strays, "ledger/transfers/"+seg)
		}
	}
	if len(strays) < 50 {
		t.Fatalf("only %d strays: the test builds the wrong state", len(strays))
	}
	if got := listAll(t, d, "ledger/transfers/", 7); !slices.Equal(got, keys) {
		t.Fatalf("listed %d keys, want %d in order; first difference at %d", len(got), len(keys), firstDiff(got, keys))
	}
	if got := listAll(t, d, "ledger/transfers/tx-8", 3); !slices.Equal(got, withPrefix(keys, "ledger/transfers/tx-8")) {
		t.Fatalf("under a bucket's prefix: listed %v", got)
	}

	put, cond, del, again := strays[0], strays[1], strays[2], strays[3]
	if _, err := d.Put(ctx, put, []byte("new")); err != nil {
		t.Fatal(err)
	}
	if got, _, err := d.Get(ctx, put); err != nil || string(got) != "new" {
		t.Fatalf("Get after Put of a stray: %q %v", got, err)
	}
	_, v, err := d.Get(ctx, cond)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.PutIfVersion(ctx, cond, []byte("cond"), v); err != nil {
		t.Fatalf("PutIfVersion with the stray's own version: %v", err)
	}
	if got, _, _ := d.Get(ctx, cond); string(got) != "cond" {
		t.Fatalf("Get after PutIfVersion: %q", got)
	}
	if err := d.Delete(ctx, del); err != nil {
		t.Fatalf("Delete of a stray: %v", err)
	}
	if _, _, err := d.Get(ctx, del); !errors.Is(err, driver.ErrNotFound) {
		t.Fatalf("Get after Delete of a stray: %v", err)
	}
	if _, err := d.PutIfAbsent(ctx, again, []byte("x")); !errors.Is(err, driver.ErrPrecondition) {
		t.Fatalf("PutIfAbsent over a stray: %v", err)
	}
	keys = slices.DeleteFunc(keys, func(k string) bool { return k == del })
	if got := listAll(t, d, "ledger/transfers/", 50); !slices.Equal(got, keys) {
		t.Fatalf("after the writes: listed %d keys, want %d in order", len(got), len(keys))
	}

	// The next split (checked on every write here) moves the strays,
	// though the node holds far fewer names than the split size.
	if _, err := d.Put(ctx, "ledger/transfers/tx-zz", []byte("z")); err != nil {
		t.Fatal(err)
	}
	left, err := d.readNames(node)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range left {
		if seg, ok := movable(name); ok && strings.HasPrefix(seg, "tx-") && seg != "tx-zz" {
			if b, _ := bucketFor(k, seg); b != "" {
				if _, err := os.Lstat(d.path(node + b)); err == nil {
					t.Fatalf("stray %s still beside its bucket %s after a split", name, b)
				}
			}
		}
	}
	keys = append(keys, "ledger/transfers/tx-zz")
	slices.Sort(keys)
	if got := listAll(t, d, "ledger/transfers/", 50); !slices.Equal(got, keys) {
		t.Fatalf("after the split: listed %d keys, want %d in order", len(got), len(keys))
	}
}

func firstDiff(a, b []string) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

func withPrefix(keys []string, prefix string) []string {
	var out []string
	for _, k := range keys {
		if strings.HasPrefix(k, prefix) {
			out = append(out, k)
		}
	}
	return out
}

// startSplit does what split does first, by hand, so a test can stop it
// part way: it gives node the marker k and returns node's names grouped by
// the bucket each belongs in (moved by moveInto, or not).
func startSplit(t *testing.T, d *Driver, node, k string) map[string][]string {
	t.Helper()
	names, err := d.readNames(node)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.writeMarker(node, k); err != nil {
		t.Fatal(err)
	}
	groups := map[string][]string{}
	for _, name := range names {
		seg, _ := movable(name)
		b, _ := bucketFor(k, seg)
		groups[b] = append(groups[b], name)
	}
	return groups
}
