// Package store is Acquire's portable object store: one Bucket type holding
// all shared logic (key validation, size limits, error wrapping, retries of
// reads, JSON helpers, paged iteration and the optimistic compare-and-swap
// loop) on top of a small Driver per backend.
//
// All of Acquire's state lives in object stores and many stateless instances
// may run against one bucket at once, so correctness rests on the conditional
// writes: PutIfAbsent, PutIfVersion and DeleteIfVersion. A failed condition
// is always ErrPrecondition and a missing key always ErrNotFound, whatever the
// backend said.
//
// The types, errors and limits below are aliases of package driver, where
// they live so that drivers need not import this package; they are the same
// types, so errors.Is and assignments work across both names.
package store

import (
	"time"

	"github.com/openacquire/acquire/runtime/store/driver"
)

// Errors; see package driver for their meaning.
var (
	ErrNotFound        = driver.ErrNotFound
	ErrPrecondition    = driver.ErrPrecondition
	ErrInvalidKey      = driver.ErrInvalidKey
	ErrTooLarge        = driver.ErrTooLarge
	ErrUnsupported     = driver.ErrUnsupported
	ErrInvalidArgument = driver.ErrInvalidArgument
	ErrTransient       = driver.ErrTransient
	ErrClosed          = driver.ErrClosed
	ErrTooMany         = driver.ErrTooMany
	ErrCorrupt         = driver.ErrCorrupt
)

// Limits of keys, objects and pages.
const (
	MaxKeyBytes    = driver.MaxKeyBytes
	MaxObjectBytes = driver.MaxObjectBytes
	MaxPageSize    = driver.MaxPageSize
)

// Limits of the Bucket's own operations.
const (
	// MaxVersionBytes bounds a version token passed in by a caller.
	MaxVersionBytes = 1024
	// MaxPageTokenBytes bounds a page token passed in by a caller.
	MaxPageTokenBytes = 4096
	// MaxUpdateAttempts bounds the compare-and-swap loop of Update.
	MaxUpdateAttempts = 1000
	// MaxListAll bounds how many objects ListAll may gather in memory.
	MaxListAll = 1_000_000
	// MaxSignedURLExpiry is the longest signed URL any cloud accepts (S3).
	MaxSignedURLExpiry = 7 * 24 * time.Hour
	// ReadAttempts is how often Get and List are tried on ErrTransient.
	ReadAttempts = 3
)

// Shared types; see package driver.
type (
	Driver     = driver.Driver
	Version    = driver.Version
	ObjectInfo = driver.ObjectInfo
	Page       = driver.Page
	Stream     = driver.Stream
)
