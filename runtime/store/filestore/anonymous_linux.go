//go:build linux

package filestore

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"syscall"

	"golang.org/x/sys/unix"
)

// openAnonymous opens a new file without a name in dir (O_TMPFILE).
func openAnonymous(dir string) (*os.File, error) {
	return os.OpenFile(dir, os.O_WRONLY|unix.O_TMPFILE, 0o600)
}

// linkAnonymous gives the unnamed file f the name dst, failing with EEXIST
// if dst exists. linkat(AT_EMPTY_PATH) links the descriptor itself, but
// needs CAP_DAC_READ_SEARCH (root has it); without it, following the
// /proc/self/fd link needs nothing but a mounted /proc, at the cost of a
// walk through procfs on every put.
//
// noEmptyPath is set once linkat(AT_EMPTY_PATH) was refused: a process
// without the capability lacks it for good.
func linkAnonymous(f *os.File, dst string, noEmptyPath *atomic.Bool) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var lerr error
	err = rc.Control(func(fd uintptr) {
		if !noEmptyPath.Load() {
			lerr = unix.Linkat(int(fd), "", unix.AT_FDCWD, dst, unix.AT_EMPTY_PATH)
			// Without the capability the call fails with ENOENT (or EPERM
			// under some security modules); so does it when dst's
			// directory vanished (a concurrent prune), which is no reason
			// to give up the descriptor.
			if !errors.Is(lerr, syscall.ENOENT) && !errors.Is(lerr, syscall.EPERM) {
				return
			}
			if _, err := os.Lstat(filepath.Dir(dst)); err != nil {
				return
			}
			noEmptyPath.Store(true)
		}
		src := "/proc/self/fd/" + strconv.Itoa(int(fd))
		lerr = unix.Linkat(unix.AT_FDCWD, src, unix.AT_FDCWD, dst, unix.AT_SYMLINK_FOLLOW)
	})
	if lerr != nil {
		return &os.LinkError{Op: "link", Old: f.Name(), New: dst, Err: lerr}
	}
	return err
}

// anonymousUnsupported: the file system or kernel has no O_TMPFILE (old
// kernels read the flag as O_DIRECTORY and fail with EISDIR).
func anonymousUnsupported(err error) bool {
	return errors.Is(err, syscall.EOPNOTSUPP) || errors.Is(err, syscall.EISDIR) || errors.Is(err, syscall.EINVAL)
}
