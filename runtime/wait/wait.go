// Package wait holds the one context-aware pause that retry and polling
// loops share.
package wait

import (
	"context"
	"time"
)

// Sleep waits for d or until ctx is done, whichever is first, and then
// answers ctx's error (nil when d passed).
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
