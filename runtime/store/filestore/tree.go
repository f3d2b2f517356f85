package filestore

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"github.com/openacquire/acquire/runtime/store/driver"
)

// Big folders. A folder (a key prefix ending in '/') is one directory, a
// "level". A directory read costs in proportion to its entries, so a level
// that grows past splitEntries is split into bucket directories, and
// buckets split the same way in turn: a radix tree over the decoded names
// of the level's entries (files and segment directories), path-compressed
// so that names sharing a long prefix do not make a chain of one-byte
// buckets.
//
// Every node (the level's directory or a bucket) stands for a prefix, its
// "pfx": "" for the level, and for a bucket the prefix its name gives. A
// node may hold a marker, a symlink named ".prefix" whose target is a
// longer prefix K (encoded like a segment); without one, K is pfx. K is
// what the node's buckets are keyed by: a name whose decoded segment
// agrees with K on its first p bytes and has byte c at p (p < len(K), c !=
// K[p]) belongs to the bucket "<c>.<p>.pfx", and a name that extends K
// (p = len(K)) to the bucket "<c>.pfx" (the layout before markers, where K
// was always pfx, is thus read as it is). Either bucket's pfx is K[:p]+c.
// A name that K extends (or equals) stays in the node. When a node first
// splits, K is the longest prefix its names share, so a thousand names
// "docs/2026/report-0…" make one bucket level keyed by the next byte, not
// a chain of twenty one-byte buckets; names that arrive later and part
// from K earlier get buckets of their own at the next split.
//
// A directory thus holds at most about splitEntries names plus its
// buckets, and a list page reads the directories along one path plus the
// few holding the page: O(page + depth), where depth grows with the
// logarithm of the folder's size, whatever prefixes its names share. The
// buckets of one level add at most levelBucketBytes to a path (see the
// path limits in layout.go).
//
// Invariant: an entry lives in the deepest existing bucket along its name
// (place), and a node's marker never changes while the node has buckets:
// it is written (and flushed) before its first bucket is made, and removed
// only from a node that holds nothing else (prune). Buckets are made only
// by split, which holds the level's lock exclusively and moves every
// matching entry in; every writer that adds or removes a name holds the
// level's lock shared and places the name under it. Buckets and segment
// directories are removed when empty (prune), by rmdir, which fails on
// anything not empty, so it needs no lock: whoever loses a directory to it
// (ENOENT) starts over.
//
// Readers take no lock: they look for a name from the top of its level
// down (probe), and a split moves names only downwards, into buckets made
// (under a marker written) before the move, so a name being moved is
// found above or below.
//
// A split that stops part way (its process killed, or a move that kept
// failing) breaks the first half of the invariant: it leaves "strays",
// names beside the bucket they belong in. Everything copes with them
// until the next split of that node moves them (maybeSplit splits a node
// holding strays however few names it has): a reader's probe finds a stray
// on its way down, a writer first moves its own name's stray down to where
// it writes (settle), so it never writes a second copy, and a listing
// lists each stray inside its bucket (adopt, in list.go), so the order
// holds.
const (
	bucketSuffix = ".pfx"
	// markerName is a node's marker: a symlink whose target is the
	// encoded prefix K its buckets are keyed by. It starts with '.', which
	// no encoded segment does, and has none of the entry suffixes, so a
	// listing ignores it.
	markerName = ".prefix"
	// splitEntries is the size past which a directory is split.
	splitEntries = 1000
	// splitOdds: one insertion in this many counts its directory's entries
	// to see whether it must split; the count costs a directory read, so
	// its cost per insertion is about splitEntries/splitOdds entries.
	splitOdds = 32
	// levelBucketBytes bounds the bytes the bucket names of one level add
	// to a path ("%xx.pfx/" is 8, "%xx.199.pfx/" 12), and maxBucketLevel
	// the deepest level (in key segments) that splits, so that the buckets
	// add at most (maxBucketLevel+1) * levelBucketBytes = 800 bytes to any
	// path (see the path limits). A bucket never moves once made, so the
	// check at its making holds for good.
	levelBucketBytes = 160
	maxBucketLevel   = 4
	// lockStripes is how many lock files each kind of lock is spread over.
	lockStripes = 1024
	// maxAttempts bounds how often an operation starts over after losing a
	// directory to a concurrent split or prune.
	maxAttempts = 32
	locksDir    = ".locks"
	tempDir     = ".tmp"
)

