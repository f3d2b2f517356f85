package faultstore

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/openacquire/acquire/runtime/store/driver"
	"github.com/openacquire/acquire/runtime/wait"
)

// Process is one simulated process's handle on a Store: a driver.Driver
// that injects the Store's faults and dies on a crash fault.
type Process struct {
	s      *Store
	dead   atomic.Bool
	closed atomic.Bool
}

var _ driver.Driver = (*Process)(nil)

// Process returns a new, live process over the store.
func (s *Store) Process() *Process { return &Process{s: s} }

// Crashed reports whether the process has died.
func (p *Process) Crashed() bool { return p.dead.Load() }

// Crash kills the process now, as if it were stopped between two calls.
func (p *Process) Crash() { p.dead.Store(true) }

func (p *Process) alive() error {
	if p.closed.Load() {
		return driver.ErrClosed
	}
	if p.dead.Load() {
		return ErrCrashed
	}
	return nil
}

func transient(what, op, key string) error {
	return fmt.Errorf("faultstore: %s of %s %q: %w", what, op, key, driver.ErrTransient)
}

// write runs one write with its fault: the gates either side, the refusal
// or crash before, the loss of the answer or crash after.
func (p *Process) write(ctx context.Context, op, key string, call func() (driver.Version, error)) (driver.Version, error) {
	if err := p.alive(); err != nil {
		return "", err
	}
	if err := p.s.gate(ctx, Before, op, key); err != nil {
		return "", err
	}
	f, _, d := p.s.decide(op, key, true)
	switch f {
	case FailBefore:
		return "", transient("write refused", op, key)
	case CrashBefore:
		p.Crash()
		return "", ErrCrashed
	case Delay:
		if err := wait.Sleep(ctx, d); err != nil {
			return "", err
		}
	}
	if err := p.alive(); err != nil { // killed while waiting
		return "", err
	}
	v, err := call()
	if gerr := p.s.gate(ctx, After, op, key); gerr != nil {
		return "", gerr
	}
	switch {
	case f == CrashAfter:
		p.Crash()
		return "", ErrCrashed
	case f == FailAfter && err == nil:
		return "", transient("acknowledgement lost", op, key)
	}
	return v, err
}

func (p *Process) read(ctx context.Context, op, key string) error {
	if err := p.alive(); err != nil {
		return err
	}
	if err := p.s.gate(ctx, Before, op, key); err != nil {
		return err
	}
	if f, _, _ := p.s.decide(op, key, false); f == FailRead {
		return transient("read failed", op, key)
	}
	return nil
}

// Get reads through, or fails transiently.
func (p *Process) Get(ctx context.Context, key string) ([]byte, driver.Version, error) {
	if err := p.read(ctx, OpGet, key); err != nil {
		return nil, "", err
	}
	return p.s.inner.Get(ctx, key)
}

// List reads through, or fails transiently. Its faults are keyed by prefix
// and page token.
func (p *Process) List(ctx context.Context, prefix, pageToken string, pageSize int) (driver.Page, error) {
	if err := p.read(ctx, OpList, prefix+"\x00"+pageToken); err != nil {
		return driver.Page{}, err
	}
	return p.s.inner.List(ctx, prefix, pageToken, pageSize)
}

// Put writes with its fault.
func (p *Process) Put(ctx context.Context, key string, data []byte) (driver.Version, error) {
	return p.write(ctx, OpPut, key, func() (driver.Version, error) { return p.s.inner.Put(ctx, key, data) })
}

// PutIfAbsent writes with its fault.
func (p *Process) PutIfAbsent(ctx context.Context, key string, data []byte) (driver.Version, error) {
	return p.write(ctx, OpPutIfAbsent, key, func() (driver.Version, error) { return p.s.inner.PutIfAbsent(ctx, key, data) })
}

// PutIfVersion writes with its fault.
func (p *Process) PutIfVersion(ctx context.Context, key string, data []byte, v driver.Version) (driver.Version, error) {
	return p.write(ctx, OpPutIfVersion, key, func() (driver.Version, error) { return p.s.inner.PutIfVersion(ctx, key, data, v) })
}

// Delete removes with its fault.
func (p *Process) Delete(ctx context.Context, key string) error {
	_, err := p.write(ctx, OpDelete, key, func() (driver.Version, error) { return "-", p.s.inner.Delete(ctx, key) })
	return err
}

// DeleteIfVersion removes with its fault.
func (p *Process) DeleteIfVersion(ctx context.Context, key string, v driver.Version) error {
	_, err := p.write(ctx, OpDeleteIfVersion, key, func() (driver.Version, error) {
		return "-", p.s.inner.DeleteIfVersion(ctx, key, v)
	})
	return err
}

// SignedURL passes through: a URL is used outside the process.
func (p *Process) SignedURL(ctx context.Context, key, method string, expiry time.Duration) (string, error) {
	if err := p.alive(); err != nil {
		return "", err
	}
	return p.s.inner.SignedURL(ctx, key, method, expiry)
}

// Close ends the process's handle; the store's data is untouched and the
// wrapped driver stays open for the other processes.
func (p *Process) Close() error {
	p.closed.Store(true)
	return nil
}

// EntriesRead passes on the inner driver's count of entries its listings
// read (drivertest.EntriesReader), or -1 if it keeps none.
func (p *Process) EntriesRead() int64 {
	if er, ok := p.s.inner.(interface{ EntriesRead() int64 }); ok {
		return er.EntriesRead()
	}
	return -1
}
