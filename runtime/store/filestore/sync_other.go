//go:build !linux

package filestore

import "os"

// syncData falls back to (*os.File).Sync, which on macOS issues F_FULLFSYNC.
func syncData(f *os.File) error {
	return f.Sync()
}
