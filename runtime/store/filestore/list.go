package filestore

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/openacquire/acquire/runtime/store/driver"
)

// tempMaxAge: List deletes temp files older than this. A live writer holds
// its temp file for milliseconds, so an hour-old one is a crash's leftover.
const tempMaxAge = time.Hour

type entryKind int

const (
	kindFile entryKind = iota
	kindDir
	kindBucket
)

// entry is one directory entry that stands for keys. Its sort key is the
// full key for a file, the key prefix "…/seg/" for a directory and the key
// prefix "…/<bucket prefix>" for a bucket: sorting by these and expanding
// directories and buckets in place yields byte-wise key order, because a
// directory's (or bucket's) keys are exactly those starting with its sort
// key and no other entry's key does (see locate and tree.go).
type entry struct {
	kind entryKind
	key  string
	dir  string             // the directory holding it
	name string             // file or directory name
	seg  string             // decoded name; "" for a flattened file (never bucketed)
	info *driver.ObjectInfo // pre-read for flattened files
}

// lister walks directories in key order, collecting up to limit objects
// with prefix that come strictly after the key after.
type lister struct {
	ctx    context.Context
	d      *Driver
	prefix string
	after  string
	limit  int
	out    []driver.ObjectInfo
}

// List walks only the directories that can hold matching keys, in key
// order, skipping whole directories and buckets that sort before the page
// token. Since no directory holds much more than splitEntries entries
// (tree.go), a page costs O(page + depth) directory entries read, whatever
// the folder's size; the page token is the last key returned, base64url.
// The folders walked are locked shared, so none is split under the walk.
func (d *Driver) List(ctx context.Context, prefix, pageToken string, pageSize int) (driver.Page, error) {
	if err := d.check(ctx); err != nil {
		return driver.Page{}, err
	}
	after, err := base64.RawURLEncoding.DecodeString(pageToken)
	if err != nil {
		return driver.Page{}, fmt.Errorf("%w: page token", driver.ErrInvalidArgument)
	}
	l := &lister{ctx: ctx, d: d, prefix: prefix, after: string(after), limit: pageSize + 1}
	level, base := startDir(prefix)
	// A split of any folder above the start would move it mid-walk.
	for _, lv := range ancestors(level) {
		unlock, err := d.lockLevel(ctx, lv, false)
		if err != nil {
			return driver.Page{}, err
		}
		defer unlock()
	}
	phys, err := d.physDir(level)
	if err == nil {
		err = l.walk(level, phys, base, "", nil)
	}
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return driver.Page{}, err
	}
	var page driver.Page
	if len(l.out) > pageSize {
		l.out = l.out[:pageSize]
		page.Next = base64.RawURLEncoding.EncodeToString([]byte(l.out[pageSize-1].Key))
	}
	page.Items = l.out
	return page, nil
}

// ancestors returns the levels from the root down to level, inclusive.
func ancestors(level string) []string {
	out := []string{""}
	for i := 0; i < len(level); i++ {
		if level[i] == '/' {
			out = append(out, level[:i+1])
		}
	}
	return out
}

// startDir descends through the prefix's complete segments that locate
// would have made directories, so a List under "ledger/acct/" reads only
// that directory, not the whole tree. It returns the logical directory.
func startDir(prefix string) (dir, base string) {
	rest := prefix
	for {
		seg, tail, more := strings.Cut(rest, "/")
		if !more {
			return dir, base
		}
		child, ok := childDir(dir, seg)
		if !ok {
			return dir, base
		}
		dir, base, rest = child, base+seg+"/", tail
	}
}

// walk lists the directory node of level (the level itself or one of its
// buckets, whose names start with pfx after base), in key order, together
// with strays: entries found above node that belong in it (see adopt).
func (l *lister) walk(level, node, base, pfx string, strays []entry) error {
	if err := l.ctx.Err(); err != nil {
		return err
	}
	entries, k, err := l.d.readEntries(node, base, pfx)
	if err != nil && !errors.Is(err, fs.ErrNotExist) { // not existing: never written, or emptied and removed meanwhile
		return err
	}
	entries, below := adopt(append(entries, strays...), k)
	for _, e := range entries {
		if len(l.out) >= l.limit {
			return nil
		}
		switch e.kind {
		case kindBucket:
			if l.wantDir(e.key) {
				if err := l.walk(level, e.dir+e.name+"/", base, strings.TrimPrefix(e.key, base), below[e.name]); err != nil {
					return err
				}
			}
		case kindDir:
			if l.wantDir(e.key) {
				if err := l.walkLevel(level+e.name+"/", e.dir+e.name+"/", e.key); err != nil {
					return err
				}
			}
		default:
			if err := l.addFile(e); err != nil {
				return err
			}
		}
	}
	return nil
}

// adopt sorts a directory's entries by key, setting aside the strays: names
// that belong in one of its buckets (tree.go) but are still here because a
// split stopped part way (a crash, or a move that kept failing). A bucket's
// sort key is only its prefix, so a stray listed in place would come after
// the bucket's bigger keys; set aside, it is listed inside its bucket, in
// order. keyedBy is what the directory's buckets are keyed by.
func adopt(entries []entry, keyedBy string) (kept []entry, strays map[string][]entry) {
	buckets := map[string]bool{}
	for _, e := range entries {
		if e.kind == kindBucket {
			buckets[e.name] = true
		}
	}
	kept = entries[:0]
	for _, e := range entries {
		if e.kind != kindBucket && e.seg != "" && len(buckets) > 0 {
			if b, _ := bucketFor(keyedBy, e.seg); buckets[b] {
				if strays == nil {
					strays = map[string][]entry{}
				}
				strays[b] = append(strays[b], e)
				continue
			}
		}
		kept = append(kept, e)
	}
	slices.SortFunc(kept, func(a, b entry) int { return strings.Compare(a.key, b.key) })
	return kept, strays
}

