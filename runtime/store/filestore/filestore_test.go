package filestore_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/openacquire/acquire/runtime/store"
	"github.com/openacquire/acquire/runtime/store/drivertest"
	"github.com/openacquire/acquire/runtime/store/filestore"
)

func newDriver(tb testing.TB) store.Driver {
	d, err := filestore.Open(tb.TempDir())
	if err != nil {
		tb.Fatal(err)
	}
	return d
}

// TestConformance runs the suite with folders split past 64 entries
// (conformant), so its list-cost test, on a folder of 400, sees a split
// folder; the default (1000) is the same code with a larger constant.
func TestConformance(t *testing.T) {
	drivertest.RunConformance(t, func(t *testing.T) store.Driver { return conformant(newDriver(t)) })
}

// conformant lowers d's split size for the conformance suite.
func conformant(d store.Driver) store.Driver {
	filestore.SplitSmall(d.(*filestore.Driver), 64)
	return d
}

func openBucket(t *testing.T, root string) *store.Bucket {
	t.Helper()
	d, err := filestore.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	b := store.NewBucket(d)
	t.Cleanup(func() { _ = b.Close() })
	return b
}

func put(t *testing.T, b *store.Bucket, key, data string) store.Version {
	t.Helper()
	v, err := b.Put(context.Background(), key, []byte(data))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func listed(t *testing.T, b *store.Bucket, prefix string) []string {
	t.Helper()
	infos, err := b.ListAll(context.Background(), prefix, 10_000)
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, it := range infos {
		keys = append(keys, it.Key)
	}
	return keys
}

// TestLayout pins the on-disk names: operators read them, and a change
// would orphan existing data.
func TestLayout(t *testing.T) {
	root := t.TempDir()
	b := openBucket(t, root)
	for _, k := range []string{"a", "a/b", "Ab/c.txt", "ab/c"} {
		put(t, b, k, k)
	}
	for _, rel := range []string{"a.obj", "a.dir/b.obj", "%41b.dir/c%2etxt.obj", "ab.dir/c.obj", ".tmp", ".locks"} {
		if _, err := os.Stat(filepath.Join(root, rel)); err != nil {
			t.Errorf("missing %s: %v", rel, err)
		}
	}
	// Locks live in a fixed set of stripes, never beside the data.
	if _, err := os.Stat(filepath.Join(root, "a.lock")); err == nil {
		t.Errorf("a lock file beside the data")
	}
}

// TestLongAndDeepKeys: segments too long for a file name and directories
// too deep for a path are flattened into hashed files, still in key order.
func TestLongAndDeepKeys(t *testing.T) {
	root := t.TempDir()
	b := openBucket(t, root)
	deep := strings.Repeat("d/", store.MaxKeyBytes/2-1) + "z" // 511 levels
	long := strings.Repeat("L", 250)
	keys := []string{deep, "d/x", long, long + "/a", long + "/a/b", "m/" + long, "m/" + long + "/q", "m/n"}
	for _, k := range keys {
		put(t, b, k, k)
	}
	for _, k := range keys {
		got, _, err := b.Get(context.Background(), k)
		if err != nil || string(got) != k {
			t.Fatalf("Get %.40q...: %v", k, err)
		}
	}
	want := []string{long, long + "/a", long + "/a/b", deep, "d/x", "m/" + long, "m/" + long + "/q", "m/n"}
	if got := listed(t, b, ""); !equal(got, want) {
		t.Fatalf("order:\n got %.60q\nwant %.60q", got, want)
	}
	if got := listed(t, b, "d/d/d/"); len(got) != 1 || got[0] != deep {
		t.Fatalf("deep prefix: %.60q", got)
	}
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestCrashLeftoversInvisible: a crash leaves temp files (complete or not)
// beside the data. Get and List must not see them, and List removes stale
// ones lazily.
func TestCrashLeftoversInvisible(t *testing.T) {
	root := t.TempDir()
	b := openBucket(t, root)
	v := put(t, b, "a/b", "real")
	leftovers := map[string]bool{ // path -> stale
		".tmp-0001":           true,
		"a.dir/.tmp-0002":     true,
		"a.dir/.tmp-0003":     false,
		"a.dir/.tmp-x.obj":    false,
		"a.dir/new.obj.tmp-4": false, // foreign name: ignored, never removed
	}
	// A complete object file for another key, as a crash before link leaves.
	full, err := os.ReadFile(filepath.Join(root, "a.dir/b.obj"))
	if err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-2 * time.Hour)
	for rel, stale := range leftovers {
		p := filepath.Join(root, rel)
		if err := os.WriteFile(p, full[:len(full)/2], 0o600); err != nil {
			t.Fatal(err)
		}
		if stale {
			if err := os.Chtimes(p, old, old); err != nil {
				t.Fatal(err)
			}
		}
	}
	if got := listed(t, b, ""); !equal(got, []string{"a/b"}) {
		t.Fatalf("List sees leftovers: %q", got)
	}
	got, gotV, err := b.Get(context.Background(), "a/b")
	if err != nil || string(got) != "real" || gotV != v {
		t.Fatalf("Get: %q %q %v", got, gotV, err)
	}
	for rel, stale := range leftovers {
		_, err := os.Stat(filepath.Join(root, rel))
		if gone := errors.Is(err, os.ErrNotExist); gone != stale {
			t.Errorf("%s: removed=%v, want %v", rel, gone, stale)
		}
	}
}

// TestCorruptionDetected: torn or altered files are reported, never
// returned as data.
func TestCorruptionDetected(t *testing.T) {
	root := t.TempDir()
	b := openBucket(t, root)
	put(t, b, "torn", "some data here")
	put(t, b, "flipped", "some data here")
	p := filepath.Join(root, "torn.obj")
	raw, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, raw[:len(raw)-3], 0o600); err != nil {
		t.Fatal(err)
	}
	raw[len(raw)-1] ^= 1
	if err := os.WriteFile(filepath.Join(root, "flipped.obj"), raw, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"torn", "flipped"} {
		if _, _, err := b.Get(context.Background(), k); !errors.Is(err, store.ErrCorrupt) {
			t.Errorf("Get %s: %v, want ErrCorrupt", k, err)
		}
	}
	// A stream checks the header and length, not the data's CRC (its
	// reader checks the bytes): the torn file is refused, the flipped bit
	// is the reader's to find.
	if _, err := b.Open(context.Background(), "torn"); !errors.Is(err, store.ErrCorrupt) {
		t.Errorf("Open torn: %v, want ErrCorrupt", err)
	}
	// A corrupt object can still be replaced unconditionally.
	put(t, b, "torn", "repaired")
}

