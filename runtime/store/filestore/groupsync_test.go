package filestore

import (
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
