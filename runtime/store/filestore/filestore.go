// Package filestore is the local-folder object store driver. It is safe
// across OS processes on one machine, not only across goroutines, and
// crash-safe: every object file is written under a temp name (on Linux, a
// new object as an unnamed O_TMPFILE file instead), flushed, then linked
// (create-only) or renamed (replace) into place, and the directory is
// flushed before the write is acknowledged. A name thus never points at
// unflushed data.
//
// Concurrency: PutIfAbsent needs no key lock, because link(2) fails
// atomically with EEXIST when the key exists. Every other write (Put,
// PutIfVersion, Delete, DeleteIfVersion) holds an exclusive flock(2) on the
// key's lock stripe while it reads the current version, compares and
// renames or unlinks, so no two of them interleave and none can slip
// between another's check and its rename. Every write also holds its
// folder's lock shared, which keeps the folder from being split under it
// (tree.go). Reads take no lock: rename replaces a file atomically, so a
// reader sees one complete write or the one before.
//
// Speed: the data flush happens before any lock is taken, locks are held
// for microseconds, and directory flushes of concurrent writers are shared
// (group commit, groupsync.go), so throughput grows with concurrency even
// though each write waits for two flushes.
//
// Placement: Open marks the root folder as the top of a directory
// hierarchy for ext4's allocator (chattr +T, a hint, see topdir_linux.go).
//
// See layout.go for how keys map to paths and format.go for the file format
// and how versions are made.
package filestore

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/openacquire/acquire/runtime/store/driver"
)

// Driver is a local-folder bucket rooted at one directory.
type Driver struct {
	root   string // absolute, cleaned
	closed atomic.Bool
	syncs  groupSync
	// noAnonymous is set once the file system turned out not to support
	// unnamed files (see linkNew); from then on temp names are used.
	noAnonymous atomic.Bool
	// noEmptyPath is set once naming an unnamed file by its descriptor was
	// refused (see linkAnonymous); from then on /proc names it.
	noEmptyPath atomic.Bool
	// splitEntries and splitOdds are the constants of the same names
	// (tests lower them).
	splitEntries int
	splitOdds    int
	// entriesRead counts directory entries read by listings and splits, so
	// tests can check that a page does not read a whole folder.
	entriesRead atomic.Int64
	// noFlush skips every fsync: tests that build large data sets set it
	// (never set in production: a crash could then lose acknowledged writes).
	noFlush bool
	// beforeMove, when set (tests only), runs before each name a split
	// moves, so a test can stop a process in the middle of a split.
	beforeMove func()
}

var _ driver.Driver = (*Driver)(nil)

// Open returns a driver on the folder root, creating it (mode 0700: objects
// may hold secrets) if missing. A relative root is made absolute now, so a
// later change of working directory cannot move the bucket.
func Open(root string) (*Driver, error) {
	if !supported {
		return nil, fmt.Errorf("filestore: %s: %w", runtime.GOOS, driver.ErrUnsupported)
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("filestore: %w", err)
	}
	if len(abs) > maxRootBytes {
		return nil, fmt.Errorf("filestore: root of %d bytes, limit %d: %w", len(abs), maxRootBytes, driver.ErrInvalidArgument)
	}
	for _, dir := range []string{abs, filepath.Join(abs, tempDir), filepath.Join(abs, locksDir)} {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("filestore: %w", err)
		}
	}
	markTopDir(abs)
	d := &Driver{
		root: abs, syncs: groupSync{dirs: map[string]*dirSync{}, open: map[string]*os.File{}},
		splitEntries: splitEntries, splitOdds: splitOdds,
	}
	d.sweepTemps()
	d.probeAnonymous()
	return d, nil
}

// Root returns the folder the driver stores into.
func (d *Driver) Root() string { return d.root }

func (d *Driver) check(ctx context.Context) error {
	if d.closed.Load() {
		return driver.ErrClosed
	}
	return ctx.Err()
}

// Get reads the whole file at once: the rename that put it there makes it
// one complete write, and the checksum proves it.
func (d *Driver) Get(ctx context.Context, key string) ([]byte, driver.Version, error) {
	if err := d.check(ctx); err != nil {
		return nil, "", err
	}
	var raw []byte
	_, err := d.lookup(locate(key), func(rel string) error {
		var err error
		raw, err = os.ReadFile(d.path(rel))
		return err
	})
	if errors.Is(err, fs.ErrNotExist) {
		return nil, "", driver.ErrNotFound
	}
	if err != nil {
		return nil, "", err
	}
	return decodeFile(raw, key)
}

