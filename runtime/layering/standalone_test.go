package layering

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The repository must build, test and document itself from a clone alone: a
// folder beside it (the steering repository's shared/) is not there for a user.
// The names are spelt in pieces so this file does not name them itself.
var outsideRefs = func() []string {
	const folder = "sha" + "red"
	return []string{"../" + folder, folder + "/testdata", folder + "/DESIGN.md", folder + "/TOOLING.md", "ACQUIRE_" + "SHARED_DIR"}
}()

func TestNothingReachesOutsideTheRepository(t *testing.T) {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("git", "-C", root, "ls-files", "--cached", "--others", "--exclude-standard").Output()
	if err != nil {
		t.Skipf("not a git checkout: %v", err) // a source archive has no ls-files; the clone CI runs has
	}
	files := strings.Fields(string(out))
	if len(files) < 100 {
		t.Fatalf("git listed %d files: the check would prove nothing", len(files))
	}
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join(root, f))
		if err != nil {
			continue // removed in the work tree
		}
		for _, ref := range outsideRefs {
			if strings.Contains(string(b), ref) {
				t.Errorf("%s refers to %q, outside the repository", f, ref)
			}
		}
	}
}
