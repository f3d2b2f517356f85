//go:build !unix

package bench

import (
	"io/fs"
	"path/filepath"
)

// usage walks dir: files, inodes and bytes (allocation unknown here).
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
			u.BlocksBytes += info.Size()
		}
		return nil
	})
	return u, err
}

func diskOf(string) (bytes, freeBytes, inodes, freeInodes uint64) { return 0, 0, 0, 0 }
