//go:build unix

package agent

import (
	"errors"
	"os"
	"syscall"
)

// holdLock takes f's flock, which must be free (the file is new), and
// answers its release. The kernel drops it when this process ends,
// however it ends; Go opens files close-on-exec, so jobs do not hold it.
func holdLock(f *os.File) (func(), error) {
	unlock, ok := tryLock(f)
	if !ok {
		return nil, errors.New("agent: a new job folder's lock is taken")
	}
	return func() { unlock(); _ = f.Close() }, nil
}

// tryLock takes f's flock if it is free.
func tryLock(f *os.File) (func(), bool) {
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		return nil, false
	}
	return func() { _ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN) }, true
}
