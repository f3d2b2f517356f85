//go:build unix

package wallet

import (
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"
)

// lockFile takes an exclusive advisory lock on path, waiting at most wait.
// The lock is released when the returned function runs or the process
// dies, so a crashed writer never leaves the wallet locked.
func lockFile(path string, wait, poll time.Duration) (func(), error) {
	fh, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, fileMode)
	if err != nil {
		return nil, fmt.Errorf("wallet: %w", err)
	}
	deadline := time.Now().Add(wait)
	for {
		err = syscall.Flock(int(fh.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() {
				_ = syscall.Flock(int(fh.Fd()), syscall.LOCK_UN)
				_ = fh.Close()
			}, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR) {
			_ = fh.Close()
			return nil, fmt.Errorf("wallet: lock %s: %w", path, err)
		}
		if time.Now().After(deadline) {
			_ = fh.Close()
			return nil, fmt.Errorf("%w: %s stayed locked for %s", ErrBusy, path, wait)
		}
		time.Sleep(poll)
	}
}
