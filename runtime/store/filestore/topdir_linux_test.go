//go:build linux

package filestore

import (
	"os"
	"testing"

	"golang.org/x/sys/unix"
)

// TestOpenMarksTopDir: Open sets the top-of-hierarchy placement hint on
// the bucket's folder where the file system keeps such flags (ext4), and
// Open of a folder that already has it works the same.
func TestOpenMarksTopDir(t *testing.T) {
	root := t.TempDir()
	f, err := os.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	if _, err := unix.IoctlGetInt(int(f.Fd()), unix.FS_IOC_GETFLAGS); err != nil {
		t.Skipf("this file system keeps no inode flags (%v): the hint does not apply", err)
	}
	for range 2 {
		if _, err := Open(root); err != nil {
			t.Fatal(err)
		}
		flags, err := unix.IoctlGetInt(int(f.Fd()), unix.FS_IOC_GETFLAGS)
		if err != nil {
			t.Fatal(err)
		}
		if flags&fsTopDirFlag == 0 {
			t.Fatalf("flags %#x: the top-directory hint is not set", flags)
		}
	}
}
