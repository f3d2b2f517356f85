//go:build unix

package bench

import (
	"io/fs"
	"syscall"
)

// allocatedBytes is what the file system gave the file, in whole blocks.
func allocatedBytes(info fs.FileInfo) int64 {
	if st, ok := info.Sys().(*syscall.Stat_t); ok {
		return st.Blocks * 512
	}
	return 0
}

// diskOf is the size and free space of dir's file system, in bytes and
// inodes (zeros if unknown).
func diskOf(dir string) (bytes, freeBytes, inodes, freeInodes uint64) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, 0, 0, 0
	}
	bs := uint64(st.Bsize) //nolint:gosec // a block size is positive
	return st.Blocks * bs, st.Bavail * bs, st.Files, st.Ffree
}