// lookup finds the key's file without a lock and calls try on its path:
// first at the path its key names (right unless a directory on the way was
// split), then probing down the buckets (see tree.go). A name that was not
// found is looked for again: if a directory above it moved meanwhile, the
// second walk sees the new place; not found twice on the same path is not
// found. It returns the directory holding the file.
func (d *Driver) lookup(loc location, try func(rel string) error) (string, error) {
	if err := try(loc.data()); !errors.Is(err, fs.ErrNotExist) {
		return loc.dir, err
	}
	last := "\x00"
	for range maxAttempts {
		top, err := d.physDir(loc.dir)
		node := ""
		if err == nil {
			node, err = d.probe(top, loc.seg, loc.name(), try)
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return node, err
		}
		if top == last {
			break
		}
		last = top
	}
	return "", fs.ErrNotExist
}

// PutIfAbsent links the flushed new file to the key's name; link(2) fails
// with EEXIST if the name exists, atomically, across processes. On Linux
// the file has no temp name at all (see newObject).
func (d *Driver) PutIfAbsent(ctx context.Context, key string, data []byte) (driver.Version, error) {
	if err := d.check(ctx); err != nil {
		return "", err
	}
	loc := locate(key)
	// Fail fast, before paying for a flush, if the key exists now. This is
	// only a shortcut: link below is what decides.
	if node, err := d.lookup(loc, d.lstat); err == nil {
		return "", d.exists(node)
	}
	obj, err := d.newObject(key, data, crcOf(data))
	if err != nil {
		return "", err
	}
	defer obj.discard()
	node, err := d.insertAt(ctx, loc, key, true, false, func(node string) error {
		return obj.link(d, node+loc.name())
	})
	if errors.Is(err, fs.ErrExist) {
		return "", d.exists(node)
	}
	if err != nil {
		return "", err
	}
	return versionOf(obj.version), d.syncPlaced(loc, node)
}

func (d *Driver) lstat(rel string) error {
	_, err := os.Lstat(d.path(rel))
	return err
}

// exists reports a lost put-if-absent, once the name it lost to is durable.
// That name may be another writer's link whose directory flush has not
// finished; a loser that went on to act on it (the ledger reads the winning
// transfer record and applies it in other directories) could otherwise
// make durable a consequence of an object that a crash then loses. A
// directory flush that starts now covers the link, and it is grouped with
// the winner's own.
func (d *Driver) exists(node string) error {
	if err := d.syncDir(node); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return driver.ErrPrecondition
}

// syncPlaced flushes the directory where a write put the key's name. If
// that directory moved since (a split above it), the flush goes to where
// the name is now; if the name is gone, whoever removed it flushed that.
func (d *Driver) syncPlaced(loc location, node string) error {
	err := d.syncDir(node)
	if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	node, err = d.lookup(loc, d.lstat)
	if err == nil {
		err = d.syncDir(node)
	}
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}

// Put replaces unconditionally, but still under the key's lock, so it cannot
// land between a concurrent PutIfVersion's check and its rename.
func (d *Driver) Put(ctx context.Context, key string, data []byte) (driver.Version, error) {
	return d.PutCRC32C(ctx, key, data, crcOf(data))
}

var _ driver.CRCPutter = (*Driver)(nil)

// PutCRC32C is Put with the data's CRC-32C already known: it goes into the
// header as it is, and Get checks it as it checks any (see
// driver.CRCPutter).
func (d *Driver) PutCRC32C(ctx context.Context, key string, data []byte, crc uint32) (driver.Version, error) {
	return d.replace(ctx, key, data, crc, func(driver.Version, error) error { return nil })
}

// PutIfVersion replaces only if the current version is v; an absent key is
// ErrPrecondition too (see driver.Driver).
func (d *Driver) PutIfVersion(ctx context.Context, key string, data []byte, v driver.Version) (driver.Version, error) {
	return d.replace(ctx, key, data, crcOf(data), func(cur driver.Version, err error) error {
		if errors.Is(err, driver.ErrNotFound) || err == nil && cur != v {
			return driver.ErrPrecondition
		}
		return err
	})
}

