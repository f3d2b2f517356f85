package ledger

import (
	"bytes"
	"compress/gzip"
	"container/list"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/openacquire/acquire/runtime/store"
)

// Record compaction (DESIGN.md, "Compaction", "Records"): the record of a
// final transfer older than the retry horizon moves from its own object
// into a record run, a gzip'd sorted object of many records in one of
// recordBuckets buckets by the hash of the id, so that a transfer leaves
// no object of its own at steady state. A run is the record's authority
// from then on: every reader that finds no record object looks in the
// runs (Transfer, Complete, resolutions, the audit), and answers exactly
// as from the object, so a retry of any id at any time applies nothing
// twice.
const (
	// DefaultRetryHorizon is how old a final transfer's record must be
	// before it moves into a run (WithRetryHorizon): retries within it are
	// answered from the record object (one get), later ones from a run.
	// A call that records a transfer or a resolution must reach its
	// put-if-absent within a quarter of it (ErrTooSlow otherwise).
	DefaultRetryHorizon = 24 * time.Hour
	// RecordDeleteDelay is how long a run is stored before the objects of
	// its records are deleted, and twice... four times how often a process
	// re-lists the runs: any process that finds a record object absent
	// has a listing of the runs fresh enough to hold the run it moved to
	// (with clocks apart by up to RecordDeleteDelay/2).
	RecordDeleteDelay = time.Hour
	// runViewMaxAge is how old a process's listing of the runs may be.
	runViewMaxAge = RecordDeleteDelay / 4
	// recordBuckets is how many buckets the ids hash into.
	recordBuckets = 256
	// runsPerMerge: a bucket with this many runs of one level merges the
	// oldest of them into one run of the next level.
	runsPerMerge = 8
	// maxRunRecords bounds a run (merges that would exceed it are not
	// made): what one read of a run costs, and the audit's memory.
	maxRunRecords = 1 << 16
	// maxRunBytes bounds a run's stored and decompressed size.
	maxRunBytes = 64 << 20
	// maxRuns bounds how many runs (and filters) the listing holds.
	maxRuns = 1 << 16
	// maxFinalScan bounds how far past its bound the compactor looks for
	// a transfer's entry; a record whose entries lie further stays an
	// object.
	maxFinalScan = 4096
	// runCacheSize is how many decoded runs a process keeps.
	runCacheSize = 8
	// DefaultFilterMemory bounds the bytes of run filters a process keeps
	// (WithFilterMemory): 1.2 bytes per compacted transfer, so the
	// filters of about 2·10^8 transfers.
	DefaultFilterMemory = 256 << 20
	// filterOverhead is what a kept filter costs besides its bits.
	filterOverhead = 128
	// bloomBitsPerRecord and bloomHashes: about 1 % false positives.
	bloomBitsPerRecord = 10
	bloomHashes        = 7
	recordsPre         = prefix + "records/"
	filterSuffix       = ".filter"
)

// ErrTooSlow: a call took longer than a quarter of the retry horizon
// between reading whether its transfer (or resolution) exists and
// recording it, so it may no longer record it safely. Nothing was written;
// the caller retries.
var ErrTooSlow = errors.New("ledger: the call took too long to record safely; retry it")

// WithRetryHorizon sets how old a final transfer must be before record
// compaction moves its record into a run (default DefaultRetryHorizon).
func WithRetryHorizon(d time.Duration) Option {
	return func(l *Ledger) {
		if d > 0 {
			l.horizon = d
		}
	}
}

// WithFilterMemory bounds the bytes of run filters the process keeps
// (default DefaultFilterMemory): past it, the least recently used are
// dropped and read again when needed, one get each. A lookup of a new id
// reads the filters of its bucket's runs, so a bound below what the runs'
// filters take costs transfers gets.
func WithFilterMemory(limitBytes int64) Option {
	return func(l *Ledger) {
		if limitBytes > 0 {
			l.runs.filters.limit = limitBytes
		}
	}
}

// recordRun is a run object: records of one bucket sorted by id, each
// final (State, item indexes and, if provisional, its settled resolution
// filled in).
type recordRun struct {
	Bucket  int              `json:"bucket"`
	Level   int              `json:"level"`
	Seq     uint64           `json:"seq"`
	Created time.Time        `json:"created"`
	Merged  []string         `json:"merged,omitempty"` // keys of the runs this one replaces
	Records []transferRecord `json:"records"`
}

