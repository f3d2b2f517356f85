package filestore_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/openacquire/acquire/runtime/store"
	"github.com/openacquire/acquire/runtime/store/driver"
	"github.com/openacquire/acquire/runtime/store/drivertest"
	"github.com/openacquire/acquire/runtime/store/filestore"
)

// Ways a driver writes new objects: unnamed files linked by descriptor
// (as root), unnamed files linked through /proc (as other users), or temp
// names (where O_TMPFILE is missing).
const (
	byDescriptor = "descriptor"
	throughProc  = "proc"
	tempNames    = "temp"
)

// openMode opens a driver that writes new objects in the given way.
func openMode(t *testing.T, root, mode string) *filestore.Driver {
	t.Helper()
	d, err := filestore.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	switch mode {
	case tempNames:
		filestore.UseTempNames(d)
	case throughProc:
		filestore.LinkThroughProc(d)
	}
	t.Cleanup(func() { _ = d.Close() })
	return d
}

// TestConformanceTempNames runs the conformance suite on the temp-name
// path that file systems without O_TMPFILE take.
func TestConformanceTempNames(t *testing.T) {
	drivertest.RunConformance(t, func(t *testing.T) store.Driver { return conformant(openMode(t, t.TempDir(), tempNames)) })
}

// TestConformanceThroughProc runs the conformance suite on the path a
// process without CAP_DAC_READ_SEARCH takes: unnamed files linked through
// /proc/self/fd.
func TestConformanceThroughProc(t *testing.T) {
	drivertest.RunConformance(t, func(t *testing.T) store.Driver { return conformant(openMode(t, t.TempDir(), throughProc)) })
}

// TestConcurrentPutsAllPresent: many goroutines put new keys, some keys
// contested by several at once. Every acknowledged put must be readable
// with its bytes and version from a fresh driver (a new process's view),
// each contested key has exactly one winner, and no temp file is left.
func TestConcurrentPutsAllPresent(t *testing.T) {
	for _, mode := range []string{byDescriptor, throughProc, tempNames} {
		t.Run(mode, func(t *testing.T) {
			root := t.TempDir()
			d := openMode(t, root, mode)
			const writers, perWriter, contenders = 16, 40, 4
			type ack struct {
				key, data string
				v         driver.Version
			}
			acks := make([][]ack, writers)
			var wg sync.WaitGroup
			for w := range writers {
				wg.Go(func() {
					for i := range perWriter {
						// Contested keys: writers w and w^1, w^2, w^3 race on the same name.
						key := fmt.Sprintf("dir%d/k%d-%d", i%3, w, i)
						if i%4 == 0 {
							key = fmt.Sprintf("dir%d/shared-%d-%d", i%3, w/contenders, i)
						}
						data := fmt.Sprintf("%s from %d", key, w)
						v, err := d.PutIfAbsent(context.Background(), key, []byte(data))
						if errors.Is(err, driver.ErrPrecondition) && strings.Contains(key, "shared") {
							continue
						}
						if err != nil {
							t.Error(key, err)
							return
						}
						acks[w] = append(acks[w], ack{key, data, v})
					}
				})
			}
			wg.Wait()
			if mode != tempNames && !filestore.UsesUnnamedFiles(d) {
				t.Skipf("no unnamed files on %s here; the temp-name path is covered by mode %s", runtime.GOOS, tempNames)
			}
			if mode == byDescriptor && filestore.LinksThroughProc(d) {
				t.Logf("this process may not link by descriptor (no CAP_DAC_READ_SEARCH): /proc was used, as in mode %s", throughProc)
			}
			fresh := openMode(t, root, mode)
			winners := map[string]int{}
			for _, as := range acks {
				for _, a := range as {
					winners[a.key]++
					got, v, err := fresh.Get(context.Background(), a.key)
					if err != nil || string(got) != a.data || v != a.v {
						t.Errorf("%s: got %q %s %v, want %q %s", a.key, got, v, err, a.data, a.v)
					}
				}
			}
			for key, n := range winners {
				if n != 1 {
					t.Errorf("%s: %d winners", key, n)
				}
			}
			if want := writers * perWriter * 3 / 4; len(winners) != want+writers/contenders*perWriter/4 {
				t.Errorf("%d keys acknowledged, want %d", len(winners), want+writers/contenders*perWriter/4)
			}
			noTemps(t, root)
		})
	}
}

func noTemps(t *testing.T, root string) {
	t.Helper()
	err := filepath.WalkDir(root, func(path string, e fs.DirEntry, err error) error {
		if err == nil && strings.HasPrefix(e.Name(), filestore.TempPrefix) {
			t.Errorf("temp file left: %s", path)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}
