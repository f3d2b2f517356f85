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
