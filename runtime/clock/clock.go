// Package clock holds a clock that moves only when told: tests and the
// ledger simulation pass its Now where a service takes a clock function,
// so expiry and receipt_by are decided by the test, not by the wall.
package clock

import (
	"sync"
	"time"
)

// Manual is a settable clock, safe for concurrent use.
type Manual struct {
	mu sync.Mutex
	t  time.Time
}

// NewManual returns a clock standing at t.
func NewManual(t time.Time) *Manual { return &Manual{t: t} }

// Now is the clock's time.
func (c *Manual) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock by d (back, if d is negative).
func (c *Manual) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}
