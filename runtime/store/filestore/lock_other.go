//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package filestore

import (
	"context"
	"fmt"
	"runtime"

	"github.com/openacquire/acquire/runtime/store/driver"
)

// supported is false where flock(2) is missing: Open refuses, because a
// local store without cross-process locks would be silently unsafe.
const supported = false

func lockFile(context.Context, string, bool) (func(), error) {
	return nil, fmt.Errorf("filestore: no flock on %s: %w", runtime.GOOS, driver.ErrUnsupported)
}
