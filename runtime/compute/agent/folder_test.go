//go:build unix

package agent

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// TestJobFolderSweep: a job folder is locked for as long as it lives, so
// a sweep removes only the folders (and lock files) of agents that died:
// not a live job's, not a folder without a lock file, not other names.
func TestJobFolderSweep(t *testing.T) {
	work := t.TempDir()
	live, release, err := newJobFolder(work)
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(live); err != nil || !fi.IsDir() || filepath.Dir(live) != work {
		t.Fatalf("job folder %q: %v", live, err)
	}
	// A dead agent's folder: its lock file is there, and nobody holds it.
	dead := filepath.Join(work, folderPrefix+"dead")
	for _, p := range []string{dead, dead + "/out", filepath.Join(work, folderPrefix+"nolock"), filepath.Join(work, "other")} {
		if err := os.Mkdir(p, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range []string{dead + lockSuffix, dead + "/out/result", filepath.Join(work, "other"+lockSuffix)} {
		if err := os.WriteFile(p, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	n, err := sweepFolders(work)
	if err != nil || n != 1 {
		t.Fatalf("sweep removed %d, %v", n, err)
	}
	want := []string{filepath.Base(live), filepath.Base(live) + lockSuffix, folderPrefix + "nolock", "other", "other" + lockSuffix}
	if got := names(t, work); !slices.Equal(got, sorted(want)) {
		t.Fatalf("left %v, want %v", got, sorted(want))
	}
	release()
	if got := names(t, work); !slices.Equal(got, []string{folderPrefix + "nolock", "other", "other" + lockSuffix}) {
		t.Fatalf("after release: %v", got)
	}
	if n, err := sweepFolders(work); err != nil || n != 0 {
		t.Fatalf("second sweep removed %d, %v", n, err)
	}
}

func names(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range es {
		out = append(out, e.Name())
	}
	return out
}

func sorted(s []string) []string { slices.Sort(s); return s }
