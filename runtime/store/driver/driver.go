// Package driver defines the contract between the portable object store
// (package store) and each backend (memory, local files, S3, GCS, Azure).
//
// It holds only types, sentinel errors and limits, no logic, so that drivers
// can import it without importing package store. That in turn lets package
// store open the built-in mem:// and file:// drivers without an import cycle.
// Package store re-exports every name here under the same name; application
// code should use package store, never this package.
//
// A driver is small and holds no shared logic: validation, size limits,
// retries, JSON, iteration and the compare-and-swap loop live in store.Bucket.
package driver

import (
	"context"
	"errors"
	"io"
	"time"
)

// Sentinel errors. Drivers return them (possibly wrapped) so that callers can
// test with errors.Is whatever the backend said.
var (
	// ErrNotFound: the key is absent.
	ErrNotFound = errors.New("not found")
	// ErrPrecondition: put-if-absent on an existing key, or a version
	// mismatch (including an absent key) on a conditional put or delete.
	ErrPrecondition = errors.New("precondition failed")
	// ErrInvalidKey: the key or prefix fails validation.
	ErrInvalidKey = errors.New("invalid key")
	// ErrTooLarge: the object is larger than MaxObjectBytes.
	ErrTooLarge = errors.New("object too large")
	// ErrUnsupported: the driver cannot do this (e.g. sign URLs, or an
	// unregistered URL scheme).
	ErrUnsupported = errors.New("unsupported")
	// ErrInvalidArgument: an argument other than the key is malformed (page
	// token, version, method, expiry, attempts, limit).
	ErrInvalidArgument = errors.New("invalid argument")
	// ErrTransient: a failure that may succeed when retried (throttling, 5xx,
	// timeout). Drivers wrap it; the Bucket retries reads on it, never
	// conditional writes, whose first attempt may have landed.
	ErrTransient = errors.New("transient failure")
	// ErrClosed: the Bucket or Driver was closed.
	ErrClosed = errors.New("closed")
	// ErrTooMany: more objects exist than the caller's limit allows.
	ErrTooMany = errors.New("too many objects")
	// ErrCorrupt: stored bytes fail an integrity check.
	ErrCorrupt = errors.New("corrupt object")
)

// Limits shared by every driver. Cloud stores allow 1024-byte keys (S3, GCS,
// Azure), and 64 MiB bounds a single request's memory.
const (
	MaxKeyBytes    = 1024
	MaxObjectBytes = 64 << 20
	MaxPageSize    = 1000
)

// Version is an opaque token naming one write of one key. Every successful
// write yields a token never produced before for that key, so a token taken
// before an overwrite is refused after it even if the bytes are identical
// (no ABA).
type Version string

// ObjectInfo describes one object in a listing.
type ObjectInfo struct {
	Key  string
	Size int64
	// StoredSize is how many bytes the store itself holds for the object:
	// what a signed GET URL serves and what a PUT through a signed URL sent.
	// It differs from Size only where a driver frames what it writes (S3),
	// and is what anyone checking an upload made around the driver must
	// compare. store.Bucket sets it to Size where a driver leaves it 0.
	StoredSize int64
	Version    Version
	Modified   time.Time
}

// Page is one page of a listing. Next == "" means there are no more pages.
type Page struct {
	Items []ObjectInfo
	Next  string
}