// TestReopen: versions and data persist across drivers on one folder.
func TestReopen(t *testing.T) {
	root := t.TempDir()
	v := put(t, openBucket(t, root), "k", "v1")
	b2 := openBucket(t, root)
	if _, err := b2.PutIfVersion(context.Background(), "k", []byte("v2"), v); err != nil {
		t.Fatal(err)
	}
}

func TestOpenRelativeRoot(t *testing.T) {
	t.Chdir(t.TempDir())
	d, err := filestore.Open("./rel/data")
	if err != nil {
		t.Fatal(err)
	}
	if !filepath.IsAbs(d.Root()) {
		t.Fatalf("root %q is not absolute", d.Root())
	}
}

func BenchmarkPutIfAbsent(b *testing.B) { drivertest.BenchmarkPutIfAbsent(b, newDriver) }
func BenchmarkPutIfAbsentParallel(b *testing.B) {
	drivertest.BenchmarkPutIfAbsentParallel(b, newDriver)
}
func BenchmarkGet(b *testing.B)  { drivertest.BenchmarkGet(b, newDriver) }
func BenchmarkCAS(b *testing.B)  { drivertest.BenchmarkCAS(b, newDriver) }
func BenchmarkList(b *testing.B) { drivertest.BenchmarkList(b, newDriver) }

// BenchmarkListLarge builds its 10^5 objects without fsyncs (it measures
// listing, not durability).
func BenchmarkListLarge(b *testing.B) {
	drivertest.BenchmarkListLarge(b, func(tb testing.TB) store.Driver {
		d := newDriver(tb).(*filestore.Driver)
		filestore.NoFlush(d)
		return d
	})
}
