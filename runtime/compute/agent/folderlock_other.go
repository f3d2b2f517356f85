//go:build !unix

package agent

import "os"

// holdLock: without flock the lock file only marks the folder; sweeps
// never take it, so folders are not swept on these systems.
func holdLock(f *os.File) (func(), error) { return func() { _ = f.Close() }, nil }

func tryLock(*os.File) (func(), bool) { return nil, false }
