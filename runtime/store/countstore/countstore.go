// Package countstore wraps a store driver to count the requests it makes,
// by the class a cloud bills them in: unconditional puts, conditional
// puts (put-if-absent, put-if-version), gets (whole or streamed), lists
// (one per page) and deletes. Serverless pricing is per request, so these
// counts, per operation of a service, are what an operation costs in
// storage (docs/design/cost.md); `acquire bench --cost` prints them and a
// test pins them, so a change that adds requests fails.
//
// Signing a URL makes no request to the store and is not counted; the
// request the URL's holder then makes goes around the driver (the client
// talks to the store) and is counted by whoever serves it.
package countstore

import (
	"bytes"
	"context"
	"fmt"
	"hash/crc32"
	"sync/atomic"
	"time"

	"github.com/openacquire/acquire/runtime/store/driver"
)

// Counts are requests by class.
type Counts struct {
	Put     int64 `json:"put"`
	CondPut int64 `json:"conditional_put"`
	Get     int64 `json:"get"`
	List    int64 `json:"list"`
	Delete  int64 `json:"delete"`
}

// Total is every request.
func (c Counts) Total() int64 { return c.Put + c.CondPut + c.Get + c.List + c.Delete }

// Sub is c less o, class by class.
func (c Counts) Sub(o Counts) Counts {
	return Counts{Put: c.Put - o.Put, CondPut: c.CondPut - o.CondPut, Get: c.Get - o.Get, List: c.List - o.List, Delete: c.Delete - o.Delete}
}

// Add is c plus o, class by class.
func (c Counts) Add(o Counts) Counts {
	return Counts{Put: c.Put + o.Put, CondPut: c.CondPut + o.CondPut, Get: c.Get + o.Get, List: c.List + o.List, Delete: c.Delete + o.Delete}
}

func (c Counts) String() string {
	return fmt.Sprintf("put %d, conditional put %d, get %d, list %d, delete %d", c.Put, c.CondPut, c.Get, c.List, c.Delete)
}

// Counter counts requests; many drivers may share one. The zero value is
// ready to use and safe for concurrent use.
type Counter struct {
	put, condPut, get, list, del atomic.Int64
}

// Snapshot reads the counts so far.
func (c *Counter) Snapshot() Counts {
	return Counts{Put: c.put.Load(), CondPut: c.condPut.Load(), Get: c.get.Load(), List: c.list.Load(), Delete: c.del.Load()}
}

type divertKey struct{}

// Divert makes the store requests made under ctx count into c instead of
// the driver's own counter: a caller that serves some requests on a path
// the clouds do not take (the host serving chunk bytes that a cloud
// store takes straight from the client) keeps them apart.
func Divert(ctx context.Context, c *Counter) context.Context {
	return context.WithValue(ctx, divertKey{}, c)
}

// counter is where a request under ctx counts.
func (w *Driver) counter(ctx context.Context) *Counter {
	if c, ok := ctx.Value(divertKey{}).(*Counter); ok {
		return c
	}
	return w.c
}

// Driver counts each request into its Counter before passing it on: a
// request that fails is still a request (the clouds bill it).
//
// It implements every optional driver extension. Where the wrapped
// driver lacks one, it does what store.Bucket would do without it (a
// stream from one get, a CRC checked before a plain put, a signed URL
// without the size), so a bucket over the wrapper behaves and costs the
// same as one over the driver itself.
type Driver struct {
	d driver.Driver
	c *Counter
}

// Wrap counts d's requests into c.
func Wrap(d driver.Driver, c *Counter) *Driver { return &Driver{d: d, c: c} }

var (
	_ driver.Driver         = (*Driver)(nil)
	_ driver.Streamer       = (*Driver)(nil)
	_ driver.CRCPutter      = (*Driver)(nil)
	_ driver.SizedPutSigner = (*Driver)(nil)
)

