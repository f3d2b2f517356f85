package bench

import (
	"context"
	"runtime/debug"
	"testing"

	"github.com/openacquire/acquire/runtime/ledger"
	"github.com/openacquire/acquire/runtime/store"
)

// TestSyntheticLedgerAudits: the generator's ledger is one the audit finds
// clean, reading every object; and one whose record disagrees with its
// logs is one it does not (the audit really checks what it is served).
func TestSyntheticLedgerAudits(t *testing.T) {
	m, err := MeasureAudit(t.Context(), 3000, 0)
	if err != nil {
		t.Fatal(err)
	}
	// Every object but the index entries (listed, not read) and the
	// mint's item 0 read once more by ledger.New.
	if want := int64(m.Objects - (m.Objects-2)/synObjectsPerAccount); m.Reads < want {
		t.Fatalf("audit read %d objects of %d, want at least %d", m.Reads, m.Objects, want)
	}
	gen, err := NewSyntheticLedger(3000)
	if err != nil {
		t.Fatal(err)
	}
	l, err := ledger.New(t.Context(), store.NewBucket(&lyingLedger{gen}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Audit(t.Context()); err == nil {
		t.Fatal("audit passed a record whose amount its log entries do not match")
	}
}

// lyingLedger serves transfer x000000007-002 with another amount.
type lyingLedger struct{ *SyntheticLedger }

func (l *lyingLedger) Get(ctx context.Context, key string) ([]byte, store.Version, error) {
	if key == synTransfersPre+"x000000007-002" {
		r := l.record(7, 2)
		r.Amount = ledger.MustParse("2")
		return mustJSON(r), "1", nil
	}
	return l.SyntheticLedger.Get(ctx, key)
}

// TestAuditMemoryBounded: audits of two ledgers, the larger four times
// the smaller and both with more transfer entries than the audit may hold
// at once, peak at about the same heap (the audit works in parts), while
// an audit allowed to hold the larger ledger's entries all at once peaks
// far higher: the measure sees the difference. Heap sizes, not times.
func TestAuditMemoryBounded(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(25)) // peaks near what is live
	const budget = 1000                              // entries, about 250 KB
	measure := func(objects, budget int) AuditMemory {
		t.Helper()
		m, err := MeasureAudit(t.Context(), objects, budget)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	small, large := measure(4_000, budget), measure(16_000, budget)
	whole := measure(16_000, 1<<30)
	t.Logf("peak live heap above start: %d KiB at %d objects and %d KiB at %d objects in parts (budget %d entries); %d KiB holding its %d entries at once",
		small.PeakLive>>10, small.Objects, large.PeakLive>>10, large.Objects, budget, whole.PeakLive>>10, 2*whole.Transfers)
	if 2*small.Transfers < 2*budget {
		t.Fatalf("the small ledger has only %d entries: it does not test the parts", 2*small.Transfers)
	}
	unbounded := int64(whole.PeakLive) - int64(small.PeakLive)
	if unbounded < 1<<20 {
		t.Fatalf("holding every entry of the larger ledger grew the peak by only %d KiB: too small to tell", unbounded>>10)
	}
	if growth := int64(large.PeakLive) - int64(small.PeakLive); growth > unbounded/2 {
		t.Fatalf("peak heap grew by %d KiB from %d to %d objects (holding everything: %d KiB)", growth>>10, small.Objects, large.Objects, unbounded>>10)
	}
}