// runFilter is a run's filter object: which ids the run may hold.
type runFilter struct {
	Created time.Time `json:"created"`
	Count   int       `json:"count"`
	Merged  []string  `json:"merged,omitempty"`
	Bloom   bloom     `json:"bloom"`
}

type bloom struct {
	M    uint64 `json:"m"`
	Bits []byte `json:"bits"`
}

func idHash(id string) [32]byte { return sha256.Sum256([]byte(id)) }

func bucketOf(id string) int { h := idHash(id); return int(h[0]) }

func newBloom(n int) bloom {
	m := uint64(max(64, n*bloomBitsPerRecord))
	return bloom{M: m, Bits: make([]byte, (m+7)/8)}
}

func (b *bloom) positions(id string, fn func(bit uint64)) {
	h := idHash(id)
	h1, h2 := binary.LittleEndian.Uint64(h[8:16]), binary.LittleEndian.Uint64(h[16:24])|1
	for i := range uint64(bloomHashes) {
		fn((h1 + i*h2) % b.M)
	}
}

func (b *bloom) add(id string) { b.positions(id, func(p uint64) { b.Bits[p/8] |= 1 << (p % 8) }) }

func (b *bloom) has(id string) bool {
	if b.M == 0 || uint64(len(b.Bits))*8 < b.M {
		return true // unusable: say maybe, the run decides
	}
	all := true
	b.positions(id, func(p uint64) { all = all && b.Bits[p/8]&(1<<(p%8)) != 0 })
	return all
}

func runKey(bucket, level int, seq uint64) string {
	return fmt.Sprintf("%s%02x/%d-%0*d", recordsPre, bucket, level, itemIndexDigits, seq)
}

func parseRunKey(key string) (bucket, level int, seq uint64, ok bool) {
	rest, found := strings.CutPrefix(key, recordsPre)
	b, name, found2 := strings.Cut(rest, "/")
	lv, s, found3 := strings.Cut(name, "-")
	if !found || !found2 || !found3 || len(b) != 2 || len(s) != itemIndexDigits {
		return 0, 0, 0, false
	}
	bb, err1 := strconv.ParseUint(b, 16, 8)
	l, err2 := strconv.Atoi(lv)
	q, err3 := strconv.ParseUint(s, 10, 64)
	if err1 != nil || err2 != nil || err3 != nil || l < 0 || l > 9 {
		return 0, 0, 0, false
	}
	return int(bb), l, q, true
}

// runInfo is one run as this process knows it.
type runInfo struct {
	key    string
	bucket int
	level  int
	seq    uint64
}

// runView is this process's listing of the runs and their filters.
type runView struct {
	mu      sync.Mutex
	at      time.Time // when the listing was started; zero: never
	buckets [recordBuckets][]*runInfo
	decoded map[string]*recordRun
	order   []string
	filters filterCache
}

// filterCache holds the filters read, by run key, least recently used
// first out once they take more than limit bytes (the one just used is
// kept even if it alone is over). Guarded by runView.mu.
type filterCache struct {
	limit int64 // 0: DefaultFilterMemory
	used  int64
	lru   list.List // of *cachedFilter, most recently used at the front
	at    map[string]*list.Element
	loads int // filters read from the store (tests)
}

type cachedFilter struct {
	key  string
	f    *runFilter
	size int64
}

func (c *filterCache) get(key string) *runFilter {
	e, ok := c.at[key]
	if !ok {
		return nil
	}
	c.lru.MoveToFront(e)
	cf, _ := e.Value.(*cachedFilter)
	return cf.f
}

func (c *filterCache) put(key string, f *runFilter) {
	if c.at == nil {
		c.at = map[string]*list.Element{}
	}
	if e, ok := c.at[key]; ok {
		c.remove(e)
	}
	size := int64(len(f.Bloom.Bits)) + filterOverhead
	for _, k := range f.Merged {
		size += int64(len(k))
	}
	c.at[key] = c.lru.PushFront(&cachedFilter{key: key, f: f, size: size})
	c.used += size
	limit := c.limit
	if limit <= 0 {
		limit = DefaultFilterMemory
	}
	for c.used > limit && c.lru.Len() > 1 {
		c.remove(c.lru.Back())
	}
}