// Get counts a get.
func (w *Driver) Get(ctx context.Context, key string) ([]byte, driver.Version, error) {
	w.counter(ctx).get.Add(1)
	return w.d.Get(ctx, key)
}

// Put counts a put.
func (w *Driver) Put(ctx context.Context, key string, data []byte) (driver.Version, error) {
	w.counter(ctx).put.Add(1)
	return w.d.Put(ctx, key, data)
}

// PutIfAbsent counts a conditional put.
func (w *Driver) PutIfAbsent(ctx context.Context, key string, data []byte) (driver.Version, error) {
	w.counter(ctx).condPut.Add(1)
	return w.d.PutIfAbsent(ctx, key, data)
}

// PutIfVersion counts a conditional put.
func (w *Driver) PutIfVersion(ctx context.Context, key string, data []byte, v driver.Version) (driver.Version, error) {
	w.counter(ctx).condPut.Add(1)
	return w.d.PutIfVersion(ctx, key, data, v)
}

// Delete counts a delete.
func (w *Driver) Delete(ctx context.Context, key string) error {
	w.counter(ctx).del.Add(1)
	return w.d.Delete(ctx, key)
}

// DeleteIfVersion counts a delete (the clouds bill a conditional delete
// as a delete).
func (w *Driver) DeleteIfVersion(ctx context.Context, key string, v driver.Version) error {
	w.counter(ctx).del.Add(1)
	return w.d.DeleteIfVersion(ctx, key, v)
}

// List counts one list request per page.
func (w *Driver) List(ctx context.Context, prefix, pageToken string, pageSize int) (driver.Page, error) {
	w.counter(ctx).list.Add(1)
	return w.d.List(ctx, prefix, pageToken, pageSize)
}

// SignedURL makes no request.
func (w *Driver) SignedURL(ctx context.Context, key, method string, expiry time.Duration) (string, error) {
	return w.d.SignedURL(ctx, key, method, expiry)
}

// SignedPutURL makes no request; without the extension it signs as
// store.Bucket would.
func (w *Driver) SignedPutURL(ctx context.Context, key string, size int64, expiry time.Duration) (string, map[string]string, error) {
	if sd, ok := w.d.(driver.SizedPutSigner); ok {
		return sd.SignedPutURL(ctx, key, size, expiry)
	}
	u, err := w.d.SignedURL(ctx, key, "PUT", expiry)
	return u, nil, err
}

// Open counts a get: streamed or not, the store serves one GET.
func (w *Driver) Open(ctx context.Context, key string) (*driver.Stream, error) {
	w.counter(ctx).get.Add(1)
	if sd, ok := w.d.(driver.Streamer); ok {
		return sd.Open(ctx, key)
	}
	data, v, err := w.d.Get(ctx, key)
	if err != nil {
		return nil, err
	}
	return &driver.Stream{R: bytes.NewReader(data), Size: int64(len(data)), Version: v, Close: func() error { return nil }}, nil
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// PutCRC32C counts a put; without the extension it checks crc, as
// store.Bucket would, before a plain put.
func (w *Driver) PutCRC32C(ctx context.Context, key string, data []byte, crc uint32) (driver.Version, error) {
	w.counter(ctx).put.Add(1)
	if cd, ok := w.d.(driver.CRCPutter); ok {
		return cd.PutCRC32C(ctx, key, data, crc)
	}
	if crc32.Checksum(data, castagnoli) != crc {
		return "", fmt.Errorf("%w: the data does not match the CRC-32C given", driver.ErrInvalidArgument)
	}
	return w.d.Put(ctx, key, data)
}

// Close closes the wrapped driver.
func (w *Driver) Close() error { return w.d.Close() }

// EntriesRead passes on the inner driver's count of entries its listings
// read (drivertest.EntriesReader), or -1 if it keeps none.
func (d *Driver) EntriesRead() int64 {
	if er, ok := d.d.(interface{ EntriesRead() int64 }); ok {
		return er.EntriesRead()
	}
	return -1
}