// walkLevel walks a sub-folder with its lock held shared.
func (l *lister) walkLevel(level, node, base string) error {
	unlock, err := l.d.lockLevel(l.ctx, level, false)
	if err != nil {
		return err
	}
	defer unlock()
	return l.walk(level, node, base, "", nil)
}

// wantDir reports whether keys under sub (a directory's or a bucket's key
// prefix) may match the prefix and come after l.after. If after > sub
// without starting with it, every key under sub sorts before after.
func (l *lister) wantDir(sub string) bool {
	if !strings.HasPrefix(sub, l.prefix) && !strings.HasPrefix(l.prefix, sub) {
		return false
	}
	return l.after < sub || strings.HasPrefix(l.after, sub)
}

func (l *lister) addFile(e entry) error {
	if !strings.HasPrefix(e.key, l.prefix) || e.key <= l.after {
		return nil
	}
	info := e.info
	if info == nil {
		got, err := l.d.readInfo(e.dir + e.name)
		if errors.Is(err, fs.ErrNotExist) {
			return nil // deleted since the directory was read
		}
		if err != nil {
			return err
		}
		if got.Key != e.key {
			return fmt.Errorf("%w: %s holds key %q", driver.ErrCorrupt, e.dir+e.name, got.Key)
		}
		info = &got
	}
	l.out = append(l.out, *info)
	return nil
}

// readEntries returns the key-bearing entries of dir, unsorted, and the
// prefix its buckets are keyed by (tree.go). Temp files are skipped (and
// removed when stale), lock files, markers and foreign names ignored. pfx
// is the decoded name prefix that dir's bucket stands for.
func (d *Driver) readEntries(dir, base, pfx string) ([]entry, string, error) {
	names, err := d.readNames(dir)
	if err != nil {
		return nil, pfx, err
	}
	k := pfx
	if slices.Contains(names, markerName) {
		if k, err = d.nodeKey(dir, pfx); err != nil {
			return nil, pfx, err
		}
	}
	entries := make([]entry, 0, len(names))
	for _, name := range names {
		e, ok, err := d.parseEntry(dir, base, k, name)
		if err != nil {
			return nil, k, err
		}
		if ok {
			entries = append(entries, e)
		}
	}
	return entries, k, nil
}

// parseEntry reads one name of directory dir, whose buckets are keyed by
// the decoded prefix k.
func (d *Driver) parseEntry(dir, base, k, name string) (entry, bool, error) {
	switch {
	case strings.HasSuffix(name, bucketSuffix):
		sub, ok := parseBucket(k, name)
		return entry{kind: kindBucket, key: base + sub, dir: dir, name: name}, ok, nil
	case strings.HasPrefix(name, tempPrefix):
		d.removeIfStale(dir + name)
	case strings.HasPrefix(name, hashedPrefix) && strings.HasSuffix(name, dataSuffix):
		return d.parseHashed(dir, base, name)
	case strings.HasSuffix(name, dataSuffix):
		seg, ok := decodeSegment(strings.TrimSuffix(name, dataSuffix))
		return entry{kind: kindFile, key: base + seg, dir: dir, name: name, seg: seg}, ok, nil
	case strings.HasSuffix(name, dirSuffix):
		seg, ok := decodeSegment(strings.TrimSuffix(name, dirSuffix))
		return entry{kind: kindDir, key: base + seg + "/", dir: dir, name: name, seg: seg}, ok, nil
	}
	return entry{}, false, nil
}

// parseHashed reads a flattened file's header now: its key is needed to
// sort it among its neighbours.
func (d *Driver) parseHashed(dir, base, name string) (entry, bool, error) {
	info, err := d.readInfo(dir + name)
	if errors.Is(err, fs.ErrNotExist) {
		return entry{}, false, nil
	}
	if err != nil {
		return entry{}, false, err
	}
	if !strings.HasPrefix(info.Key, base) || locate(info.Key).name() != name {
		return entry{}, false, fmt.Errorf("%w: %s holds key %q", driver.ErrCorrupt, dir+name, info.Key)
	}
	return entry{kind: kindFile, key: info.Key, dir: dir, name: name, info: &info}, true, nil
}

// readInfo reads one file's header: enough for size, version and time.
func (d *Driver) readInfo(rel string) (driver.ObjectInfo, error) {
	f, err := os.Open(d.path(rel))
	if err != nil {
		return driver.ObjectInfo{}, err
	}
	defer func() { _ = f.Close() }()
	h, err := readHeader(f)
	if err != nil {
		return driver.ObjectInfo{}, fmt.Errorf("%s: %w", rel, err)
	}
	return driver.ObjectInfo{Key: h.key, Size: h.dataLen, Version: h.version, Modified: h.modified}, nil
}

// readHeader reads and decodes the header at the start of f.
func readHeader(f *os.File) (header, error) {
	buf := make([]byte, headerFixed+driver.MaxKeyBytes)
	n, err := f.ReadAt(buf, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return header{}, err
	}
	return decodeHeader(buf[:n])
}

// removeIfStale deletes a crash's leftover temp file, lazily, on the way
// past. Errors are ignored: another lister may have removed it first.
func (d *Driver) removeIfStale(rel string) {
	st, err := os.Lstat(d.path(rel))
	if err == nil && time.Since(st.ModTime()) > tempMaxAge {
		_ = os.Remove(d.path(rel))
	}
}
