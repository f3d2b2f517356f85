package ledger

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/openacquire/acquire/runtime/store"
)

// Compaction (DESIGN.md, "Compaction"): an account's settled history is
// moved from one object per item into one compressed segment object per
// SegmentItems items, so that a local store's inodes and disk hold 10^8
// transfers. Items are immutable, so a segment is a copy; the items are
// deleted only after their segment is stored, so every item always
// exists as an object, in a segment, or both.
const (
	// SegmentItems is how many items one segment holds: segment k holds
	// items [k·SegmentItems, (k+1)·SegmentItems), item 0 excepted (it
	// stays an object: it is the account's description and GetAccount
	// reads it alone).
	SegmentItems = 1024
	// CompactAfter is how old a segment's newest item must be before the
	// segment is compacted. A reader that finds item n+1 absent right
	// after item n treats the absence as the end of the log only when
	// item n is younger than CompactAfter/2 (else it looks for a segment
	// first), so the margin covers clocks apart by up to CompactAfter/2.
	CompactAfter = time.Hour
	// segmentsPerAccountPass bounds one Compact call's work.
	segmentsPerAccountPass = 64
	// maxSegmentBytes bounds a segment's stored and decompressed size.
	maxSegmentBytes = 32 << 20
	// segmentCacheSize is how many decoded segments a process keeps (they
	// are immutable): a statement page reads its segment once.
	segmentCacheSize = 64
)

func segmentsPrefix(acc string) string { return accountsPre + store.EncodeName(acc) + "/segments/" }
func segmentKey(acc string, first uint64) string {
	return fmt.Sprintf("%s%0*d", segmentsPrefix(acc), itemIndexDigits, first)
}
func segmentFirst(n uint64) uint64 { return n - n%SegmentItems }

// segment is a segment object: items From..From+len(Items)-1.
type segment struct {
	Account string  `json:"account"`
	From    uint64  `json:"from"`
	Items   []*Item `json:"items"`
}

// segmentCache keeps recently read segments, by key.
type segmentCache struct {
	mu    sync.Mutex
	order []string
	m     map[string]*segment
}

func (c *segmentCache) get(key string) *segment {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[key]
}

func (c *segmentCache) put(key string, s *segment) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]*segment{}
	}
	if _, ok := c.m[key]; ok {
		return
	}
	if len(c.order) >= segmentCacheSize {
		delete(c.m, c.order[0])
		c.order = c.order[1:]
	}
	c.order = append(c.order, key)
	c.m[key] = s
}

func encodeSegment(s *segment) ([]byte, error) {
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return nil, err
	}
	if err := json.NewEncoder(zw).Encode(s); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	if buf.Len() > maxSegmentBytes {
		return nil, internal("segment %d of %s is %d bytes compressed", s.From, s.Account, buf.Len())
	}
	return buf.Bytes(), nil
}

func decodeSegment(data []byte, acc string, first uint64) (*segment, error) {
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("%w: segment %d of %s: %w", store.ErrCorrupt, first, acc, err)
	}
	raw, err := io.ReadAll(io.LimitReader(zr, maxSegmentBytes+1))
	if err != nil || len(raw) > maxSegmentBytes {
		return nil, fmt.Errorf("%w: segment %d of %s does not decompress within %d bytes", store.ErrCorrupt, first, acc, maxSegmentBytes)
	}
	var s segment
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, fmt.Errorf("%w: segment %d of %s: %w", store.ErrCorrupt, first, acc, err)
	}
	// Asserted: a segment holds exactly the items its key names, in order.
	if s.Account != acc || s.From != max(first, 1) || len(s.Items) != int(first+SegmentItems-s.From) {
		return nil, internal("segment %d of %s holds %s from %d, %d items", first, acc, s.Account, s.From, len(s.Items))
	}
	for i, it := range s.Items {
		if it == nil || it.Account != acc || it.N != s.From+uint64(i) {
			return nil, internal("segment %d of %s: item %d out of place", first, acc, i)
		}
	}
	return &s, nil
}

// readSegment reads the segment holding item n, or nil if there is none.
func (l *Ledger) readSegment(ctx context.Context, acc string, n uint64) (*segment, error) {
	first := segmentFirst(n)
	key := segmentKey(acc, first)
	if s := l.segments.get(key); s != nil {
		return s, nil
	}
	data, _, err := l.b.Get(ctx, key)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	s, err := decodeSegment(data, acc, first)
	if err != nil {
		return nil, err
	}
	l.segments.put(key, s)
	return s, nil
}

