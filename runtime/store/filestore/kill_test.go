package filestore_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openacquire/acquire/runtime/store"
	"github.com/openacquire/acquire/runtime/store/filestore"
)

// Kill test parameters.
const (
	killEnv    = "ACQUIRE_FILESTORE_KILL_DIR"
	killRounds = 5
	killSplit  = 64 // split size, so splits come every few dozen writes
	killWait   = 30 * time.Second
	killPrefix = "ledger/transfers/"
)

// TestKilledMidSplit SIGKILLs a writing process in the middle of a split,
// round after round, as the bank test kills hosts. After each kill, before
// anything repairs it, the folder holds strays (names beside the bucket
// they belong in); every acknowledged name is still read back, the listing
// is complete and in key order, and the next process's writes go on.
func TestKilledMidSplit(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	dir := t.TempDir()
	var acked []string
	sawStrays := 0
	for round := range killRounds + 1 {
		last := round == killRounds // the last process is left to finish
		acked = append(acked, runKillChild(t, dir, !last)...)
		d, err := filestore.Open(filepath.Join(dir, "store"))
		if err != nil {
			t.Fatal(err)
		}
		if n, err := filestore.Strays(d, killPrefix); err != nil {
			t.Fatal(err)
		} else if n > 0 {
			sawStrays++
		}
		checkAcked(t, store.NewBucket(d), acked)
		_ = d.Close()
	}
	if sawStrays == 0 {
		t.Fatal("no kill left a split part way: the test did not test what it says")
	}
	t.Logf("%d acknowledged names; %d of %d kills left strays", len(acked), sawStrays, killRounds)
}

// runKillChild runs one writing process and returns the names it
// acknowledged; when kill, it is SIGKILLed a few milliseconds into a split.
func runKillChild(t *testing.T, dir string, kill bool) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), killWait)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestKillHelperProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), killEnv+"="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var acked []string
	killed := false
	var once sync.Once
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		line := sc.Text()
		if k, ok := strings.CutPrefix(line, "ACK "); ok {
			acked = append(acked, k)
		}
		if line == "MOVING" && kill {
			once.Do(func() {
				time.Sleep(time.Duration(2+rand.IntN(15)) * time.Millisecond)
				_ = cmd.Process.Kill()
				killed = true
			})
		}
	}
	err = cmd.Wait()
	switch {
	case kill && !killed:
		t.Fatalf("the process never split: %v\n%s", err, stderr.String())
	case !kill && err != nil:
		t.Fatalf("writing after the kills: %v\n%s", err, stderr.String())
	}
	return acked
}

// checkAcked lists the folder through the store (which refuses a page out
// of key order) and reads every acknowledged name back.
func checkAcked(t *testing.T, b *store.Bucket, acked []string) {
	t.Helper()
	keys := listed(t, b, killPrefix)
	if !slices.IsSorted(keys) {
		t.Fatal("listing out of order")
	}
	for _, k := range acked {
		if _, ok := slices.BinarySearch(keys, k); !ok {
			t.Fatalf("acknowledged %q is not listed", k)
		}
		if got, _, err := b.Get(t.Context(), k); err != nil || string(got) != k {
			t.Fatalf("Get acknowledged %q: %q %v", k, got, err)
		}
	}
}

// TestKillHelperProcess is the child side of TestKilledMidSplit: it writes
// random names, printing each once acknowledged, and "MOVING" when a split
// starts moving names (each move then slowed, so a kill lands mid-split).
func TestKillHelperProcess(t *testing.T) {
	dir := os.Getenv(killEnv)
	if dir == "" {
		t.Skip("helper for TestKilledMidSplit")
	}
	d, err := filestore.Open(filepath.Join(dir, "store"))
	if err != nil {
		t.Fatal(err)
	}
	filestore.SplitSmall(d, killSplit)
	filestore.NoFlush(d) // a killed process loses no page cache; only its steps are cut
	moving := false
	filestore.BeforeSplitMove(d, func() {
		if !moving {
			moving = true
			fmt.Println("MOVING")
		}
		time.Sleep(time.Millisecond)
	})
	b := store.NewBucket(d)
	for range 3 * killSplit {
		moving = false
		k := fmt.Sprintf("%stx-%016x", killPrefix, rand.Uint64())
		if _, err := b.PutIfAbsent(context.Background(), k, []byte(k)); err != nil && !errors.Is(err, store.ErrPrecondition) {
			t.Fatal(err)
		}
		fmt.Println("ACK " + k)
	}
}
