//go:build !linux

package filestore

import (
	"errors"
	"os"
	"sync/atomic"
)

// Unnamed files (O_TMPFILE) are Linux-only; elsewhere new objects are
// written under a temp name.

func openAnonymous(string) (*os.File, error) { return nil, errors.ErrUnsupported }

func linkAnonymous(*os.File, string, *atomic.Bool) error { return errors.ErrUnsupported }

func anonymousUnsupported(err error) bool { return errors.Is(err, errors.ErrUnsupported) }
