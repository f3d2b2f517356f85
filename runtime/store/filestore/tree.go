package filestore

import (
	"context"
	"errors"
	"hash/fnv"
	"io/fs"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// Big folders. A folder (a key prefix ending in '/') is one directory, a
// "level". A directory read costs in proportion to its entries, so a level
// that grows past splitEntries is split into bucket directories named
// "<byte>.pfx": the bucket for byte c at depth k holds the entries (files
// and segment directories) whose decoded segment has c at position k, and
// buckets split the same way in turn. A directory thus never holds much more
// than splitEntries entries plus 256 buckets, and a list page reads the
// directories along one path plus the few holding the page: O(page + depth),
// where depth grows with the logarithm of the folder's size (or with a
// common prefix of its names, up to maxBucketDepth).
//
// Invariant: an entry lives in the deepest existing bucket along its name
// (place). Buckets are made only by split, which holds the level's lock
// exclusively and moves every matching entry in; every writer that adds or
// removes a name holds the level's lock shared and places the name under
// it. Buckets and segment directories are removed when empty (prune), by
// rmdir, which fails on anything not empty, so it needs no lock: whoever
// loses a directory to it (ENOENT) starts over.
//
// Readers take no lock: they look for a name from the top of its level
// down (probe), and a split moves names only downwards, into buckets made
// before the move, so a name being moved is found above or below.
const (
	bucketSuffix = ".pfx"
	// splitEntries is the size past which a directory is split.
	splitEntries = 1000
	// splitOdds: one insertion in this many counts its directory's entries
	// to see whether it must split; the count costs a directory read, so
	// its cost per insertion is about splitEntries/splitOdds entries.
	splitOdds = 32
	// maxBucketDepth bounds the buckets nested in one level, and
	// maxBucketLevel the deepest level (in key segments) that splits, so
	// that the buckets add at most (maxBucketLevel+1) * maxBucketDepth *
	// len("%xx.pfx/") = 800 bytes to any path (see the path limits).
	maxBucketDepth = 20
	maxBucketLevel = 4
	// lockStripes is how many lock files each kind of lock is spread over.
	lockStripes = 1024
	// maxAttempts bounds how often an operation starts over after losing a
	// directory to a concurrent split or prune.
	maxAttempts = 32
	locksDir    = ".locks"
	tempDir     = ".tmp"
)

// bucketName is the directory name of the bucket for byte c.
func bucketName(c byte) string { return encodeSegment(string([]byte{c})) + bucketSuffix }

// levelDepth is how many segments deep a logical directory is.
func levelDepth(level string) int { return strings.Count(level, "/") }

// lockLevel takes level's lock: shared by writers and listers, exclusive by
// split. Locks are striped over lockStripes files under .locks, which are
// never deleted (deleting a lock file another process is about to lock
// would let two holders in), so they do not grow with the keys.
func (d *Driver) lockLevel(ctx context.Context, level string, exclusive bool) (func(), error) {
	return lockFile(ctx, d.stripe("l", level), exclusive)
}

// lockKey takes key's exclusive lock (conditional writes and deletes).
func (d *Driver) lockKey(ctx context.Context, key string) (func(), error) {
	return lockFile(ctx, d.stripe("k", key), true)
}

func (d *Driver) stripe(kind, name string) string {
	h := fnv.New64a()
	_, _ = h.Write([]byte(name))
	return d.path(locksDir + "/" + kind + strconv.FormatUint(h.Sum64()%lockStripes, 10))
}

// physDir resolves a logical directory ("a.dir/b.dir/") to where it is now,
// probing each level's buckets; fs.ErrNotExist if it does not exist.
func (d *Driver) physDir(level string) (string, error) {
	phys := ""
	if level == "" {
		return "", nil
	}
	for comp := range strings.SplitSeq(strings.TrimSuffix(level, "/"), "/") {
		seg, _ := decodeSegment(strings.TrimSuffix(comp, dirSuffix))
		node, err := d.probe(phys, seg, comp, func(rel string) error {
			_, err := os.Lstat(d.path(rel))
			return err
		})
		if err != nil {
			return "", err
		}
		phys = node + comp + "/"
	}
	return phys, nil
}

// probe looks for name (whose decoded segment is seg; "" for a flattened
// name, which never moves) from top down through the buckets along seg,
// calling try on each candidate path until it does not fail with
// fs.ErrNotExist. It returns the directory where try succeeded, or
// fs.ErrNotExist once no deeper bucket exists. The name is tried before the
// bucket below it: a split makes the bucket, then moves the name into it.
func (d *Driver) probe(top, seg, name string, try func(rel string) error) (string, error) {
	node := top
	for k := 0; ; k++ {
		err := try(node + name)
		if !errors.Is(err, fs.ErrNotExist) {
			return node, err
		}
		if k >= len(seg) || k >= maxBucketDepth {
			return "", fs.ErrNotExist
		}
		b := node + bucketName(seg[k]) + "/"
		if _, err := os.Lstat(d.path(b)); err != nil {
			return "", err
		}
		node = b
	}
}

// place returns the directory under top where a name with decoded segment
// seg belongs: the deepest existing bucket along it. Callers hold the
// level's lock (shared), so no bucket appears meanwhile.
func (d *Driver) place(top, seg string) (node string, depth int, err error) {
	node = top
	for depth = 0; depth < len(seg) && depth < maxBucketDepth; depth++ {
		b := node + bucketName(seg[depth]) + "/"
		_, err := os.Lstat(d.path(b))
		if errors.Is(err, fs.ErrNotExist) {
			return node, depth, nil
		}
		if err != nil {
			return "", 0, err
		}
		node = b
	}
	return node, depth, nil
}

// insertAt runs fn, which adds or replaces the name loc in its level, with
// the level locked shared (and the key locked too when keyLock): fn gets
// the directory where the name belongs. It creates the level's directories
// first when create, and starts over when a directory it was given vanished
// (split or pruned meanwhile). The directory returned is where fn acted.
func (d *Driver) insertAt(ctx context.Context, loc location, key string, create, keyLock bool, fn func(node string) error) (string, error) {
	for range maxAttempts {
		node, depth, err := d.lockedPlace(ctx, loc, key, keyLock, fn)
		if errors.Is(err, errNoDir) && create {
			err = d.mkdirs(ctx, loc.dir)
			if err == nil || errors.Is(err, fs.ErrNotExist) {
				continue
			}
		}
		if errors.Is(err, errGone) {
			continue
		}
		if errors.Is(err, errNoDir) {
			return "", fs.ErrNotExist
		}
		if err == nil && create {
			d.maybeSplit(ctx, loc.dir, node, depth)
		}
		return node, err
	}
	return "", errors.New("filestore: directories kept vanishing under a write (too much concurrent splitting)")
}

// errGone: the directory an operation was working in vanished; errNoDir:
// the key's level does not exist.
var (
	errGone  = errors.New("directory vanished")
	errNoDir = errors.New("no such level")
)

// mkdirs creates the missing directories of level, top down, each under its
// parent level's lock (shared) in the place the parent's buckets give it,
// and flushes each new directory's parent so the entry survives a crash.
func (d *Driver) mkdirs(ctx context.Context, level string) error {
	parent := ""
	for comp := range strings.SplitSeq(strings.TrimSuffix(level, "/"), "/") {
		child := parent + comp + "/"
		if _, err := d.physDir(child); err == nil {
			parent = child
			continue
		}
		seg, _ := decodeSegment(strings.TrimSuffix(comp, dirSuffix))
		sub := location{dir: parent, stem: strings.TrimSuffix(comp, dirSuffix), seg: seg}
		node, depth, err := d.lockedPlace(ctx, sub, "", false, func(node string) error {
			err := os.Mkdir(d.path(node+comp), 0o700)
			if err == nil {
				return d.syncDir(node)
			}
			if errors.Is(err, fs.ErrExist) {
				return nil
			}
			return err
		})
		if err != nil {
			if errors.Is(err, errGone) || errors.Is(err, errNoDir) {
				return fs.ErrNotExist // the caller starts over
			}
			return err
		}
		d.maybeSplit(ctx, parent, node, depth)
		parent = child
	}
	return nil
}

func (d *Driver) lockedPlace(ctx context.Context, loc location, key string, keyLock bool, fn func(node string) error) (string, int, error) {
	unlock, err := d.lockLevel(ctx, loc.dir, false)
	if err != nil {
		return "", 0, err
	}
	defer unlock()
	top, err := d.physDir(loc.dir)
	if errors.Is(err, fs.ErrNotExist) {
		return "", 0, errNoDir
	}
	if err != nil {
		return "", 0, err
	}
	node, depth, err := d.place(top, loc.seg)
	if err != nil {
		return "", 0, err
	}
	if keyLock {
		unlockKey, err := d.lockKey(ctx, key)
		if err != nil {
			return "", 0, err
		}
		defer unlockKey()
		// With the key locked nobody else writes it, so if node still
		// exists it is where the key lives (no bucket appears under a
		// shared level lock, and a non-empty directory is never pruned).
		if _, err := os.Lstat(d.path(node)); errors.Is(err, fs.ErrNotExist) {
			return "", 0, errGone
		}
	}
	err = fn(node)
	// fn's own outcomes are typed (ErrNotFound, ErrPrecondition, EEXIST);
	// ENOENT from its link, rename, unlink or mkdir means a directory on
	// node's path vanished meanwhile (pruned, perhaps made again since, or
	// moved by a split above), so the caller starts over.
	if errors.Is(err, fs.ErrNotExist) {
		return "", 0, errGone
	}
	return node, depth, err
}

// vanished reports whether directory rel no longer exists.
func (d *Driver) vanished(rel string) bool {
	_, err := os.Lstat(d.path(rel))
	return errors.Is(err, fs.ErrNotExist)
}

// maybeSplit splits node (at bucket depth depth of level) once in splitOdds
// calls if it holds more than splitEntries entries. It is best effort: if
// the level stays busy past the lock's timeout it gives up, and a later
// insertion tries again.
func (d *Driver) maybeSplit(ctx context.Context, level, node string, depth int) {
	if levelDepth(level) > maxBucketLevel || depth >= maxBucketDepth {
		return
	}
	if d.splitOdds > 1 && rand.N(d.splitOdds) != 0 {
		return
	}
	if names, err := d.readNames(node); err != nil || len(names) <= d.splitEntries {
		return
	}
	// Wait for the level's writers to step out (each holds it for a link
	// or rename): a single try almost never wins against a steady stream
	// of writers, and the folder would grow unsplit under exactly the
	// load that needs the split. The wait is bounded by lockTimeout.
	unlock, err := lockFile(ctx, d.stripe("l", level), true)
	if err != nil {
		return
	}
	defer unlock()
	_ = d.split(ctx, node, depth)
}

// split moves node's entries into buckets by their byte at depth. The
// caller holds the level's lock exclusively.
func (d *Driver) split(ctx context.Context, node string, depth int) error {
	names, err := d.readNames(node)
	if err != nil {
		return err
	}
	moves := map[string][]string{} // bucket name -> entry names
	n := 0
	for _, name := range names {
		seg, ok := movable(name)
		if !ok || len(seg) <= depth {
			continue
		}
		b := bucketName(seg[depth])
		moves[b] = append(moves[b], name)
		n++
	}
	if n <= d.splitEntries {
		return nil
	}
	for b, entries := range moves {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := d.moveInto(node, node+b+"/", entries); err != nil {
			return err
		}
	}
	return d.syncDir(node)
}

// moveInto makes bucket and renames entries from node into it. An entry
// gone meanwhile (an empty directory pruned) is skipped; a bucket pruned
// meanwhile (it was empty) is made again.
func (d *Driver) moveInto(node, bucket string, entries []string) error {
	for _, name := range entries {
		for try := 0; ; try++ {
			err := os.Mkdir(d.path(bucket), 0o700)
			if err != nil && !errors.Is(err, fs.ErrExist) {
				return err
			}
			err = os.Rename(d.path(node+name), d.path(bucket+name))
			if err == nil || !errors.Is(err, fs.ErrNotExist) {
				if err != nil {
					return err
				}
				break
			}
			if d.vanished(node+name) || try >= 3 {
				break
			}
		}
	}
	return d.syncDir(bucket)
}

// movable reports whether a directory entry is a name a split moves (a
// data file or segment directory of a plain, not flattened, name) and its
// decoded segment.
func movable(name string) (string, bool) {
	if strings.HasPrefix(name, hashedPrefix) {
		return "", false
	}
	for _, suf := range []string{dataSuffix, dirSuffix} {
		if stem, ok := strings.CutSuffix(name, suf); ok {
			return decodeSegment(stem)
		}
	}
	return "", false
}

// readNames reads a directory's entry names, counting them.
func (d *Driver) readNames(rel string) ([]string, error) {
	f, err := os.Open(d.path(rel))
	if err != nil {
		return nil, err
	}
	names, err := f.Readdirnames(-1)
	_ = f.Close()
	d.entriesRead.Add(int64(len(names)))
	return names, err
}

// prune removes rel and then its parents while they are empty, up to (not
// including) the root. rmdir fails on a directory that is not empty, so a
// concurrent writer either finds its directory gone and starts over, or
// keeps it.
func (d *Driver) prune(rel string) {
	for rel != "" {
		if err := syscall.Rmdir(d.path(strings.TrimSuffix(rel, "/"))); err != nil {
			return
		}
		i := strings.LastIndexByte(strings.TrimSuffix(rel, "/"), '/')
		rel = rel[:i+1]
	}
}