// replace writes and flushes a temp file outside the lock (the slow part),
// then under the lock checks the current version with cond and renames.
func (d *Driver) replace(ctx context.Context, key string, data []byte, crc uint32, cond func(driver.Version, error) error) (driver.Version, error) {
	if err := d.check(ctx); err != nil {
		return "", err
	}
	loc := locate(key)
	// Fail fast, before paying for a flush, when the condition already
	// fails. Sound without the lock because versions never recur: once the
	// key shows another version (or none), the wanted one cannot come back.
	if err := cond(d.versionNow(loc)); errors.Is(err, driver.ErrPrecondition) {
		return "", err
	}
	tmp, version, err := d.writeTemp(key, data, crc)
	if err != nil {
		return "", err
	}
	defer func() { _ = os.Remove(tmp) }() // fails harmlessly once renamed
	node, err := d.insertAt(ctx, loc, key, true, true, func(node string) error {
		if err := cond(d.currentVersion(node + loc.name())); err != nil {
			return err
		}
		return os.Rename(tmp, d.path(node+loc.name()))
	})
	if err != nil {
		if node != "" {
			d.prune(node) // a refused write leaves no directory it made
		}
		return "", err
	}
	return versionOf(version), d.syncPlaced(loc, node)
}

// versionNow reads the key's version without a lock.
func (d *Driver) versionNow(loc location) (driver.Version, error) {
	var v driver.Version
	_, err := d.lookup(loc, func(rel string) error {
		var err error
		v, err = d.currentVersion(rel)
		if errors.Is(err, driver.ErrNotFound) {
			return fs.ErrNotExist
		}
		return err
	})
	if errors.Is(err, fs.ErrNotExist) {
		return "", driver.ErrNotFound
	}
	return v, err
}

// Delete removes the key under its lock; ErrNotFound if absent.
func (d *Driver) Delete(ctx context.Context, key string) error {
	return d.remove(ctx, key, func(_ driver.Version, err error) error { return err })
}

// DeleteIfVersion removes the key under its lock if its version is v.
func (d *Driver) DeleteIfVersion(ctx context.Context, key string, v driver.Version) error {
	return d.remove(ctx, key, func(cur driver.Version, err error) error {
		if err == nil && cur != v {
			return driver.ErrPrecondition
		}
		return err
	})
}

// remove unlinks the key's file under the locks, then removes the
// directories the removal left empty, and an old-layout lock file of the
// key: a deleted object leaves nothing behind.
func (d *Driver) remove(ctx context.Context, key string, cond func(driver.Version, error) error) error {
	if err := d.check(ctx); err != nil {
		return err
	}
	loc := locate(key)
	node, err := d.insertAt(ctx, loc, key, false, true, func(node string) error {
		if err := cond(d.currentVersion(node + loc.name())); err != nil {
			return err
		}
		return os.Remove(d.path(node + loc.name()))
	})
	if errors.Is(err, fs.ErrNotExist) {
		return driver.ErrNotFound
	}
	if err != nil {
		return err
	}
	_ = os.Remove(d.path(loc.legacyLock()))
	if err := d.syncDir(node); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	d.prune(node)
	return nil
}

// currentVersion reads only the header's version: under the lock, this is
// the version the caller's condition is checked against.
func (d *Driver) currentVersion(rel string) (driver.Version, error) {
	f, err := os.Open(d.path(rel))
	if errors.Is(err, fs.ErrNotExist) {
		return "", driver.ErrNotFound
	}
	if err != nil {
		return "", err
	}
	defer func() { _ = f.Close() }()
	var b [4 + versionLen]byte
	if _, err := f.ReadAt(b[:], 0); err != nil || string(b[:4]) != magic {
		return "", fmt.Errorf("%w: unreadable header in %s", driver.ErrCorrupt, f.Name())
	}
	return versionOf(b[4:]), nil
}

func versionOf(raw []byte) driver.Version {
	return driver.Version(hex.EncodeToString(raw))
}

// SignedURL is unsupported: the local host serves files itself.
func (d *Driver) SignedURL(context.Context, string, string, time.Duration) (string, error) {
	return "", driver.ErrUnsupported
}

// Close marks the driver closed; the folder and its data stay.
func (d *Driver) Close() error {
	d.closed.Store(true)
	d.syncs.closeIdle()
	return nil
}

// EntriesRead counts the directory entries this driver's listings (and
// split checks) have read: a test's measure of what a list page costs.
func (d *Driver) EntriesRead() int64 { return d.entriesRead.Load() }

// SetSplitSize makes d split folders past entries entries instead of 1000,
// checking on every insertion when entries is smaller than that: tests use
// it to see split folders with few keys. Call it before use.
func (d *Driver) SetSplitSize(entries int) {
	d.splitEntries = max(entries, 1)
	if entries < splitEntries {
		d.splitOdds = 1
	}
}

// UnsafeSkipFlush makes d skip every fsync. Only for building large test
// and benchmark data sets that measure something other than durability: a
// crash would lose acknowledged writes. Call it before use.
func (d *Driver) UnsafeSkipFlush() { d.noFlush = true }