// bucketName is the directory name of the bucket, in a node keyed by k,
// for names that agree with k on p bytes and have c at p.
func bucketName(k string, p int, c byte) string {
	if p >= len(k) {
		return encodeSegment(string([]byte{c})) + bucketSuffix
	}
	return encodeSegment(string([]byte{c})) + "." + strconv.Itoa(p) + bucketSuffix
}

// bucketFor returns the bucket name a name with decoded segment seg takes
// in a node keyed by k, and the bucket's pfx; "" when seg stays in the node
// (k extends or equals it).
func bucketFor(k, seg string) (name, pfx string) {
	p := commonPrefix(k, seg)
	if p >= len(seg) {
		return "", ""
	}
	return bucketName(k, p, seg[p]), seg[:p+1]
}

// parseBucket reads a bucket's directory name in a node keyed by k,
// returning its pfx; false for a name bucketName would not make there.
func parseBucket(k, name string) (string, bool) {
	stem, ok := strings.CutSuffix(name, bucketSuffix)
	if !ok {
		return "", false
	}
	p := len(k)
	if i := strings.IndexByte(stem, '.'); i >= 0 {
		n, err := strconv.Atoi(stem[i+1:])
		if err != nil || n < 0 || n >= len(k) || stem[i+1:] != strconv.Itoa(n) {
			return "", false
		}
		p, stem = n, stem[:i]
	}
	c, ok := decodeSegment(stem)
	if !ok || len(c) != 1 || p < len(k) && c[0] == k[p] {
		return "", false
	}
	return k[:p] + c, true
}

func commonPrefix(a, b string) int {
	n := min(len(a), len(b))
	for i := range n {
		if a[i] != b[i] {
			return i
		}
	}
	return n
}

// nodeKey returns the prefix node (whose own prefix is pfx) keys its
// buckets by: its marker's, or pfx. A node that vanished reads as pfx (the
// caller's next step finds it gone).
func (d *Driver) nodeKey(node, pfx string) (string, error) {
	target, err := os.Readlink(d.path(node + markerName))
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
		return pfx, nil
	}
	if err != nil {
		return "", err
	}
	k, ok := decodeSegment(target)
	if !ok || len(k) <= len(pfx) || !strings.HasPrefix(k, pfx) {
		return "", fmt.Errorf("%w: %s holds marker %q under prefix %q", driver.ErrCorrupt, node, target, pfx)
	}
	return k, nil
}

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
// node's marker and the bucket below it are read: a split writes the
// marker, makes the bucket, then moves the name into it.
func (d *Driver) probe(top, seg, name string, try func(rel string) error) (string, error) {
	node, pfx := top, ""
	for {
		err := try(node + name)
		if !errors.Is(err, fs.ErrNotExist) {
			return node, err
		}
		if seg == "" {
			return "", fs.ErrNotExist
		}
		k, err := d.nodeKey(node, pfx)
		if err != nil {
			return "", err
		}
		b, sub := bucketFor(k, seg)
		if b == "" {
			return "", fs.ErrNotExist
		}
		if _, err := os.Lstat(d.path(node + b)); err != nil {
			return "", err
		}
		node, pfx = node+b+"/", sub
	}
}

// place returns the directory under top where a name with decoded segment
// seg belongs, the deepest existing bucket along it, and that bucket's
// pfx; above lists the nodes passed on the way down. Callers hold the
// level's lock (shared), so no bucket or marker appears meanwhile.
func (d *Driver) place(top, seg string) (node, pfx string, above []string, err error) {
	node = top
	for seg != "" {
		k, err := d.nodeKey(node, pfx)
		if err != nil {
			return "", "", nil, err
		}
		b, sub := bucketFor(k, seg)
		if b == "" {
			break
		}
		_, err = os.Lstat(d.path(node + b))
		if errors.Is(err, fs.ErrNotExist) {
			break
		}
		if err != nil {
			return "", "", nil, err
		}
		above = append(above, node)
		node, pfx = node+b+"/", sub
	}
	return node, pfx, above, nil
}

