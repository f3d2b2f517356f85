package main

import (
	"context"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"

	"github.com/openacquire/acquire/runtime/store"
	"github.com/openacquire/acquire/runtime/store/filestore"
)

// TestRanJobsLeaveNothing: the history of jobs that ran leaves what the
// compute service leaves once its jobs are final (compute_test's
// noPointers: no queue pointer), and on disk not a directory of the queue
// either, though a wave's backlog split the pending folder into buckets:
// the claim on an empty queue is timed on the store such a history
// really leaves, not on one that never held a job.
func TestRanJobsLeaveNothing(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	d, err := filestore.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	d.UnsafeSkipFlush()
	d.SetSplitSize(20) // folders split as at 1000 entries, with fewer keys
	e := &env{d: d, b: store.NewBucket(d), root: dir, aux: map[string]any{}}
	defer func() { _ = e.b.Close() }()
	const n = 100 // one wave, over the split size
	// The backlog as the wave holds it, before its jobs are claimed.
	if err := parallel(0, n, func(i int) error {
		_, err := e.b.Put(ctx, claimPendingKey(i), pointer)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if buckets := queueDirs(t, dir); buckets < 2 {
		t.Fatalf("a backlog of %d pointers left %d directories under the queue: the folder did not split", n, buckets)
	}
	if err := buildRanJobs(ctx, e, n, 2*n); err != nil { // grown, as the command does
		t.Fatal(err)
	}
	for i := range n { // the backlog drained as the service does
		if err := e.b.Delete(ctx, claimPendingKey(i)); err != nil {
			t.Fatal(err)
		}
	}
	items, err := e.b.ListAll(ctx, "compute/", 100)
	if err != nil || len(items) != 0 {
		t.Fatalf("compute/ holds %d keys after the jobs ran (%v)", len(items), err)
	}
	if left := queueDirs(t, dir); left != 0 {
		t.Fatalf("%d directories of the queue left on disk after every job ran", left)
	}
	if err := claimScan(ctx, e, 0); err != nil {
		t.Fatal(err)
	}
}

// queueDirs counts the directories on disk under the queue's folder.
func queueDirs(t *testing.T, root string) int {
	t.Helper()
	n := 0
	err := filepath.WalkDir(root, func(path string, de fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if de.IsDir() && strings.Contains(path, "queue") {
			n++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}