// Driver is what each backend implements.
//
// Guarantees from the caller (store.Bucket): keys and prefixes are already
// validated, data is at most MaxObjectBytes, pageSize is in [1, MaxPageSize],
// versions are non-empty, and the method is "GET" or "PUT". A driver must not
// retain data slices after returning, and must be safe for concurrent use.
type Driver interface {
	// Get returns the bytes and current version, or ErrNotFound.
	Get(ctx context.Context, key string) ([]byte, Version, error)
	// Put writes unconditionally and returns the new version.
	Put(ctx context.Context, key string, data []byte) (Version, error)
	// PutIfAbsent creates the key, or fails with ErrPrecondition if it exists.
	PutIfAbsent(ctx context.Context, key string, data []byte) (Version, error)
	// PutIfVersion replaces the key only if its current version is v. It
	// fails with ErrPrecondition on a mismatch AND when the key is absent:
	// a compare-and-swap against a vanished object is a lost race, not a
	// lookup failure, and cloud stores report it as 412 too.
	PutIfVersion(ctx context.Context, key string, data []byte, v Version) (Version, error)
	// Delete removes the key unconditionally; ErrNotFound if absent.
	Delete(ctx context.Context, key string) error
	// DeleteIfVersion removes the key only if its version is v:
	// ErrPrecondition on mismatch, ErrNotFound if absent.
	DeleteIfVersion(ctx context.Context, key string, v Version) error
	// List returns keys starting with prefix, in byte-wise lexical order,
	// strictly after the position encoded in the opaque pageToken ("" starts
	// at the beginning), at most pageSize items per page.
	//
	// Cost: a page costs O(pageSize + log n) for n keys under the prefix,
	// never a read of the whole folder, from the first page or from any
	// token; the clouds do this natively (prefix, start-after, max-keys),
	// the file store through bounded directories (filestore/tree.go), the
	// memory store through a sorted index. Callers rely on it: a sweep or a
	// queue reads one page of what is due, not the history. The
	// conformance suite (drivertest, ListPageCost) checks it through each
	// driver's EntriesRead count.
	List(ctx context.Context, prefix, pageToken string, pageSize int) (Page, error)
	// SignedURL returns a time-limited URL for method on key, or
	// ErrUnsupported.
	SignedURL(ctx context.Context, key, method string, expiry time.Duration) (string, error)
	// Close releases resources. Data in persistent stores is untouched.
	Close() error
}

// Streamer is an optional Driver extension for large objects: Open hands
// out the object's bytes as a stream instead of reading them whole, so a
// server can pass them to a socket without copying them through memory
// (the file store's stream is sent with sendfile(2) by net/http).
//
// A stream skips the driver's whole-object integrity check (the file
// store's CRC), which needs every byte read first: the caller checks what
// it reads (storage checks every chunk's CRC-32C at the client). The
// length is still checked against the object's header.
type Streamer interface {
	// Open returns the object's current bytes, or ErrNotFound. The caller
	// closes the stream.
	Open(ctx context.Context, key string) (*Stream, error)
}

// CRCPutter is an optional Driver extension for a caller that has already
// computed the CRC-32C (Castagnoli) of the bytes it puts: the storage
// service checks every chunk against its client's CRC as it arrives. A
// driver that keeps a checksum of its own (the file store's header) takes
// that one instead of making another pass over a large object.
//
// A wrong crc is never served as good data: the driver either refuses the
// put (ErrInvalidArgument) or whole-object reads of it fail with
// ErrCorrupt. Streams (Streamer) skip that check, as they skip every
// whole-object check.
type CRCPutter interface {
	// PutCRC32C is Put with the data's CRC-32C given.
	PutCRC32C(ctx context.Context, key string, data []byte, crc uint32) (Version, error)
}

// SizedPutSigner is an optional Driver extension: a signed PUT URL for a
// body of exactly size bytes, which the store itself refuses for any other
// size (S3 signs the Content-Length; GCS signs x-goog-content-length-range).
// Without it a signed PUT URL takes a body of any size, and whoever counts
// the bytes must measure what landed (ObjectInfo.StoredSize). headers are
// what the PUT must send as signed, besides Content-Length (nil if none).
type SizedPutSigner interface {
	SignedPutURL(ctx context.Context, key string, size int64, expiry time.Duration) (url string, headers map[string]string, err error)
}

// Stream is one object's bytes being read.
type Stream struct {
	// R yields exactly Size bytes.
	R       io.Reader
	Size    int64
	Version Version
	// Close releases the stream; it must be called once.
	Close func() error
}