// settle moves a stray copy of the data file name, left in a node above
// its place by a split that stopped part way (a crash), down to node, so
// that the write about to act on node acts on the key's only name. It runs
// under the level's lock (shared), so no split moves names meanwhile; a
// concurrent writer of the same name may settle it too, and whichever
// links second finds the name taken and just drops the stray (both names
// are one file then, or node's is the newer write). The link is flushed
// before the stray goes, so a crash leaves the name in one place or both.
func (d *Driver) settle(above []string, node, name string) error {
	for _, up := range above {
		st, err := os.Lstat(d.path(up + name))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return err
		}
		if !st.Mode().IsRegular() {
			continue // a segment directory: physDir finds it where it is
		}
		err = os.Link(d.path(up+name), d.path(node+name))
		if errors.Is(err, fs.ErrNotExist) {
			continue // settled meanwhile by another writer (or node vanished: fn will see)
		}
		if err != nil && !errors.Is(err, fs.ErrExist) {
			return err
		}
		if err := d.syncDir(node); err != nil {
			return err
		}
		if err := os.Remove(d.path(up + name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		if err := d.syncDir(up); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return nil
}

// spot is where a write placed its name: the directory, its pfx, and how
// many bytes of bucket names the level's path holds down to it.
type spot struct {
	node, pfx string
	used      int
}

// insertAt runs fn, which adds or replaces the name loc in its level, with
// the level locked shared (and the key locked too when keyLock): fn gets
// the directory where the name belongs. It creates the level's directories
// first when create, and starts over when a directory it was given vanished
// (split or pruned meanwhile). The directory returned is where fn acted.
func (d *Driver) insertAt(ctx context.Context, loc location, key string, create, keyLock bool, fn func(node string) error) (string, error) {
	for range maxAttempts {
		at, err := d.lockedPlace(ctx, loc, key, keyLock, fn)
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
			d.maybeSplit(ctx, loc.dir, at)
		}
		return at.node, err
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
		at, err := d.lockedPlace(ctx, sub, "", false, func(node string) error {
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
		d.maybeSplit(ctx, parent, at)
		parent = child
	}
	return nil
}

func (d *Driver) lockedPlace(ctx context.Context, loc location, key string, keyLock bool, fn func(node string) error) (spot, error) {
	unlock, err := d.lockLevel(ctx, loc.dir, false)
	if err != nil {
		return spot{}, err
	}
	defer unlock()
	top, err := d.physDir(loc.dir)
	if errors.Is(err, fs.ErrNotExist) {
		return spot{}, errNoDir
	}
	if err != nil {
		return spot{}, err
	}
	node, pfx, above, err := d.place(top, loc.seg)
	if err != nil {
		return spot{}, err
	}
	if keyLock {
		unlockKey, err := d.lockKey(ctx, key)
		if err != nil {
			return spot{}, err
		}
		defer unlockKey()
		// With the key locked nobody else writes it, so if node still
		// exists it is where the key lives (no bucket appears under a
		// shared level lock, and a non-empty directory is never pruned).
		if _, err := os.Lstat(d.path(node)); errors.Is(err, fs.ErrNotExist) {
			return spot{}, errGone
		}
	}
	if loc.seg != "" && len(above) > 0 {
		err = d.settle(above, node, loc.name())
	}
	if err == nil {
		err = fn(node)
	}
	// fn's own outcomes are typed (ErrNotFound, ErrPrecondition, EEXIST);
	// ENOENT from its (or settle's) link, rename, unlink or mkdir means a directory on
	// node's path vanished meanwhile (pruned, perhaps made again since, or
	// moved by a split above), so the caller starts over.
	if errors.Is(err, fs.ErrNotExist) {
		return spot{}, errGone
	}
	return spot{node: node, pfx: pfx, used: len(node) - len(top)}, err
}

// vanished reports whether directory rel no longer exists.
func (d *Driver) vanished(rel string) bool {
	_, err := os.Lstat(d.path(rel))
	return errors.Is(err, fs.ErrNotExist)
}

// maybeSplit splits the directory a write placed its name in, once in
// splitOdds calls, if it holds more than splitEntries entries. It is best
// effort: if the level stays busy past the lock's timeout it gives up, and
// a later insertion tries again.
func (d *Driver) maybeSplit(ctx context.Context, level string, at spot) {
	if levelDepth(level) > maxBucketLevel || at.used+len("%xx.pfx/") > levelBucketBytes {
		return
	}
	if d.splitOdds > 1 && rand.N(d.splitOdds) != 0 {
		return
	}
	names, err := d.readNames(at.node)
	if err != nil || len(names) <= d.splitEntries && !d.hasStrays(at, names) {
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
	_ = d.split(ctx, at)
}

// hasStrays reports whether a node's names include one that belongs in one
// of its buckets: left behind by a split that stopped part way. The next
// split moves it, however few names the node holds.
func (d *Driver) hasStrays(at spot, names []string) bool {
	buckets := map[string]bool{}
	for _, name := range names {
		if strings.HasSuffix(name, bucketSuffix) {
			buckets[name] = true
		}
	}
	if len(buckets) == 0 {
		return false
	}
	k, err := d.nodeKey(at.node, at.pfx)
	if err != nil {
		return false
	}
	for _, name := range names {
		if seg, ok := movable(name); ok {
			if b, _ := bucketFor(k, seg); buckets[b] {
				return true
			}
		}
	}
	return false
}

// split moves the node's entries into buckets (see the top of this file).
// A node without marker or buckets first gets a marker holding the longest
// prefix its names share, when that is longer than its own. The caller
// holds the level's lock exclusively.
func (d *Driver) split(ctx context.Context, at spot) error {
	names, err := d.readNames(at.node)
	if err != nil {
		return err
	}
	segs := map[string]string{}  // entry name -> decoded segment
	buckets := map[string]bool{} // the node's buckets
	k, lcp := at.pfx, ""
	for _, name := range names {
		if strings.HasSuffix(name, bucketSuffix) {
			buckets[name] = true
		}
		seg, ok := movable(name)
		if !ok || !strings.HasPrefix(seg, at.pfx) {
			continue
		}
		if len(segs) == 0 {
			lcp = seg
		}
		lcp = lcp[:commonPrefix(lcp, seg)]
		segs[name] = seg
	}
	fresh := len(buckets) == 0 && !slices.Contains(names, markerName)
	if fresh {
		if len(lcp) > len(k) {
			k = lcp
		}
	} else if k, err = d.nodeKey(at.node, at.pfx); err != nil {
		return err
	}
	moves := map[string][]string{} // bucket name -> entry names
	n, strays := 0, 0
	for name, seg := range segs {
		b, _ := bucketFor(k, seg)
		if b == "" || at.used+len(b)+1 > levelBucketBytes {
			continue
		}
		moves[b] = append(moves[b], name)
		n++
		if buckets[b] {
			strays++
		}
	}
	if n <= d.splitEntries {
		// Too few to split: only finish what a stopped split began.
		if strays == 0 {
			return nil
		}
		for b := range moves {
			if !buckets[b] {
				delete(moves, b)
			}
		}
	}
	if fresh && k != at.pfx {
		if err := d.writeMarker(at.node, k); err != nil {
			return err
		}
	}
	for b, entries := range moves {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := d.moveInto(at.node, at.node+b+"/", entries); err != nil {
			return err
		}
	}
	return d.syncDir(at.node)
}

// writeMarker gives node the marker k and flushes it before any bucket
// relies on it: after a crash, a bucket without its marker would be read as
// keyed by another prefix. A marker already there (a split that crashed
// before making buckets) is replaced: the node has no buckets yet.
func (d *Driver) writeMarker(node, k string) error {
	p := d.path(node + markerName)
	err := os.Symlink(encodeSegment(k), p)
	if errors.Is(err, fs.ErrExist) {
		if err = os.Remove(p); err == nil {
			err = os.Symlink(encodeSegment(k), p)
		}
	}
	if err != nil {
		return err
	}
	return d.syncDir(node)
}

// moveInto makes bucket and renames entries from node into it. An entry
// gone meanwhile (an empty directory pruned) is skipped; a bucket pruned
// meanwhile (it was empty) is made again.
func (d *Driver) moveInto(node, bucket string, entries []string) error {
	for _, name := range entries {
		if d.beforeMove != nil {
			d.beforeMove()
		}
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
// keeps it. A directory holding nothing but its marker has no buckets
// (markers are written before buckets and nothing makes a bucket in a
// directory without entries), so the marker goes and the directory too.
func (d *Driver) prune(rel string) {
	for rel != "" {
		dir := d.path(strings.TrimSuffix(rel, "/"))
		if err := syscall.Rmdir(dir); err != nil {
			if !d.onlyMarker(rel) || os.Remove(d.path(rel+markerName)) != nil || syscall.Rmdir(dir) != nil {
				return
			}
		}
		i := strings.LastIndexByte(strings.TrimSuffix(rel, "/"), '/')
		rel = rel[:i+1]
	}
}

// onlyMarker reports whether directory rel holds its marker and nothing
// else. The marker's absence (one readlink) answers most calls.
func (d *Driver) onlyMarker(rel string) bool {
	if _, err := os.Readlink(d.path(rel + markerName)); err != nil {
		return false
	}
	f, err := os.Open(d.path(rel))
	if err != nil {
		return false
	}
	defer func() { _ = f.Close() }()
	names, _ := f.Readdirnames(2)
	return len(names) == 1 && names[0] == markerName
}