func (s *segment) item(n uint64) *Item {
	if n < s.From || n >= s.From+uint64(len(s.Items)) {
		return nil
	}
	return s.Items[n-s.From]
}

// readItem reads item n of acc wherever it is, or nil if it does not
// exist. prev is the item before n as this caller read it, or nil: when
// prev is younger than CompactAfter/2, item n's segment cannot have been
// compacted yet (its newest item is no older than prev), so an absent
// object means the end of the log and no segment is looked for.
func (l *Ledger) readItem(ctx context.Context, acc string, n uint64, prev *Item) (*Item, error) {
	if s := l.segments.get(segmentKey(acc, segmentFirst(n))); s != nil && n != 0 {
		if it := s.item(n); it != nil {
			return it, nil
		}
	}
	var it Item
	_, err := l.b.GetJSON(ctx, itemKey(acc, n), &it)
	if err == nil {
		return &it, nil
	}
	if !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	if n == 0 || (prev != nil && prev.N < n && l.clock().Sub(prev.Time) < CompactAfter/2) {
		return nil, nil
	}
	s, err := l.readSegment(ctx, acc, n)
	if err != nil || s == nil {
		return nil, err
	}
	return s.item(n), nil
}

// Compact moves acc's settled history into segments: each whole segment
// whose newest item is older than CompactAfter and which has at least
// SegmentItems items after it, at most segmentsPerAccountPass per call.
// It answers how many segments it stored. Crash-safe and idempotent: a
// segment is stored (put-if-absent; a segment already there is checked
// against the items) before any of its items is deleted, so a crash
// leaves every item readable, and the next Compact finishes the deletes.
// Many compactors may run at once.
func (l *Ledger) Compact(ctx context.Context, acc string) (int, error) {
	if err := checkID("account", acc); err != nil {
		return 0, err
	}
	head, err := l.findHead(ctx, acc)
	if err != nil {
		return 0, err
	}
	first, err := l.firstUncompacted(ctx, acc)
	if err != nil {
		return 0, err
	}
	// A crash may have stopped the last pass between a segment's put and
	// its last delete; deletes go in ascending order, so its last item
	// tells.
	if first > 0 {
		if _, err := l.b.GetJSON(ctx, itemKey(acc, first-1), &Item{}); err == nil {
			if _, err := l.compactSegment(ctx, acc, first-SegmentItems); err != nil {
				return 0, err
			}
		} else if !errors.Is(err, store.ErrNotFound) {
			return 0, err
		}
	}
	done := 0
	for ; first+2*SegmentItems <= head.N+1 && done < segmentsPerAccountPass; first += SegmentItems {
		stored, err := l.compactSegment(ctx, acc, first)
		if err != nil {
			return done, err
		}
		if !stored {
			break // too recent: later segments are newer still
		}
		done++
	}
	return done, nil
}

// firstUncompacted is the first index of the lowest segment not stored
// yet. Segments are stored in ascending order, each before its items are
// deleted, so they exist contiguously from segment 0: a gallop over their
// keys, then a bisection, finds the first missing one.
func (l *Ledger) firstUncompacted(ctx context.Context, acc string) (uint64, error) {
	exists := func(first uint64) (bool, error) {
		_, _, err := l.b.Get(ctx, segmentKey(acc, first))
		if errors.Is(err, store.ErrNotFound) {
			return false, nil
		}
		return err == nil, err
	}
	ok, err := exists(0)
	if err != nil || !ok {
		return 0, err
	}
	lo, step := uint64(0), uint64(SegmentItems) // segment lo exists
	var hi uint64
	for {
		ok, err := exists(lo + step)
		if err != nil {
			return 0, err
		}
		if !ok {
			hi = lo + step
			break
		}
		lo += step
		step *= 2
	}
	for hi-lo > SegmentItems {
		mid := segmentFirst(lo + (hi-lo)/2)
		ok, err := exists(mid)
		if err != nil {
			return 0, err
		}
		if ok {
			lo = mid
		} else {
			hi = mid
		}
	}
	return hi, nil
}

