package store

import (
	"bytes"
	"context"
	"fmt"
	"hash/crc32"
	"strings"
	"sync/atomic"
	"time"

	"github.com/openacquire/acquire/runtime/store/driver"
)

// Bucket is the portable object store. It validates every key, enforces the
// size and page limits, retries reads on ErrTransient, and wraps every error
// with the operation and key (never the data) while keeping errors.Is
// working. A Bucket is safe for concurrent use.
type Bucket struct {
	d      Driver
	closed atomic.Bool
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// NewBucket wraps a driver. It panics on nil: that is a wiring bug, not a
// runtime condition.
func NewBucket(d Driver) *Bucket {
	if d == nil {
		panic("store: NewBucket(nil)")
	}
	return &Bucket{d: d}
}

// opError names the operation and key. %q keeps odd bytes in keys readable
// and unambiguous in logs.
func opError(op, key string, err error) error {
	return fmt.Errorf("store: %s %q: %w", op, key, err)
}

// checkKey is the gate every single-key operation passes before its driver.
func (b *Bucket) checkKey(key string) error {
	if b.closed.Load() {
		return ErrClosed
	}
	return ValidateKey(key)
}

func checkVersion(v Version) error {
	if v == "" || len(v) > MaxVersionBytes {
		return fmt.Errorf("%w: version of %d bytes", ErrInvalidArgument, len(v))
	}
	return nil
}

func checkData(data []byte) error {
	if len(data) > MaxObjectBytes {
		return fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, len(data), MaxObjectBytes)
	}
	return nil
}

// Get returns the object's bytes and version, or an error wrapping
// ErrNotFound.
func (b *Bucket) Get(ctx context.Context, key string) ([]byte, Version, error) {
	if err := b.checkKey(key); err != nil {
		return nil, "", opError("get", key, err)
	}
	var data []byte
	var v Version
	err := retryRead(ctx, func() error {
		var err error
		data, v, err = b.d.Get(ctx, key)
		return err
	})
	if err == nil {
		err = checkDriverRead(data, v)
	}
	if err != nil {
		return nil, "", opError("get", key, err)
	}
	return data, v, nil
}

// Open streams the object's bytes, for large objects a server passes on:
// without reading them whole where the driver can (see driver.Streamer),
// else from one Get. The driver's own whole-object check may be skipped:
// use it only where the reader checks the bytes itself. The caller must
// call the stream's Close.
func (b *Bucket) Open(ctx context.Context, key string) (*Stream, error) {
	if err := b.checkKey(key); err != nil {
		return nil, opError("open", key, err)
	}
	sd, ok := b.d.(driver.Streamer)
	if !ok {
		data, v, err := b.Get(ctx, key)
		if err != nil {
			return nil, err
		}
		return &Stream{R: bytes.NewReader(data), Size: int64(len(data)), Version: v, Close: func() error { return nil }}, nil
	}
	var st *Stream
	err := retryRead(ctx, func() error {
		var err error
		st, err = sd.Open(ctx, key)
		return err
	})
	if err == nil && (st.Version == "" || st.Size < 0 || st.Size > MaxObjectBytes) {
		_ = st.Close()
		err = fmt.Errorf("driver returned a stream of %d bytes at version %q", st.Size, st.Version)
	}
	if err != nil {
		return nil, opError("open", key, err)
	}
	return st, nil
}

// checkDriverRead asserts what every driver promises, so a driver bug
// surfaces here instead of as a silent ABA or an oversized allocation later.
func checkDriverRead(data []byte, v Version) error {
	if v == "" {
		return fmt.Errorf("driver returned an empty version")
	}
	return checkData(data)
}

// write runs one put-like driver call behind the shared checks.
func (b *Bucket) write(op, key string, data []byte, call func() (Version, error)) (Version, error) {
	err := b.checkKey(key)
	if err == nil {
		err = checkData(data)
	}
	if err != nil {
		return "", opError(op, key, err)
	}
	v, err := call()
	if err == nil && v == "" {
		err = fmt.Errorf("driver returned an empty version")
	}
	if err != nil {
		return "", opError(op, key, err)
	}
	return v, nil
}

// Put writes unconditionally. Writes are never retried: the first attempt
// may have landed, and repeating it could undo a write made in between.
func (b *Bucket) Put(ctx context.Context, key string, data []byte) (Version, error) {
	return b.write("put", key, data, func() (Version, error) { return b.d.Put(ctx, key, data) })
}

