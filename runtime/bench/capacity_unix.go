//go:build unix

package bench

import (
	"io/fs"
	"path/filepath"
	"syscall"
)

// usage walks dir: files, inodes (files and folders) and bytes.
func usage(dir string) (Usage, error) {
	var u Usage
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		u.Inodes++
		if !d.IsDir() {
			u.Objects++
			u.Bytes += info.Size()
		}
		if st, ok := info.Sys().(*syscall.Stat_t); ok {
			u.BlocksBytes += st.Blocks * 512
		}
		return nil
	})
	return u, err
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
