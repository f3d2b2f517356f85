//go:build linux

package filestore

import (
	"errors"
	"os"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"
)

// openAnonymous opens a new file without a name in dir (O_TMPFILE).
func openAnonymous(dir string) (*os.File, error) {
	return os.OpenFile(dir, os.O_WRONLY|unix.O_TMPFILE, 0o600)
}

// linkAnonymous gives the unnamed file f the name dst, failing with EEXIST
// if dst exists. linkat(AT_EMPTY_PATH) would need CAP_DAC_READ_SEARCH;
// following the /proc/self/fd link needs nothing but a mounted /proc.
func linkAnonymous(f *os.File, dst string) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var lerr error
	err = rc.Control(func(fd uintptr) {
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