// compactSegment stores the segment starting at first and deletes its
// items; false if its newest item is too recent.
func (l *Ledger) compactSegment(ctx context.Context, acc string, first uint64) (bool, error) {
	s, err := l.readSegment(ctx, acc, max(first, 1))
	if err != nil {
		return false, err
	}
	if s == nil {
		if s, err = l.buildSegment(ctx, acc, first); err != nil || s == nil {
			return false, err
		}
		data, err := encodeSegment(s)
		if err != nil {
			return false, err
		}
		if _, err := l.b.PutIfAbsent(ctx, segmentKey(acc, first), data); err != nil && !errors.Is(err, store.ErrPrecondition) {
			return false, err
		}
		// Another compactor may have stored it first: read back what is
		// there, so the items are deleted only against a stored segment.
		if s, err = l.readSegment(ctx, acc, max(first, 1)); err != nil || s == nil {
			return false, fmt.Errorf("ledger: segment %d of %s vanished after its put: %w", first, acc, err)
		}
	}
	if err := l.step("segment-stored"); err != nil {
		return false, err
	}
	for _, it := range s.Items {
		if err := l.b.Delete(ctx, itemKey(acc, it.N)); err != nil && !errors.Is(err, store.ErrNotFound) {
			return false, err
		}
	}
	return true, nil
}

// buildSegment reads the segment's items, checking the chain; nil if its
// newest item is younger than CompactAfter.
func (l *Ledger) buildSegment(ctx context.Context, acc string, first uint64) (*segment, error) {
	s := &segment{Account: acc, From: max(first, 1)}
	last, err := l.readItem(ctx, acc, first+SegmentItems-1, nil)
	if err != nil {
		return nil, err
	}
	if last == nil {
		return nil, internal("account %s: item %d missing below the head", acc, first+SegmentItems-1)
	}
	if l.clock().Sub(last.Time) < CompactAfter {
		return nil, nil
	}
	var prev *Item
	for n := s.From; n < first+SegmentItems; n++ {
		it, err := l.readItem(ctx, acc, n, nil)
		if err != nil {
			return nil, err
		}
		if it == nil {
			return nil, internal("account %s: item %d missing below the head", acc, n)
		}
		if prev != nil {
			if err := checkItem(prev, it); err != nil {
				return nil, err
			}
		}
		s.Items = append(s.Items, it)
		prev = it
	}
	return s, nil
}

// eachItem calls fn with every item of acc in order, from its segments
// and its objects (both, for a segment whose items a crashed compaction
// left: the segment's copy is used). It lists a page at a time, so its
// memory does not grow with the log. A gap in the indexes is reported as
// an error of its own (errLogGap), for the audit to record.
func (l *Ledger) eachItem(ctx context.Context, acc string, fn func(*Item) error) error {
	next := uint64(0)
	readObject := func(key string) error {
		var it Item
		if _, err := l.b.GetJSON(ctx, key, &it); err != nil {
			return err
		}
		if key != itemKey(acc, next) || it.N != next {
			return fmt.Errorf("%w: log not contiguous at %q", errLogGap, key)
		}
		next++
		return fn(&it)
	}
	if err := readObject(itemKey(acc, 0)); errors.Is(err, store.ErrNotFound) {
		return errNoItemZero
	} else if err != nil {
		return err
	}
	err := eachObject(ctx, l.b, segmentsPrefix(acc), func(o store.ObjectInfo) error {
		first := segmentFirst(next)
		if o.Key != segmentKey(acc, first) {
			return fmt.Errorf("%w: segments not contiguous at %q", errLogGap, o.Key)
		}
		s, err := l.readSegment(ctx, acc, max(first, 1))
		if err != nil || s == nil {
			return fmt.Errorf("ledger: segment %q: %w", o.Key, err)
		}
		for _, it := range s.Items {
			if err := fn(it); err != nil {
				return err
			}
		}
		next = first + SegmentItems
		return nil
	})
	if err != nil {
		return err
	}
	return eachObject(ctx, l.b, itemsPrefix(acc), func(o store.ObjectInfo) error {
		if o.Key < itemKey(acc, next) {
			return nil // item 0, or also in a segment: a compaction's deletes still to come
		}
		return readObject(o.Key)
	})
}

var (
	errLogGap     = errors.New("log gap")
	errNoItemZero = errors.New("no item 0")
)

// CompactAll compacts every account, a page of accounts at a time, until
// budget segments are stored or every account was visited; it answers how
// many segments it stored. A host's sweep calls it on the local store.
func (l *Ledger) CompactAll(ctx context.Context, budget int) (int, error) {
	done, page := 0, ""
	for done < budget {
		ids, next, err := l.ListAccounts(ctx, page, MaxPageSize)
		if err != nil {
			return done, err
		}
		for _, acc := range ids {
			n, err := l.Compact(ctx, acc)
			done += n
			if err != nil {
				return done, fmt.Errorf("ledger: compacting %s: %w", acc, err)
			}
		}
		if page = next; page == "" {
			break
		}
	}
	return done, nil
}
