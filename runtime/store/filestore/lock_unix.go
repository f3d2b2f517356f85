//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package filestore

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"syscall"
	"time"

	"github.com/openacquire/acquire/runtime/store/driver"
)

// Lock limits. A lock is held only for a header read plus a rename or unlink
// (microseconds), so waiting polls fast and a wait of lockTimeout means a
// stuck holder (a stopped process); the kernel frees the locks of a process
// that exits, however it exits.
const (
	lockTimeout     = 10 * time.Second
	lockPollFirst   = 20 * time.Microsecond
	lockPollCeiling = 2 * time.Millisecond
)

const supported = true

// lockFile takes an flock(2) on path (exclusive, or shared), creating the
// file if needed, and returns its release. flock locks belong to the open
// file description, so they exclude other goroutines of this process (each
// opens its own) as well as other processes. Lock files are never deleted:
// unlinking a lock file that another process is about to lock would let two
// holders in at once (they are a fixed set of stripes, see tree.go).
// Polling with LOCK_NB instead of blocking keeps the wait cancellable by ctx
// and bounded by lockTimeout.
func lockFile(ctx context.Context, path string, exclusive bool) (func(), error) {
	fd, err := syscall.Open(path, syscall.O_RDWR|syscall.O_CREAT|syscall.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, &fs.PathError{Op: "open lock", Path: path, Err: err}
	}
	release := func() { _ = syscall.Close(fd) } // closing drops the lock
	deadline := time.Now().Add(lockTimeout)
	wait := lockPollFirst
	how := syscall.LOCK_SH
	if exclusive {
		how = syscall.LOCK_EX
	}
	for {
		err := syscall.Flock(fd, how|syscall.LOCK_NB)
		if err == nil {
			return release, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR) {
			release()
			return nil, &fs.PathError{Op: "flock", Path: path, Err: err}
		}
		if time.Now().After(deadline) {
			release()
			return nil, fmt.Errorf("filestore: lock %s: held for over %v: %w", path, lockTimeout, driver.ErrTransient)
		}
		if err := pause(ctx, wait); err != nil {
			release()
			return nil, err
		}
		wait = min(2*wait, lockPollCeiling)
	}
}

// pause sleeps for a jittered part of d, or until ctx is done. Jitter keeps
// waiters from retrying in lockstep.
func pause(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d/2 + rand.N(d/2+1))
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