func (c *filterCache) remove(e *list.Element) {
	cf, _ := e.Value.(*cachedFilter)
	c.lru.Remove(e)
	delete(c.at, cf.key)
	c.used -= cf.size
}

// retain drops the filters of runs no longer listed.
func (c *filterCache) retain(listed map[string]bool) {
	for key, e := range c.at {
		if !listed[key] {
			c.remove(e)
		}
	}
}

func (v *runView) cached(key string) *recordRun {
	return v.decoded[key]
}

func (v *runView) keep(key string, r *recordRun) {
	if v.decoded == nil {
		v.decoded = map[string]*recordRun{}
	}
	if _, ok := v.decoded[key]; ok {
		return
	}
	if len(v.order) >= runCacheSize {
		delete(v.decoded, v.order[0])
		v.order = v.order[1:]
	}
	v.order = append(v.order, key)
	v.decoded[key] = r
}

// refreshRuns re-lists the runs if the listing is older than
// runViewMaxAge (or force), keeping the filters already read. v.mu held.
func (l *Ledger) refreshRuns(ctx context.Context, force bool) error {
	v := &l.runs
	now := l.clock()
	if !force && !v.at.IsZero() && now.Sub(v.at) < runViewMaxAge && now.Sub(v.at) >= 0 {
		return nil
	}
	listed := map[string]bool{}
	var fresh [recordBuckets][]*runInfo
	n := 0
	err := eachObject(ctx, l.b, recordsPre, func(o store.ObjectInfo) error {
		bucket, level, seq, ok := parseRunKey(o.Key)
		if !ok {
			return nil // a filter, or not ours
		}
		if n++; n > maxRuns {
			return fmt.Errorf("%w: more than %d record runs", ErrInternal, maxRuns)
		}
		fresh[bucket] = append(fresh[bucket], &runInfo{key: o.Key, bucket: bucket, level: level, seq: seq})
		listed[o.Key] = true
		return nil
	})
	if err != nil {
		return err
	}
	v.buckets, v.at = fresh, now
	v.filters.retain(listed)
	return nil
}

// filterOf reads a run's filter (a run whose filter object is missing,
// after a crash between the two puts, is read whole). l.runs.mu held.
func (l *Ledger) filterOf(ctx context.Context, ri *runInfo) (*runFilter, error) {
	if f := l.runs.filters.get(ri.key); f != nil {
		return f, nil
	}
	l.runs.filters.loads++
	var f runFilter
	_, err := l.b.GetJSON(ctx, ri.key+filterSuffix, &f)
	if errors.Is(err, store.ErrNotFound) {
		r, err := l.readRun(ctx, ri.key)
		if err != nil || r == nil {
			return nil, err
		}
		f = filterFor(r)
	} else if err != nil {
		return nil, err
	}
	l.runs.filters.put(ri.key, &f)
	return &f, nil
}

func filterFor(r *recordRun) runFilter {
	f := runFilter{Created: r.Created, Count: len(r.Records), Merged: r.Merged, Bloom: newBloom(len(r.Records))}
	for i := range r.Records {
		f.Bloom.add(r.Records[i].ID)
	}
	return f
}

// readRun reads and checks a run (nil if it is gone). l.runs.mu held.
func (l *Ledger) readRun(ctx context.Context, key string) (*recordRun, error) {
	if r := l.runs.cached(key); r != nil {
		return r, nil
	}
	data, _, err := l.b.Get(ctx, key)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	r, err := decodeRun(data, key)
	if err != nil {
		return nil, err
	}
	l.runs.keep(key, r)
	return r, nil
}

// gzipWriters reuses compressors: a new one allocates about 1 MB, and a
// pass stores up to one run per bucket.
var gzipWriters = sync.Pool{New: func() any {
	zw, _ := gzip.NewWriterLevel(io.Discard, gzip.BestCompression) // a valid level cannot fail
	return zw
}}

func encodeGzipJSON(v any, limit int) ([]byte, error) {
	var buf bytes.Buffer
	zw, _ := gzipWriters.Get().(*gzip.Writer)
	defer gzipWriters.Put(zw)
	zw.Reset(&buf)
	if err := json.NewEncoder(zw).Encode(v); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	if buf.Len() > limit {
		return nil, internal("compacted object of %d bytes", buf.Len())
	}
	return buf.Bytes(), nil
}

