package ledger

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/openacquire/acquire/runtime/store"
	"github.com/openacquire/acquire/runtime/store/countstore"
	"github.com/openacquire/acquire/runtime/store/memstore"
)

// filterState is what a process holds of the run filters.
func (l *Ledger) filterState() (used int64, kept, loads int) {
	l.runs.mu.Lock()
	defer l.runs.mu.Unlock()
	return l.runs.filters.used, l.runs.filters.lru.Len(), l.runs.filters.loads
}

// The filters a process keeps stay within WithFilterMemory, whatever it
// looks up, and lookups answer the same as with every filter kept; with
// the default bound, a warm process looks up a new id without a request.
func TestRunFiltersStayWithinTheirMemory(t *testing.T) {
	ctx := context.Background()
	clock := newClock()
	var c countstore.Counter
	b := store.NewBucket(countstore.Wrap(memstore.New(), &c))
	l := newLedger(t, b, WithClock(clock.now), WithInlineBackground(), WithRetryHorizon(time.Hour))
	mustAccount(t, l, "a", "0")
	const n = 600
	for i := range n {
		deposit(t, l, fmt.Sprintf("d-%d", i), "a", "1")
	}
	clock.advance(time.Hour + time.Minute)
	if moved, err := l.CompactRecords(ctx, 10*n); err != nil || moved != n {
		t.Fatalf("moved %d records (%v), want %d", moved, err, n)
	}

	lookups := func(p *Ledger, check func()) {
		t.Helper()
		for i := range n {
			rec, err := p.lookupRecord(ctx, fmt.Sprintf("d-%d", i), false)
			if err != nil || rec == nil || rec.State != StateApplied {
				t.Fatalf("d-%d: %+v %v", i, rec, err)
			}
			check()
			if rec, err := p.lookupRecord(ctx, fmt.Sprintf("new-%d", i), false); err != nil || rec != nil {
				t.Fatalf("new-%d: %+v %v", i, rec, err)
			}
			check()
		}
	}

	// Room for about ten of the 256 filters: they are dropped and read
	// again, never more held than the bound.
	const limit = 10 * (8 + filterOverhead)
	small := newLedger(t, b, WithClock(clock.now), WithInlineBackground(), WithRetryHorizon(time.Hour), WithFilterMemory(limit))
	lookups(small, func() {
		if used, kept, _ := small.filterState(); used > limit || kept > 10 {
			t.Fatalf("%d bytes in %d filters kept, bound %d", used, kept, limit)
		}
	})
	if _, _, loads := small.filterState(); loads <= recordBuckets {
		t.Fatalf("%d filter reads for 2×%d lookups: the bound never dropped one", loads, n)
	}

	// The default bound holds them all: once warm, a new id costs nothing.
	warm := newLedger(t, b, WithClock(clock.now), WithInlineBackground(), WithRetryHorizon(time.Hour))
	lookups(warm, func() {})
	_, kept, loads := warm.filterState()
	before := c.Snapshot()
	for i := range n {
		if rec, err := warm.lookupRecord(ctx, fmt.Sprintf("other-%d", i), false); err != nil || rec != nil {
			t.Fatalf("other-%d: %+v %v", i, rec, err)
		}
	}
	if _, kept2, loads2 := warm.filterState(); loads2 != loads || kept2 != kept || kept > recordBuckets {
		t.Fatalf("warm lookups read filters: %d -> %d (kept %d -> %d)", loads, loads2, kept, kept2)
	}
	if got := c.Snapshot().Sub(before); got.Get != 0 {
		t.Fatalf("warm lookups of new ids made requests: %v", got)
	}
}
