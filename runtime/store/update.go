package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/openacquire/acquire/runtime/wait"
)

// Update applies fn to the current value of key with optimistic concurrency:
// read, compute, then write with PutIfAbsent (key absent) or PutIfVersion
// (key present). When another writer got in between (ErrPrecondition) it
// backs off with jitter and starts again, at most attempts times in all
// (attempts in [1, MaxUpdateAttempts]). An error from fn aborts and is
// returned as is; fn may run several times, so it must have no side effects.
// After the last lost race the error wraps ErrPrecondition.
func (b *Bucket) Update(ctx context.Context, key string, attempts int, fn func(old []byte, exists bool) ([]byte, error)) (Version, error) {
	if attempts < 1 || attempts > MaxUpdateAttempts {
		err := fmt.Errorf("%w: attempts %d outside [1, %d]", ErrInvalidArgument, attempts, MaxUpdateAttempts)
		return "", opError("update", key, err)
	}
	var lastErr error
	for attempt := range attempts {
		if attempt > 0 {
			if err := wait.Sleep(ctx, backoff(attempt, casBackoffBase, casBackoffMax)); err != nil {
				return "", opError("update", key, err)
			}
		}
		v, err := b.updateOnce(ctx, key, fn)
		if !errors.Is(err, ErrPrecondition) {
			return v, err
		}
		lastErr = err
	}
	return "", fmt.Errorf("store: update %q: gave up after %d attempts: %w", key, attempts, lastErr)
}

// updateOnce is one read-compute-conditional-write round.
func (b *Bucket) updateOnce(ctx context.Context, key string, fn func([]byte, bool) ([]byte, error)) (Version, error) {
	old, v, err := b.Get(ctx, key)
	exists := err == nil
	if err != nil && !errors.Is(err, ErrNotFound) {
		return "", err
	}
	data, err := fn(old, exists)
	if err != nil {
		return "", err
	}
	if !exists {
		return b.PutIfAbsent(ctx, key, data)
	}
	return b.PutIfVersion(ctx, key, data, v)
}