func decodeRun(data []byte, key string) (*recordRun, error) {
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("%w: record run %s: %w", store.ErrCorrupt, key, err)
	}
	raw, err := io.ReadAll(io.LimitReader(zr, maxRunBytes+1))
	if err != nil || len(raw) > maxRunBytes {
		return nil, fmt.Errorf("%w: record run %s does not decompress within %d bytes", store.ErrCorrupt, key, maxRunBytes)
	}
	var r recordRun
	if err := json.Unmarshal(raw, &r); err != nil {
		return nil, fmt.Errorf("%w: record run %s: %w", store.ErrCorrupt, key, err)
	}
	// Asserted: a run holds what its key names, final records sorted by
	// id, each in its bucket.
	if runKey(r.Bucket, r.Level, r.Seq) != key || len(r.Records) > maxRunRecords {
		return nil, internal("record run %s names bucket %d level %d seq %d", key, r.Bucket, r.Level, r.Seq)
	}
	for i := range r.Records {
		rec := &r.Records[i]
		if bucketOf(rec.ID) != r.Bucket || (i > 0 && r.Records[i-1].ID >= rec.ID) || rec.State == "" {
			return nil, internal("record run %s: record %d (%s) out of place", key, i, rec.ID)
		}
		rec.final = true
	}
	return &r, nil
}

func (r *recordRun) find(id string) *transferRecord {
	i := sort.Search(len(r.Records), func(i int) bool { return r.Records[i].ID >= id })
	if i < len(r.Records) && r.Records[i].ID == id {
		rec := r.Records[i] // a copy: callers may annotate it
		return &rec
	}
	return nil
}

// lookupRecord finds id's record in the runs, or nil. With force, the
// listing of runs is refreshed first (a reader that raced a compactor).
func (l *Ledger) lookupRecord(ctx context.Context, id string, force bool) (*transferRecord, error) {
	rec, _, err := l.lookupRun(ctx, id, force)
	return rec, err
}

// lookupRun finds id's record and the run holding it (the first by key).
func (l *Ledger) lookupRun(ctx context.Context, id string, force bool) (*transferRecord, string, error) {
	v := &l.runs
	v.mu.Lock()
	defer v.mu.Unlock()
	for attempt := 0; attempt < 2; attempt++ {
		if err := l.refreshRuns(ctx, force || attempt > 0); err != nil {
			return nil, "", err
		}
		gone := false
		for _, ri := range v.buckets[bucketOf(id)] {
			f, err := l.filterOf(ctx, ri)
			if err != nil {
				return nil, "", err
			}
			if f == nil {
				gone = true // merged and deleted since the listing
				continue
			}
			if !f.Bloom.has(id) {
				continue
			}
			r, err := l.readRun(ctx, ri.key)
			if err != nil {
				return nil, "", err
			}
			if r == nil {
				gone = true
				continue
			}
			if rec := r.find(id); rec != nil {
				return rec, ri.key, nil
			}
		}
		if !gone {
			return nil, "", nil
		}
	}
	return nil, "", nil
}

// findEntry looks for transfer id's entry on side g in acc's log after
// bound, at most maxFinalScan items on; nil if not there.
func (l *Ledger) findEntry(ctx context.Context, acc string, bound uint64, id string, g Leg) (*Entry, uint64, error) {
	var prev *Item
	for n := bound + 1; n <= bound+maxFinalScan; n++ {
		it, err := l.readItem(ctx, acc, n, prev)
		if err != nil || it == nil {
			return nil, 0, err
		}
		for i := range it.Entries {
			if e := &it.Entries[i]; e.Transfer == id && e.Leg.side() == g.side() {
				return e, n, nil
			}
		}
		prev = it
	}
	return nil, 0, nil
}

