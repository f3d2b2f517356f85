//go:build linux

package filestore

import (
	"errors"
	"os"
	"syscall"
)

// syncData flushes a file's data and size. fdatasync skips the inode's
// timestamps, which nothing here reads, and is cheaper than fsync.
func syncData(f *os.File) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	err = rc.Control(func(fd uintptr) {
		for {
			serr = syscall.Fdatasync(int(fd))
			if !errors.Is(serr, syscall.EINTR) {
				return
			}
		}
	})
	return errors.Join(err, serr)
}
