// Package memstore is the in-memory object store driver: a map under a
// mutex. It backs tests and "mem://" buckets of a single process.
package memstore

import (
	"context"
	"encoding/base64"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/btree"

	"github.com/openacquire/acquire/runtime/store/driver"
)

type object struct {
	data     []byte
	version  driver.Version
	modified time.Time
}

// state is the data of one bucket; several Driver handles may share it.
type state struct {
	mu      sync.RWMutex
	objects map[string]object
	// order holds the keys sorted, so a list page costs O(page + log n).
	order *btree.BTreeG[string]
	// writes counts every write ever made, so versions are never reused,
	// even for a key that is deleted and created again (no ABA).
	writes uint64
}

// Driver is a handle on an in-memory bucket.
type Driver struct {
	s       *state
	closed  atomic.Bool
	visited atomic.Int64
}

var named = struct {
	sync.Mutex
	buckets map[string]*state
}{buckets: map[string]*state{}}

// New returns a driver on a fresh, private, empty bucket.
func New() *Driver {
	return &Driver{s: newState()}
}

func newState() *state {
	return &state{objects: map[string]object{}, order: btree.NewG(32, func(a, b string) bool { return a < b })}
}

// Named returns a driver on the process-wide bucket called name, creating
// it on first use: every handle of one name sees the same data, for the
// life of the process (closing a handle keeps the data).
func Named(name string) *Driver {
	named.Lock()
	defer named.Unlock()
	s := named.buckets[name]
	if s == nil {
		s = newState()
		named.buckets[name] = s
	}
	return &Driver{s: s}
}

var _ driver.Driver = (*Driver)(nil)

func (d *Driver) check(ctx context.Context) error {
	if d.closed.Load() {
		return driver.ErrClosed
	}
	return ctx.Err()
}

// Get returns a copy, so callers may modify it freely.
func (d *Driver) Get(ctx context.Context, key string) ([]byte, driver.Version, error) {
	if err := d.check(ctx); err != nil {
		return nil, "", err
	}
	d.s.mu.RLock()
	defer d.s.mu.RUnlock()
	o, ok := d.s.objects[key]
	if !ok {
		return nil, "", driver.ErrNotFound
	}
	return slices.Clone(o.data), o.version, nil
}

// store writes under the held lock; it copies data because the caller keeps
// ownership of its slice.
func (s *state) store(key string, data []byte) driver.Version {
	s.writes++
	v := driver.Version(strconv.FormatUint(s.writes, 36))
	if _, ok := s.objects[key]; !ok {
		s.order.ReplaceOrInsert(key)
	}
	s.objects[key] = object{data: append([]byte{}, data...), version: v, modified: time.Now()}
	return v
}

// Put writes unconditionally.
func (d *Driver) Put(ctx context.Context, key string, data []byte) (driver.Version, error) {
	return d.write(ctx, key, data, func(object, bool) error { return nil })
}

// PutIfAbsent creates key or fails with ErrPrecondition.
func (d *Driver) PutIfAbsent(ctx context.Context, key string, data []byte) (driver.Version, error) {
	return d.write(ctx, key, data, func(_ object, exists bool) error {
		if exists {
			return driver.ErrPrecondition
		}
		return nil
	})
}

// PutIfVersion replaces key if its version is v; absent is ErrPrecondition.
func (d *Driver) PutIfVersion(ctx context.Context, key string, data []byte, v driver.Version) (driver.Version, error) {
	return d.write(ctx, key, data, func(o object, exists bool) error {
		if !exists || o.version != v {
			return driver.ErrPrecondition
		}
		return nil
	})
}

// write checks cond and stores, both under one lock hold.
func (d *Driver) write(ctx context.Context, key string, data []byte, cond func(object, bool) error) (driver.Version, error) {
	if err := d.check(ctx); err != nil {
		return "", err
	}
	d.s.mu.Lock()
	defer d.s.mu.Unlock()
	o, exists := d.s.objects[key]
	if err := cond(o, exists); err != nil {
		return "", err
	}
	return d.s.store(key, data), nil
}

// Delete removes key; ErrNotFound if absent.
func (d *Driver) Delete(ctx context.Context, key string) error {
	return d.remove(ctx, key, func(object) error { return nil })
}

// DeleteIfVersion removes key if its version is v.
func (d *Driver) DeleteIfVersion(ctx context.Context, key string, v driver.Version) error {
	return d.remove(ctx, key, func(o object) error {
		if o.version != v {
			return driver.ErrPrecondition
		}
		return nil
	})
}

func (d *Driver) remove(ctx context.Context, key string, cond func(object) error) error {
	if err := d.check(ctx); err != nil {
		return err
	}
	d.s.mu.Lock()
	defer d.s.mu.Unlock()
	o, ok := d.s.objects[key]
	if !ok {
		return driver.ErrNotFound
	}
	if err := cond(o); err != nil {
		return err
	}
	delete(d.s.objects, key)
	d.s.order.Delete(key)
	return nil
}

// List walks the sorted key index from just after the page token: a page
// costs O(page + log n), whatever the bucket's size. The page token is the
// last key returned, base64url-encoded so callers treat it as opaque.
func (d *Driver) List(ctx context.Context, prefix, pageToken string, pageSize int) (driver.Page, error) {
	if err := d.check(ctx); err != nil {
		return driver.Page{}, err
	}
	after, err := base64.RawURLEncoding.DecodeString(pageToken)
	if err != nil {
		return driver.Page{}, driver.ErrInvalidArgument
	}
	from := max(prefix, string(after))
	d.s.mu.RLock()
	defer d.s.mu.RUnlock()
	var page driver.Page
	d.s.order.AscendGreaterOrEqual(from, func(k string) bool {
		d.visited.Add(1)
		if k == string(after) {
			return true
		}
		if !strings.HasPrefix(k, prefix) {
			return false
		}
		if len(page.Items) == pageSize {
			page.Next = base64.RawURLEncoding.EncodeToString([]byte(page.Items[pageSize-1].Key))
			return false
		}
		o := d.s.objects[k]
		page.Items = append(page.Items, driver.ObjectInfo{Key: k, Size: int64(len(o.data)), Version: o.version, Modified: o.modified})
		return true
	})
	return page, nil
}

// EntriesRead counts the keys listings of this handle have visited, so a
// test can check that a page does not read the whole bucket.
func (d *Driver) EntriesRead() int64 { return d.visited.Load() }

// SignedURL is unsupported: there is nothing outside the process to serve.
func (d *Driver) SignedURL(context.Context, string, string, time.Duration) (string, error) {
	return "", driver.ErrUnsupported
}

// Close marks this handle closed; the bucket's data stays (see Named).
func (d *Driver) Close() error {
	d.closed.Store(true)
	return nil
}