// finalRecords keeps those of recs whose transfer is final as of now,
// with their outcome filled in: refused, or direct and applied on both
// sides, or provisional with a resolution older than cut settled on both
// sides. A transfer that is not (or whose entries lie too far past its
// bounds) is dropped: it stays an object. Entries are looked for in the
// order of the logs (payers by bound, then payees by bound), so that the
// segments they are in are read once, not once per record.
func (l *Ledger) finalRecords(ctx context.Context, recs []transferRecord, cut time.Time) ([]transferRecord, error) {
	byLog := func(acc func(*transferRecord) (string, uint64)) {
		slices.SortFunc(recs, func(a, b transferRecord) int {
			aa, an := acc(&a)
			ba, bn := acc(&b)
			if c := strings.Compare(aa, ba); c != 0 {
				return c
			}
			return cmpUint(an, bn)
		})
	}
	byLog(func(r *transferRecord) (string, uint64) { return r.From, r.FromBound })
	for i := range recs {
		rec := &recs[i]
		d, dn, err := l.findEntry(ctx, rec.From, rec.FromBound, rec.ID, LegDebit)
		if err != nil {
			return nil, err
		}
		rec.State, rec.DebitItem, rec.CreditItem, rec.Refusal = "", 0, 0, ""
		switch {
		case d == nil:
		case d.Leg == LegRefused:
			rec.State, rec.Refusal, rec.DebitItem = StateRefused, d.Refusal, dn
		default:
			rec.DebitItem = dn
		}
	}
	byLog(func(r *transferRecord) (string, uint64) { return r.To, r.ToBound })
	out := recs[:0]
	for i := range recs {
		rec := recs[i]
		if rec.State == StateRefused {
			out = append(out, rec)
			continue
		}
		if rec.DebitItem == 0 {
			continue
		}
		c, cn, err := l.findEntry(ctx, rec.To, rec.ToBound, rec.ID, LegCredit)
		if err != nil {
			return nil, err
		}
		if c == nil {
			continue
		}
		rec.CreditItem = cn
		if !rec.provisional() {
			rec.State = StateApplied
			out = append(out, rec)
			continue
		}
		ok, err := l.finalResolution(ctx, &rec, cut)
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, rec)
		}
	}
	return out, nil
}

// finalResolution fills in a provisional transfer's settled resolution if
// it was recorded before cut and is settled on both sides.
func (l *Ledger) finalResolution(ctx context.Context, rec *transferRecord, cut time.Time) (bool, error) {
	var r Resolution
	if _, err := l.b.GetJSON(ctx, resolutionKey(rec.ID), &r); errors.Is(err, store.ErrNotFound) {
		return false, nil
	} else if err != nil {
		return false, err
	}
	if r.At.After(cut) {
		return false, nil
	}
	sd, sdn, err := l.findEntry(ctx, rec.From, r.FromBound, rec.ID, LegSettleDebit)
	if err != nil || sd == nil {
		return false, err
	}
	sc, scn, err := l.findEntry(ctx, rec.To, r.ToBound, rec.ID, LegSettleCredit)
	if err != nil || sc == nil {
		return false, err
	}
	r.SettleDebit, r.SettleCredit = sdn, scn
	rec.State, rec.Resolution = resolvedState[r.Kind], &r
	return true, nil
}

// CompactRecords moves the records of final transfers older than the
// retry horizon into record runs, deletes record objects whose run has
// been stored for RecordDeleteDelay, merges runs, and deletes merged runs.
// It looks at up to budget record objects per call, going on where the
// last call stopped, and answers how many records it moved into runs.
// Crash-safe and idempotent: a run (and its filter) is stored with
// put-if-absent before any of its records is deleted, and every reader
// looks in the runs when it finds no object, so each record always exists
// as an object, in a run, or both. Many compactors may run at once.
func (l *Ledger) CompactRecords(ctx context.Context, budget int) (int, error) {
	now := l.clock()
	cut := now.Add(-l.horizon)
	var old []transferRecord
	moved := 0
	seen := 0
	l.runs.mu.Lock()
	err := l.refreshRuns(ctx, true)
	l.runs.mu.Unlock()
	if err != nil {
		return 0, err
	}
	for seen < budget {
		page, err := l.b.List(ctx, transfersPre, l.cursor(), min(auditPage, budget-seen))
		if err != nil {
			return moved, err
		}
		for _, o := range page.Items {
			seen++
			// The store's modification time skips the get of a record
			// written after the cut (skipping only ever delays its move:
			// a record is never moved without reading its Recorded).
			if !o.Modified.IsZero() && o.Modified.After(cut) {
				continue
			}
			if err := l.oldRecord(ctx, o.Key, cut, &old); err != nil {
				return moved, err
			}
		}
		l.setCursor(page.Next)
		if page.Next == "" {
			break
		}
	}
	candidates, err := l.deleteMoved(ctx, old, now)
	if err != nil {
		return moved, err
	}
	final, err := l.finalRecords(ctx, candidates, cut)
	if err != nil {
		return moved, err
	}
	batches := map[int][]transferRecord{}
	for _, rec := range final {
		batches[bucketOf(rec.ID)] = append(batches[bucketOf(rec.ID)], rec)
	}
	for bucket, recs := range batches {
		n, err := l.storeRun(ctx, bucket, recs, now)
		moved += n
		if err != nil {
			return moved, err
		}
	}
	if err := l.mergeRuns(ctx, now); err != nil {
		return moved, err
	}
	return moved, nil
}

