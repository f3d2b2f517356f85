package filestore

import "slices"

// Test hooks for the external test package (which imports store, and so
// cannot be this package).

// UseTempNames makes d write new objects under temp names, as it does
// where unnamed files (O_TMPFILE) are missing.
func UseTempNames(d *Driver) { d.noAnonymous.Store(true) }

// LinkThroughProc makes d name unnamed files through /proc/self/fd, as it
// does in a process without CAP_DAC_READ_SEARCH.
func LinkThroughProc(d *Driver) { d.noEmptyPath.Store(true) }

// LinksThroughProc reports whether d names unnamed files through /proc.
func LinksThroughProc(d *Driver) bool { return d.noEmptyPath.Load() }

// UsesUnnamedFiles reports whether d still writes new objects as unnamed
// files.
func UsesUnnamedFiles(d *Driver) bool { return !d.noAnonymous.Load() }

// TempPrefix is how temp file names start.
const TempPrefix = tempPrefix

// SplitSmall makes d split folders past entries entries, checked on every
// insertion, so tests see buckets with few keys.
func SplitSmall(d *Driver, entries int) { d.SetSplitSize(entries) }

// NoFlush makes d skip fsyncs, for tests that build large data sets and
// measure something other than durability.
func NoFlush(d *Driver) { d.UnsafeSkipFlush() }

// BeforeSplitMove makes d call f before each name a split moves.
func BeforeSplitMove(d *Driver, f func()) { d.beforeMove = f }

// Strays counts the names under the folder of prefix (a key prefix ending
// in '/') that sit beside the bucket they belong in: left by a split that
// stopped part way.
func Strays(d *Driver, prefix string) (int, error) {
	top, err := d.physDir(locate(prefix + "x").dir)
	if err != nil {
		return 0, err
	}
	return d.countStrays(top, "")
}

func (d *Driver) countStrays(node, pfx string) (int, error) {
	names, err := d.readNames(node)
	if err != nil {
		return 0, err
	}
	k, err := d.nodeKey(node, pfx)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, name := range names {
		if seg, ok := movable(name); ok {
			if b, _ := bucketFor(k, seg); b != "" && slices.Contains(names, b) {
				n++
			}
		}
		if sub, ok := parseBucket(k, name); ok {
			m, err := d.countStrays(node+name+"/", sub)
			if err != nil {
				return 0, err
			}
			n += m
		}
	}
	return n, nil
}
