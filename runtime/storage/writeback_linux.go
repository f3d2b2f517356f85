//go:build linux

package storage

import (
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// writeback starts the disk writes of a download's file as its chunks are
// written, so the caller's closing fsync finds little left to flush:
// measured on 2 cores, the fsync of a 256 MiB download written without it
// took 170-210 ms after the last byte arrived, a third of the download.
// It only starts writeback (SYNC_FILE_RANGE_WRITE does not wait and makes
// no durability promise); the caller's fsync still decides durability.
type writeback struct {
	f    *os.File
	next int64 // file offset of the next byte written
}

// newWriteback answers nil unless w is a regular file.
func newWriteback(w io.Writer) *writeback {
	f, ok := w.(*os.File)
	if !ok {
		return nil
	}
	if info, err := f.Stat(); err != nil || !info.Mode().IsRegular() {
		return nil
	}
	off, err := f.Seek(0, io.SeekCurrent)
	if err != nil {
		return nil
	}
	return &writeback{f: f, next: off}
}

// wrote starts writeback of the n bytes just written.
func (wb *writeback) wrote(n int64) {
	if wb == nil || n <= 0 {
		return
	}
	if rc, err := wb.f.SyscallConn(); err == nil {
		_ = rc.Control(func(fd uintptr) {
			_ = unix.SyncFileRange(int(fd), wb.next, n, unix.SYNC_FILE_RANGE_WRITE)
		})
	}
	wb.next += n
}