// oldRecord reads one record object and adds it to old if it was
// recorded before cut.
func (l *Ledger) oldRecord(ctx context.Context, key string, cut time.Time, old *[]transferRecord) error {
	var rec transferRecord
	if _, err := l.b.GetJSON(ctx, key, &rec); errors.Is(err, store.ErrNotFound) {
		return nil
	} else if err != nil {
		return err
	}
	if !rec.Recorded.After(cut) {
		*old = append(*old, rec)
	}
	return nil
}

// deleteMoved deletes the objects of those of recs that a run has held
// for RecordDeleteDelay, and answers the others that no run holds (the
// candidates to move). The records are looked up a bucket at a time, so
// that each run is read once per pass: looked up one by one in the order
// of the listing, nearly every record would read and decode its
// bucket's run again (a process caches runCacheSize of them, and the
// listing's order is not the buckets').
func (l *Ledger) deleteMoved(ctx context.Context, recs []transferRecord, now time.Time) ([]transferRecord, error) {
	var byBucket [recordBuckets][]transferRecord
	for _, rec := range recs {
		b := bucketOf(rec.ID)
		byBucket[b] = append(byBucket[b], rec)
	}
	var candidates []transferRecord
	for bucket, group := range byBucket {
		if len(group) == 0 {
			continue
		}
		in, err := l.lookupRuns(ctx, bucket, group)
		if err != nil {
			return nil, err
		}
		for i := range group {
			rec := &group[i]
			f, ok := in[rec.ID]
			if !ok {
				candidates = append(candidates, *rec)
				continue
			}
			if !sameRequest(f.rec.TransferRequest, rec.TransferRequest) {
				return nil, internal("transfer %s: record differs from its run %s", rec.ID, f.run)
			}
			l.runs.mu.Lock()
			created, err := l.runCreated(ctx, f.run)
			l.runs.mu.Unlock()
			if err != nil {
				return nil, err
			}
			if now.Sub(created) < RecordDeleteDelay {
				continue
			}
			if err := l.deleteRecord(ctx, rec); err != nil {
				return nil, err
			}
		}
	}
	return candidates, nil
}

// inRun is a record found in a run, and the run's key.
type inRun struct {
	rec *transferRecord
	run string
}

// lookupRuns is lookupRun for many records of one bucket: it reads each
// of the bucket's runs at most once (twice if a run was merged away
// meanwhile and the listing is refreshed), and answers those found.
func (l *Ledger) lookupRuns(ctx context.Context, bucket int, recs []transferRecord) (map[string]inRun, error) {
	v := &l.runs
	v.mu.Lock()
	defer v.mu.Unlock()
	found := map[string]inRun{}
	var maybe []string
	for attempt := 0; attempt < 2; attempt++ {
		if err := l.refreshRuns(ctx, attempt > 0); err != nil {
			return nil, err
		}
		gone := false
		for _, ri := range v.buckets[bucket] {
			f, err := l.filterOf(ctx, ri)
			if err != nil {
				return nil, err
			}
			if f == nil {
				gone = true // merged and deleted since the listing
				continue
			}
			maybe = maybe[:0]
			for i := range recs {
				if _, ok := found[recs[i].ID]; !ok && f.Bloom.has(recs[i].ID) {
					maybe = append(maybe, recs[i].ID)
				}
			}
			if len(maybe) == 0 {
				continue
			}
			r, err := l.readRun(ctx, ri.key)
			if err != nil {
				return nil, err
			}
			if r == nil {
				gone = true
				continue
			}
			for _, id := range maybe {
				if rec := r.find(id); rec != nil {
					found[id] = inRun{rec: rec, run: ri.key}
				}
			}
		}
		if !gone || len(found) == len(recs) {
			break
		}
	}
	return found, nil
}

