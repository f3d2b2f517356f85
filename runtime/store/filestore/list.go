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
)

// entry is one directory entry that stands for keys. Its sort key is the
// full key for a file and the key prefix "…/seg/" for a directory: sorting
// by these and expanding directories in place yields byte-wise key order,
// because a directory's keys are exactly those starting with its sort key
// and no other entry's key does (see locate).
type entry struct {
	kind entryKind
	key  string
	name string             // file or directory name
	info *driver.ObjectInfo // pre-read for flattened files
}

// lister walks directories in key order, collecting up to limit objects
// with prefix that come strictly after the key after.
type lister struct {
	d      *Driver
	prefix string
	after  string
	limit  int
	out    []driver.ObjectInfo
}

// List walks only the directories that can hold matching keys, in key order.
// Each page re-reads the directories on its path, so it costs O(entries in
// those directories); the page token is the last key returned, base64url.
func (d *Driver) List(ctx context.Context, prefix, pageToken string, pageSize int) (driver.Page, error) {
	if err := d.check(ctx); err != nil {
		return driver.Page{}, err
	}
	after, err := base64.RawURLEncoding.DecodeString(pageToken)
	if err != nil {
		return driver.Page{}, fmt.Errorf("%w: page token", driver.ErrInvalidArgument)
	}
	l := &lister{d: d, prefix: prefix, after: string(after), limit: pageSize + 1}
	dir, base := startDir(prefix)
	if err := l.walk(ctx, dir, base); err != nil {
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

// startDir descends through the prefix's complete segments that locate
// would have made directories, so a List under "ledger/acct/" reads only
// that directory, not the whole tree.
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

func (l *lister) walk(ctx context.Context, dir, base string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	entries, err := l.d.readEntries(dir, base)
	if errors.Is(err, fs.ErrNotExist) {
		return nil // never written, or nothing under this prefix
	}
	if err != nil {
		return err
	}
	for _, e := range entries {
		if len(l.out) >= l.limit {
			return nil
		}
		if e.kind == kindDir {
			if l.wantDir(e.key) {
				if err := l.walk(ctx, dir+e.name+"/", e.key); err != nil {
					return err
				}
			}
			continue
		}
		if err := l.addFile(dir, e); err != nil {
			return err
		}
	}
	return nil
}

// wantDir reports whether keys under sub (ending in '/') may match the prefix
// and come after l.after. If after > sub without starting with it, every key
// under sub sorts before after.
func (l *lister) wantDir(sub string) bool {
	if !strings.HasPrefix(sub, l.prefix) && !strings.HasPrefix(l.prefix, sub) {
		return false
	}
	return l.after < sub || strings.HasPrefix(l.after, sub)
}

func (l *lister) addFile(dir string, e entry) error {
	if !strings.HasPrefix(e.key, l.prefix) || e.key <= l.after {
		return nil
	}
	info := e.info
	if info == nil {
		got, err := l.d.readInfo(dir + e.name)
		if errors.Is(err, fs.ErrNotExist) {
			return nil // deleted since the directory was read
		}
		if err != nil {
			return err
		}
		if got.Key != e.key {
			return fmt.Errorf("%w: %s holds key %q", driver.ErrCorrupt, dir+e.name, got.Key)
		}
		info = &got
	}
	l.out = append(l.out, *info)
	return nil
}

// readEntries returns the key-bearing entries of dir sorted by key. Temp
// files are skipped (and removed when stale), lock files and foreign names
// ignored.
func (d *Driver) readEntries(dir, base string) ([]entry, error) {
	f, err := os.Open(d.path(dir))
	if err != nil {
		return nil, err
	}
	names, err := f.Readdirnames(-1)
	_ = f.Close()
	if err != nil {
		return nil, err
	}
	entries := make([]entry, 0, len(names))
	for _, name := range names {
		e, ok, err := d.parseEntry(dir, base, name)
		if err != nil {
			return nil, err
		}
		if ok {
			entries = append(entries, e)
		}
	}
	slices.SortFunc(entries, func(a, b entry) int { return strings.Compare(a.key, b.key) })
	return entries, nil
}

func (d *Driver) parseEntry(dir, base, name string) (entry, bool, error) {
	switch {
	case strings.HasPrefix(name, tempPrefix):
		d.removeIfStale(dir + name)
	case strings.HasPrefix(name, hashedPrefix) && strings.HasSuffix(name, dataSuffix):
		return d.parseHashed(dir, base, name)
	case strings.HasSuffix(name, dataSuffix):
		seg, ok := decodeSegment(strings.TrimSuffix(name, dataSuffix))
		return entry{kind: kindFile, key: base + seg, name: name}, ok, nil
	case strings.HasSuffix(name, dirSuffix):
		seg, ok := decodeSegment(strings.TrimSuffix(name, dirSuffix))
		return entry{kind: kindDir, key: base + seg + "/", name: name}, ok, nil
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
	if !strings.HasPrefix(info.Key, base) || locate(info.Key).data() != dir+name {
		return entry{}, false, fmt.Errorf("%w: %s holds key %q", driver.ErrCorrupt, dir+name, info.Key)
	}
	return entry{kind: kindFile, key: info.Key, name: name, info: &info}, true, nil
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
