package filestore_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/openacquire/acquire/runtime/store"
	"github.com/openacquire/acquire/runtime/store/drivertest"
	"github.com/openacquire/acquire/runtime/store/filestore"
)

// Multi-process race parameters.
const (
	helperEnv        = "ACQUIRE_FILESTORE_HELPER_DIR"
	helperProcesses  = 6
	helperIncrements = 50
	helperTimeout    = 2 * time.Minute
	// helperSplitKeys: each process also writes this many names sharing a
	// long prefix into one folder split past 8 entries, so the processes
	// split (and write markers in) the folder under each other's reads.
	helperSplitKeys = 120
	helperSplitPre  = "split/docs%2F2026%2Fquarterly-reports%2Fengineering%2F"
)

// TestMultiProcessRace runs helperProcesses copies of this test binary on
// one folder. Goroutines share one process's file table; only separate
// processes prove that the locks and link(2) exclude each other on the
// machine, as several `acquire host` replicas would need.
func TestMultiProcessRace(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(t.Context(), helperTimeout)
	defer cancel()
	cmds := make([]*exec.Cmd, helperProcesses)
	outs := make([]strings.Builder, helperProcesses)
	for i := range cmds {
		cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestHelperProcess$", "-test.count=1")
		cmd.Env = append(os.Environ(), helperEnv+"="+dir)
		cmd.Stdout, cmd.Stderr = &outs[i], &outs[i]
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds[i] = cmd
	}
	// Release all processes at once, so their writes overlap.
	if err := os.WriteFile(filepath.Join(dir, "go"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	winners := 0
	for i, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Fatalf("process %d: %v\n%s", i, err, outs[i].String())
		}
		winners += strings.Count(outs[i].String(), "RESULT winner")
	}
	if winners != 1 {
		t.Fatalf("%d processes won PutIfAbsent, want exactly 1", winners)
	}
	b := openBucket(t, filepath.Join(dir, "store"))
	got, _, err := b.Get(ctx, "race/counter")
	if err != nil || string(got) != strconv.Itoa(helperProcesses*helperIncrements) {
		t.Fatalf("counter = %q, %v; want %d", got, err, helperProcesses*helperIncrements)
	}
	markers := 0
	_ = filepath.WalkDir(filepath.Join(dir, "store"), func(_ string, e os.DirEntry, err error) error {
		if err == nil && e.Name() == ".prefix" {
			markers++
		}
		return nil
	})
	if markers == 0 {
		t.Fatal("the processes' shared folder never split under a marker")
	}
	keys := listed(t, b, helperSplitPre)
	if len(keys) != helperProcesses*helperSplitKeys {
		t.Fatalf("listed %d keys written by processes splitting one folder, want %d", len(keys), helperProcesses*helperSplitKeys)
	}
	for i, k := range keys {
		if i > 0 && k <= keys[i-1] {
			t.Fatalf("listing out of order: %q after %q", k, keys[i-1])
		}
		if got, _, err := b.Get(ctx, k); err != nil || string(got) != k {
			t.Fatalf("Get %q: %q %v", k, got, err)
		}
	}
}

// TestHelperProcess is the child side of TestMultiProcessRace; it does
// nothing unless started by it.
func TestHelperProcess(t *testing.T) {
	dir := os.Getenv(helperEnv)
	if dir == "" {
		t.Skip("helper for TestMultiProcessRace")
	}
	ctx, cancel := context.WithTimeout(context.Background(), helperTimeout)
	defer cancel()
	if err := waitFor(ctx, filepath.Join(dir, "go")); err != nil {
		t.Fatal(err)
	}
	d, err := filestore.Open(filepath.Join(dir, "store"))
	if err != nil {
		t.Fatal(err)
	}
	filestore.SplitSmall(d, 8)
	b := store.NewBucket(d)
	_, err = b.PutIfAbsent(ctx, "race/winner", []byte(strconv.Itoa(os.Getpid())))
	switch {
	case err == nil:
		fmt.Println("RESULT winner")
	case errors.Is(err, store.ErrPrecondition):
		fmt.Println("RESULT loser")
	default:
		t.Fatal(err)
	}
	for range helperIncrements {
		if _, err := b.Update(ctx, "race/counter", store.MaxUpdateAttempts, drivertest.Increment); err != nil {
			t.Fatal(err)
		}
	}
	// Names of every process interleave (i first), some parting from the
	// shared prefix early; each is read back at once, and an older one too,
	// while the other processes split the folder.
	var mine []string
	for i := range helperSplitKeys {
		k := fmt.Sprintf("%sreport-%04d-%d", helperSplitPre, i, os.Getpid())
		if i%5 == 0 {
			k = fmt.Sprintf("%s%c%04d-%d", helperSplitPre, 'a'+i%7, i, os.Getpid())
		}
		if _, err := b.PutIfAbsent(ctx, k, []byte(k)); err != nil {
			t.Fatal(err)
		}
		mine = append(mine, k)
		for _, k := range []string{k, mine[i*7%len(mine)]} {
			if got, _, err := b.Get(ctx, k); err != nil || string(got) != k {
				t.Fatalf("Get %q while other processes split: %q %v", k, got, err)
			}
		}
	}
}

// waitFor polls for path, the start signal.
func waitFor(ctx context.Context, path string) error {
	for {
		if _, err := os.Stat(path); err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Millisecond):
		}
	}
}
