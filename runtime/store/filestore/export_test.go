package filestore

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
