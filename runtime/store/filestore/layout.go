package filestore

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// On-disk names. A key's segments become nested directories named
// "<segment>.dir"; the last segment becomes a data file "<segment>.obj".
// The suffixes let a key "a" and a key "a/b" coexist (a.obj and
// a.dir/b.obj). A big directory is split into bucket directories
// "<byte>.pfx" (tree.go), so the logical paths here are where a key lives
// only until its directory splits. Names the driver keeps for itself start
// with '.', which no encoded segment does, so they can never shadow a key:
// the root's .tmp (temp files) and .locks (lock stripes), and in older
// stores ".tmp-" temp files beside the data.
//
// Layout history: stores written before buckets and lock stripes kept a
// "<segment>.lock" beside every data file, never removed. They are read as
// they are (an unsplit directory is the same layout); a delete removes its
// key's old lock file, so they go away with their objects.
const (
	dataSuffix   = ".obj"
	dirSuffix    = ".dir"
	lockSuffix   = ".lock"
	tempPrefix   = ".tmp-"
	hashedPrefix = "#"
)

// Path limits. A segment whose encoding exceeds maxSegmentName bytes, or
// one that would push the directory path past maxDirPath bytes, is not made
// a directory: the rest of the key from there is stored flat as one file
// named "#<sha256 of key>.obj" whose header holds the key. That keeps every
// name under NAME_MAX (255) and every path under PATH_MAX (4096, with a root
// of at most maxRootBytes and at most 800 bytes of buckets, see tree.go)
// for any valid key of up to 1024 bytes.
const (
	maxSegmentName = 200
	maxDirPath     = 2048
	maxRootBytes   = 1024
)

// location is where one key lives, relative to the root.
type location struct {
	dir  string // "" or "x.dir/y.dir/" (always with a trailing '/')
	stem string // encoded last segment, or "#<hash>" for flattened keys
	seg  string // decoded last segment; "" for flattened keys (never bucketed)
}

func (l location) name() string { return l.stem + dataSuffix }
func (l location) data() string { return l.dir + l.name() }

// legacyLock is where stores of the old layout kept the key's lock file.
func (l location) legacyLock() string { return l.dir + l.stem + lockSuffix }

// locate maps a (validated) key to its location. The choice to descend into
// a segment's directory depends only on the directory so far and that
// segment, so all keys sharing a directory make the same choice; List's
// ordering relies on that.
func locate(key string) location {
	dir, rest := "", key
	for {
		seg, tail, more := strings.Cut(rest, "/")
		if !more {
			if e := encodeSegment(seg); len(e) <= maxSegmentName {
				return location{dir: dir, stem: e, seg: seg}
			}
			return location{dir: dir, stem: hashedStem(key)}
		}
		child, ok := childDir(dir, seg)
		if !ok {
			return location{dir: dir, stem: hashedStem(key)}
		}
		dir, rest = child, tail
	}
}

// childDir returns the directory of segment seg inside dir, or false when
// seg must be flattened instead (see the path limits).
func childDir(dir, seg string) (string, bool) {
	e := encodeSegment(seg)
	child := dir + e + dirSuffix + "/"
	if len(e) > maxSegmentName || len(child) > maxDirPath {
		return "", false
	}
	return child, true
}

func hashedStem(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hashedPrefix + hex.EncodeToString(sum[:])
}

// encodeSegment makes a file name of a key segment: bytes in [a-z0-9_-]
// stay, every other byte (upper case included) becomes %xx in lower-case
// hex. Names are thus all lower case, so distinct keys stay distinct on
// case-insensitive file systems (macOS), and every non-ASCII byte is escaped,
// so Unicode normalisation by the file system cannot merge keys either.
func encodeSegment(seg string) string {
	const hexDigits = "0123456789abcdef"
	var b strings.Builder
	b.Grow(len(seg))
	for i := 0; i < len(seg); i++ {
		c := seg[i]
		if isLiteral(c) {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexDigits[c>>4])
		b.WriteByte(hexDigits[c&15])
	}
	return b.String()
}

// decodeSegment reverses encodeSegment, accepting only its canonical output,
// so a stray file with another spelling is ignored rather than aliased.
func decodeSegment(name string) (string, bool) {
	if name == "" {
		return "", false
	}
	out := make([]byte, 0, len(name))
	for i := 0; i < len(name); i++ {
		c := name[i]
		if isLiteral(c) {
			out = append(out, c)
			continue
		}
		if c != '%' || i+2 >= len(name) {
			return "", false
		}
		v, err := hex.DecodeString(name[i+1 : i+3])
		if err != nil || isLiteral(v[0]) || name[i+1:i+3] != hex.EncodeToString(v) {
			return "", false
		}
		out = append(out, v[0])
		i += 2
	}
	return string(out), true
}

func isLiteral(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-'
}