func (l *Ledger) runCreated(ctx context.Context, key string) (time.Time, error) {
	bucket, _, _, _ := parseRunKey(key)
	for _, ri := range l.runs.buckets[bucket] {
		if ri.key == key {
			f, err := l.filterOf(ctx, ri)
			if err != nil || f == nil {
				return time.Time{}, err
			}
			return f.Created, nil
		}
	}
	return time.Time{}, internal("record run %s not listed", key)
}

// deleteRecord deletes a record held by a run: its object, its
// resolution and its expiry index entry.
func (l *Ledger) deleteRecord(ctx context.Context, rec *transferRecord) error {
	if err := l.step("record-delete"); err != nil {
		return err
	}
	keys := []string{transferKey(rec.ID)}
	if rec.provisional() {
		keys = append(keys, resolutionKey(rec.ID), expiryKey(rec.ReceiptBy, rec.ID))
	}
	for _, k := range keys {
		if err := l.b.Delete(ctx, k); err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
	}
	return nil
}

// storeRun stores recs as a new level-0 run of bucket: its filter, then
// the run, each put-if-absent. A compactor that lost the key to another
// stores nothing: its records stay objects for the next pass.
func (l *Ledger) storeRun(ctx context.Context, bucket int, recs []transferRecord, now time.Time) (int, error) {
	l.runs.mu.Lock()
	defer l.runs.mu.Unlock()
	var seq uint64
	done := 0
	for _, ri := range l.runs.buckets[bucket] {
		seq = max(seq, ri.seq)
	}
	for len(recs) > 0 {
		part := recs[:min(len(recs), maxRunRecords)]
		recs = recs[len(part):]
		seq++
		r := &recordRun{Bucket: bucket, Level: 0, Seq: seq, Created: now, Records: part}
		stored, err := l.putRun(ctx, r)
		if err != nil || !stored {
			return done, err
		}
		done += len(part)
	}
	return done, nil
}

// putRun stores run r (sorted here) and its filter; false if its key was
// taken. l.runs.mu held.
func (l *Ledger) putRun(ctx context.Context, r *recordRun) (bool, error) {
	slices.SortFunc(r.Records, func(a, b transferRecord) int { return strings.Compare(a.ID, b.ID) })
	r.Records = slices.CompactFunc(r.Records, func(a, b transferRecord) bool { return a.ID == b.ID })
	for i := range r.Records {
		r.Records[i].final = false
		if r.Records[i].State == "" {
			return false, internal("transfer %s: not final, not stored in a run", r.Records[i].ID)
		}
	}
	key := runKey(r.Bucket, r.Level, r.Seq)
	f := filterFor(r)
	if _, err := l.b.PutJSONIfAbsent(ctx, key+filterSuffix, f); err != nil && !errors.Is(err, store.ErrPrecondition) {
		return false, err
	}
	data, err := encodeGzipJSON(r, maxRunBytes)
	if err != nil {
		return false, err
	}
	if _, err := l.b.PutIfAbsent(ctx, key, data); errors.Is(err, store.ErrPrecondition) {
		return false, nil
	} else if err != nil {
		return false, err
	}
	if err := l.step("run-stored"); err != nil {
		return false, err
	}
	l.runs.buckets[r.Bucket] = append(l.runs.buckets[r.Bucket], &runInfo{key: key, bucket: r.Bucket, level: r.Level, seq: r.Seq})
	l.runs.filters.put(key, &f)
	return true, nil
}

// mergeRuns merges, in every bucket, the oldest runsPerMerge runs of a
// level into one of the next (if it stays within maxRunRecords), and
// deletes runs replaced by a merge stored RecordDeleteDelay ago.
func (l *Ledger) mergeRuns(ctx context.Context, now time.Time) error {
	l.runs.mu.Lock()
	defer l.runs.mu.Unlock()
	for bucket := range recordBuckets {
		infos := l.runs.buckets[bucket]
		if len(infos) == 0 {
			continue
		}
		replaced := map[string]time.Time{}
		for _, ri := range infos {
			f, err := l.filterOf(ctx, ri)
			if err != nil {
				return err
			}
			if f == nil {
				replaced[ri.key] = now // gone since the listing
				continue
			}
			for _, k := range f.Merged {
				replaced[k] = f.Created
			}
		}
		for _, ri := range infos {
			if at, ok := replaced[ri.key]; ok && now.Sub(at) >= RecordDeleteDelay {
				if err := l.step("run-delete"); err != nil {
					return err
				}
				for _, k := range []string{ri.key, ri.key + filterSuffix} {
					if err := l.b.Delete(ctx, k); err != nil && !errors.Is(err, store.ErrNotFound) {
						return err
					}
				}
			}
		}
		if err := l.mergeBucket(ctx, bucket, infos, replaced, now); err != nil {
			return err
		}
	}
	return nil
}

