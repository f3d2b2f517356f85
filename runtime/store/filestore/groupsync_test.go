package filestore

import (
	"fmt"
	"sync"
	"testing"
)

// TestGroupSync: concurrent directory syncs all complete, share flushes,
// report errors to every waiter, and leave no state behind.
func TestGroupSync(t *testing.T) {
	d, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	const callers = 50
	var wg sync.WaitGroup
	errs := make([]error, callers)
	for i := range callers {
		dir := ""
		if i%2 == 1 {
			dir = "missing.dir/" // fsync fails: every waiter must see it
		}
		wg.Go(func() { errs[i] = d.syncDir(dir) })
	}
	wg.Wait()
	for i, err := range errs {
		if (err != nil) != (i%2 == 1) {
			t.Errorf("caller %d: %v", i, err)
		}
	}
	d.syncs.mu.Lock()
	defer d.syncs.mu.Unlock()
	if len(d.syncs.dirs) != 0 {
		t.Fatalf("%d directories left in the sync table", len(d.syncs.dirs))
	}
}

// TestKeptDirectoryHandles: flushing more directories than maxOpenDirs
// keeps at most that many open, every flush still succeeds (evicted
// directories are reopened), and Close releases the handles.
func TestKeptDirectoryHandles(t *testing.T) {
	d, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for round := range 2 {
		for i := range maxOpenDirs + 40 {
			dir := fmt.Sprintf("d%d.dir/", i)
			if round == 0 {
				if err := d.mkdirs(t.Context(), dir); err != nil {
					t.Fatal(err)
				}
			}
			if err := d.syncDir(dir); err != nil {
				t.Fatalf("round %d, %s: %v", round, dir, err)
			}
		}
	}
	d.syncs.mu.Lock()
	kept := len(d.syncs.open)
	d.syncs.mu.Unlock()
	if kept == 0 || kept > maxOpenDirs {
		t.Fatalf("%d directory handles kept, want 1..%d", kept, maxOpenDirs)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if n := len(d.syncs.open); n != 0 {
		t.Fatalf("%d directory handles left open after Close", n)
	}
}
