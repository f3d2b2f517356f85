package store

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"

	"github.com/openacquire/acquire/runtime/wait"
)

// Backoff bounds. Reads back off from 10 ms; the CAS loop starts far lower
// because a lost race is usually resolved by the next attempt, and caps at
// 20 ms so a hot key still turns over many times per second.
const (
	readBackoffBase = 10 * time.Millisecond
	readBackoffMax  = 200 * time.Millisecond
	casBackoffBase  = 100 * time.Microsecond
	casBackoffMax   = 20 * time.Millisecond
)

// retryRead runs a read up to ReadAttempts times while it fails with
// ErrTransient. Only reads are retried: they have no effect to duplicate.
func retryRead(ctx context.Context, read func() error) error {
	var err error
	for attempt := range ReadAttempts {
		if attempt > 0 {
			if serr := wait.Sleep(ctx, backoff(attempt, readBackoffBase, readBackoffMax)); serr != nil {
				return errors.Join(err, serr)
			}
		}
		err = read()
		if !errors.Is(err, ErrTransient) {
			return err
		}
	}
	return err
}

// backoff returns a "full jitter" delay for the given retry: uniform in
// [0, min(max, base*2^attempt)), so racing writers spread out instead of
// colliding again in lockstep.
func backoff(attempt int, base, ceiling time.Duration) time.Duration {
	d := ceiling
	if attempt < 30 && base<<attempt < ceiling {
		d = base << attempt
	}
	return time.Duration(rand.Int64N(int64(d)) + 1)
}