func (l *Ledger) mergeBucket(ctx context.Context, bucket int, infos []*runInfo, replaced map[string]time.Time, now time.Time) error {
	byLevel := map[int][]*runInfo{}
	for _, ri := range infos {
		if _, ok := replaced[ri.key]; !ok {
			byLevel[ri.level] = append(byLevel[ri.level], ri)
		}
	}
	for level, runs := range byLevel {
		if len(runs) < runsPerMerge || level >= 9 {
			continue
		}
		slices.SortFunc(runs, func(a, b *runInfo) int { return cmpUint(a.seq, b.seq) })
		runs = runs[:runsPerMerge]
		total := 0
		for _, ri := range runs {
			f, err := l.filterOf(ctx, ri)
			if err != nil || f == nil {
				return err // nil: gone since the listing; the next pass merges
			}
			total += f.Count
		}
		if total > maxRunRecords {
			continue
		}
		m := &recordRun{Bucket: bucket, Level: level + 1, Seq: runs[len(runs)-1].seq, Created: now}
		for _, ri := range runs {
			r, err := l.readRun(ctx, ri.key)
			if err != nil {
				return err
			}
			if r == nil {
				return nil // deleted meanwhile by another compactor: its merge is stored
			}
			m.Records = append(m.Records, r.Records...)
			m.Merged = append(m.Merged, ri.key)
		}
		if _, err := l.putRun(ctx, m); err != nil {
			return err
		}
	}
	return nil
}

func (l *Ledger) cursor() string {
	l.cursorMu.Lock()
	defer l.cursorMu.Unlock()
	return l.recordCursor
}

func (l *Ledger) setCursor(c string) {
	l.cursorMu.Lock()
	defer l.cursorMu.Unlock()
	l.recordCursor = c
}

func cmpUint(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// eachRun calls fn with every run not replaced by a merge, one at a time
// (the audit's walk of compacted records), and with a test of whether a
// record of it is also in an earlier such run (two compactors racing can
// both store one record: it is counted once).
func (l *Ledger) eachRun(ctx context.Context, fn func(key string, r *recordRun, earlier func(id string) (bool, error)) error) error {
	l.runs.mu.Lock()
	if err := l.refreshRuns(ctx, true); err != nil {
		l.runs.mu.Unlock()
		return err
	}
	var live []*runInfo
	for _, infos := range l.runs.buckets {
		replaced := map[string]bool{}
		for _, ri := range infos {
			f, err := l.filterOf(ctx, ri)
			if err != nil {
				l.runs.mu.Unlock()
				return err
			}
			if f == nil {
				replaced[ri.key] = true // gone since the listing
				continue
			}
			for _, k := range f.Merged {
				replaced[k] = true
			}
		}
		for _, ri := range infos {
			if !replaced[ri.key] {
				live = append(live, ri)
			}
		}
	}
	l.runs.mu.Unlock()
	for i, ri := range live {
		l.runs.mu.Lock()
		r, err := l.readRun(ctx, ri.key)
		l.runs.mu.Unlock()
		if err != nil {
			return err
		}
		if r == nil {
			return fmt.Errorf("ledger: record run %s vanished during the audit", ri.key)
		}
		earlier := func(id string) (bool, error) {
			for j := i - 1; j >= 0 && live[j].bucket == ri.bucket; j-- {
				l.runs.mu.Lock()
				f, err := l.filterOf(ctx, live[j])
				if err != nil || f == nil || !f.Bloom.has(id) {
					l.runs.mu.Unlock()
					if err == nil && f == nil {
						err = fmt.Errorf("ledger: record run %s vanished during the audit", live[j].key)
					}
					if err != nil {
						return false, err
					}
					continue
				}
				o, err := l.readRun(ctx, live[j].key)
				l.runs.mu.Unlock()
				if err != nil {
					return false, err
				}
				if o != nil && o.find(id) != nil {
					return true, nil
				}
			}
			return false, nil
		}
		if err := fn(ri.key, r, earlier); err != nil {
			return err
		}
	}
	return nil
}