// PutCRC32C is Put for a caller that has computed data's CRC-32C over
// these same bytes. Drivers that keep a CRC take it (driver.CRCPutter);
// for the others it is checked here, so a wrong crc is refused with
// ErrInvalidArgument before anything is written.
func (b *Bucket) PutCRC32C(ctx context.Context, key string, data []byte, crc uint32) (Version, error) {
	if cd, ok := b.d.(driver.CRCPutter); ok {
		return b.write("put", key, data, func() (Version, error) { return cd.PutCRC32C(ctx, key, data, crc) })
	}
	return b.write("put", key, data, func() (Version, error) {
		if crc32.Checksum(data, castagnoli) != crc {
			return "", fmt.Errorf("%w: the data does not match the CRC-32C given", ErrInvalidArgument)
		}
		return b.d.Put(ctx, key, data)
	})
}

// PutIfAbsent creates key, or fails with ErrPrecondition if it exists.
func (b *Bucket) PutIfAbsent(ctx context.Context, key string, data []byte) (Version, error) {
	return b.write("put-if-absent", key, data, func() (Version, error) { return b.d.PutIfAbsent(ctx, key, data) })
}

// PutIfVersion replaces key only if its version is v; ErrPrecondition on a
// mismatch and also when the key is absent.
func (b *Bucket) PutIfVersion(ctx context.Context, key string, data []byte, v Version) (Version, error) {
	if err := checkVersion(v); err != nil {
		return "", opError("put-if-version", key, err)
	}
	return b.write("put-if-version", key, data, func() (Version, error) { return b.d.PutIfVersion(ctx, key, data, v) })
}

// Delete removes key; ErrNotFound if absent.
func (b *Bucket) Delete(ctx context.Context, key string) error {
	if err := b.checkKey(key); err != nil {
		return opError("delete", key, err)
	}
	if err := b.d.Delete(ctx, key); err != nil {
		return opError("delete", key, err)
	}
	return nil
}

// DeleteIfVersion removes key only if its version is v: ErrPrecondition on
// a mismatch, ErrNotFound if absent.
func (b *Bucket) DeleteIfVersion(ctx context.Context, key string, v Version) error {
	err := b.checkKey(key)
	if err == nil {
		err = checkVersion(v)
	}
	if err == nil {
		err = b.d.DeleteIfVersion(ctx, key, v)
	}
	if err != nil {
		return opError("delete-if-version", key, err)
	}
	return nil
}

// SignedURL returns a URL giving direct "GET" or "PUT" access to key for
// expiry, which must be in (0, MaxSignedURLExpiry]. Drivers that cannot sign
// return ErrUnsupported.
func (b *Bucket) SignedURL(ctx context.Context, key, method string, expiry time.Duration) (string, error) {
	if err := b.checkSign(key, method, expiry); err != nil {
		return "", opError("signed-url", key, err)
	}
	u, err := b.d.SignedURL(ctx, key, method, expiry)
	if err != nil {
		return "", opError("signed-url", key, err)
	}
	return u, nil
}

// SignedPutURL returns a signed PUT URL for a body of exactly size bytes
// and the headers the PUT must carry. Where the driver can (a
// SizedPutSigner), the store itself refuses a body of another size; where
// it cannot, the URL takes any size, so whoever counts the bytes must
// measure what landed (ObjectInfo.StoredSize).
func (b *Bucket) SignedPutURL(ctx context.Context, key string, size int64, expiry time.Duration) (string, map[string]string, error) {
	err := b.checkSign(key, "PUT", expiry)
	if err == nil && size < 0 {
		err = fmt.Errorf("%w: size %d", ErrInvalidArgument, size)
	}
	if err != nil {
		return "", nil, opError("signed-url", key, err)
	}
	var u string
	var headers map[string]string
	if sd, ok := b.d.(driver.SizedPutSigner); ok {
		u, headers, err = sd.SignedPutURL(ctx, key, size, expiry)
	} else {
		u, err = b.d.SignedURL(ctx, key, "PUT", expiry)
	}
	if err != nil {
		return "", nil, opError("signed-url", key, err)
	}
	return u, headers, nil
}

func (b *Bucket) checkSign(key, method string, expiry time.Duration) error {
	err := b.checkKey(key)
	if err == nil && method != "GET" && method != "PUT" {
		err = fmt.Errorf("%w: method %q (want GET or PUT)", ErrInvalidArgument, method)
	}
	if err == nil && (expiry <= 0 || expiry > MaxSignedURLExpiry) {
		err = fmt.Errorf("%w: expiry %v outside (0, %v]", ErrInvalidArgument, expiry, MaxSignedURLExpiry)
	}
	return err
}

// Close closes the driver once; later calls on the Bucket fail with
// ErrClosed, and a second Close returns nil.
func (b *Bucket) Close() error {
	if b.closed.Swap(true) {
		return nil
	}
	return b.d.Close()
}

// hasPrefixAndAfter reports whether a listed key is where a page may put it.
func hasPrefixAndAfter(key, prefix, prev string) bool {
	return strings.HasPrefix(key, prefix) && (prev == "" || key > prev)
}
