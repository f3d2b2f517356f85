package ledger_test

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/openacquire/acquire/runtime/clock"
	"github.com/openacquire/acquire/runtime/ledger"
	"github.com/openacquire/acquire/runtime/store"
	"github.com/openacquire/acquire/runtime/store/faultstore"
	"github.com/openacquire/acquire/runtime/store/memstore"
)

// history is a store with account a (about 2100 items, enough for one
// segment with a segment's worth after it) and b, items a minute apart.
type history struct {
	fs    *faultstore.Store
	clock *clock.Manual
	start time.Time
	n     int
}

const historyDeposits = 2 * ledger.SegmentItems

func newHistory(t *testing.T) *history {
	t.Helper()
	start := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	h := &history{clock: clock.NewManual(start), start: start, n: historyDeposits}
	fs, err := faultstore.New(memstore.New(), faultstore.Options{Point: func(op, key string) string { return op + " " + key }})
	if err != nil {
		t.Fatal(err)
	}
	h.fs = fs
	ctx := context.Background()
	l := h.ledger(t)
	for _, acc := range []string{"a", "b"} {
		if _, err := l.CreateAccount(ctx, ledger.AccountSpec{ID: acc, Owner: "o", Name: acc}); err != nil {
			t.Fatal(err)
		}
	}
	for i := range h.n {
		h.clock.Advance(time.Second)
		req := ledger.TransferRequest{ID: fmt.Sprintf("dep-%d", i), From: ledger.MintAccount, To: "a", Amount: ledger.MustParse("1"), Description: "deposit"}
		if i%10 == 9 {
			req = ledger.TransferRequest{ID: fmt.Sprintf("pay-%d", i), From: "a", To: "b", Amount: ledger.MustParse("2")}
		}
		if _, err := l.Transfer(ctx, req); err != nil {
			t.Fatal(err)
		}
	}
	h.clock.Advance(2 * ledger.CompactAfter)
	return h
}

func (h *history) ledger(t *testing.T) *ledger.Ledger {
	t.Helper()
	l, err := ledger.New(context.Background(), store.NewBucket(h.fs.Process()), ledger.WithClock(h.clock.Now), ledger.WithInlineBackground())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	return l
}

// view is everything a reader sees of the history: balances, balances at
// past times, a's whole statement in pages, and the audit.
func (h *history) view(t *testing.T, l *ledger.Ledger) string {
	t.Helper()
	ctx := context.Background()
	var sb strings.Builder
	for _, acc := range []string{"a", "b", ledger.MintAccount} {
		b, err := l.Balance(ctx, acc)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&sb, "%s=%s item %d\n", acc, b.Balance, b.Item)
	}
	for _, d := range []time.Duration{0, 5 * time.Second, 1000 * time.Second, 1500 * time.Second, 2100 * time.Second} {
		b, err := l.BalanceAt(ctx, "a", h.start.Add(d))
		if err != nil && d != 0 {
			t.Fatal(err)
		}
		fmt.Fprintf(&sb, "a at %v=%s item %d\n", d, b.Balance, b.Item)
	}
	page := ""
	lines := 0
	for {
		p, err := l.Statement(ctx, "a", time.Time{}, time.Time{}, page, 500)
		if err != nil {
			t.Fatal(err)
		}
		for _, ln := range p.Lines {
			fmt.Fprintf(&sb, "%d %s %s %s|", ln.Item, ln.Transfer, ln.Leg, ln.Balance)
			lines++
		}
		if page = p.Next; page == "" {
			break
		}
	}
	rep, err := l.Audit(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Total != "0.000000" || len(rep.Anomalies) != 0 {
		t.Fatalf("audit: %+v", rep)
	}
	rep.Anomalies = nil
	fmt.Fprintf(&sb, "\n%d lines; audit %+v\n", lines, rep)
	return sb.String()
}

// itemObjects counts a's item objects left in the store.
func (h *history) itemObjects(t *testing.T) int {
	t.Helper()
	keys, err := store.NewBucket(h.fs.Inner()).ListAll(context.Background(), "ledger/accounts/a/items/", 10_000)
	if err != nil {
		t.Fatal(err)
	}
	return len(keys)
}

// Compaction changes where items live, not what anyone reads: balances,
// past-time balances, statements and the audit answer the same, in the
// compacting process and in a fresh one, and the log goes on growing.
func TestCompactionReadsTheSame(t *testing.T) {
	ctx := context.Background()
	h := newHistory(t)
	l := h.ledger(t)
	before := h.view(t, l)
	objects := h.itemObjects(t)
	if n, err := l.Compact(ctx, "a"); err != nil || n != 1 {
		t.Fatalf("compacted %d segments of a, %v; want 1", n, err)
	}
	if n, err := l.Compact(ctx, "a"); err != nil || n != 0 {
		t.Fatalf("compacting again: %d, %v", n, err)
	}
	if got := h.itemObjects(t); got != objects-(ledger.SegmentItems-1) {
		t.Fatalf("%d item objects after compaction, want %d", got, objects-(ledger.SegmentItems-1))
	}
	if after := h.view(t, l); after != before {
		t.Fatalf("the compacting process reads differently:\n%s\nwant\n%s", after, before)
	}
	if fresh := h.view(t, h.ledger(t)); fresh != before {
		t.Fatalf("a fresh process reads differently:\n%s\nwant\n%s", fresh, before)
	}
	if _, err := l.Transfer(ctx, ledger.TransferRequest{ID: "after", From: "a", To: "b", Amount: ledger.MustParse("1")}); err != nil {
		t.Fatal(err)
	}
	// A retry of a transfer whose items are compacted is found, not applied again.
	if r, err := h.ledger(t).Transfer(ctx, ledger.TransferRequest{ID: "pay-9", From: "a", To: "b", Amount: ledger.MustParse("2")}); err != nil || r.State != ledger.StateApplied {
		t.Fatalf("retry of a compacted transfer: %+v, %v", r, err)
	}
	b, err := h.ledger(t).Balance(ctx, "b")
	if err != nil || b.Balance != ledger.MustParse(fmt.Sprint(2*(historyDeposits/10)+1)) {
		t.Fatalf("b holds %s, %v", b.Balance, err)
	}
}

// A process that last saw the account before others appended and
// compacted finds its stale head's successor in a segment, catches up
// and appends at the true end: the log stays one chain.
func TestStaleProcessAfterCompaction(t *testing.T) {
	ctx := context.Background()
	h := newHistory(t)
	stale := h.ledger(t)
	if _, err := stale.Balance(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	// Another process appends two more segments' worth, and compacts.
	other := h.ledger(t)
	for i := range 2 * ledger.SegmentItems {
		h.clock.Advance(time.Second)
		if _, err := other.Transfer(ctx, ledger.TransferRequest{ID: fmt.Sprintf("more-%d", i), From: ledger.MintAccount, To: "a", Amount: ledger.MustParse("1")}); err != nil {
			t.Fatal(err)
		}
	}
	h.clock.Advance(2 * ledger.CompactAfter)
	if n, err := other.Compact(ctx, "a"); err != nil || n != 3 {
		t.Fatalf("compacted %d, %v; want 3", n, err)
	}
	if _, err := stale.Transfer(ctx, ledger.TransferRequest{ID: "late", From: "a", To: "b", Amount: ledger.MustParse("1")}); err != nil {
		t.Fatal(err)
	}
	for _, l := range []*ledger.Ledger{stale, other, h.ledger(t)} {
		b, err := l.Balance(ctx, "b")
		if err != nil || b.Balance != ledger.MustParse(fmt.Sprint(2*(historyDeposits/10)+1)) {
			t.Fatalf("b holds %s, %v", b.Balance, err)
		}
	}
	h.view(t, h.ledger(t)) // audits: one chain, every transfer once
}

// Compaction is crash-safe: its segment put and its deletes, each refused,
// landed with the answer lost, or the process dying before or after it,
// then compaction run again (on a new process after a crash) leave the
// same view as a clean run.
func TestCompactionUnderFaults(t *testing.T) {
	clean := newHistory(t)
	want := clean.view(t, clean.ledger(t))
	points := []string{
		"put-if-absent ledger/accounts/a/segments/00000000000000000000",
		"delete ledger/accounts/a/items/00000000000000000001",
		"delete ledger/accounts/a/items/00000000000000000500",
		"delete ledger/accounts/a/items/00000000000000001023",
	}
	faults := []faultstore.Fault{faultstore.FailBefore, faultstore.FailAfter, faultstore.CrashBefore, faultstore.CrashAfter}
	for _, pt := range points {
		for _, f := range faults {
			t.Run(string(f)+" "+pt, func(t *testing.T) {
				ctx := context.Background()
				h := newHistory(t)
				if err := h.fs.Force(pt, f); err != nil {
					t.Fatal(err)
				}
				l := h.ledger(t)
				for attempt := 0; ; attempt++ {
					if attempt > 3 {
						t.Fatal("compaction never finished")
					}
					if _, err := l.Compact(ctx, "a"); err == nil {
						break
					}
					l = h.ledger(t) // a new process (the old one may have died)
				}
				if got := h.itemObjects(t); got != historyDeposits+1-(ledger.SegmentItems-1) {
					t.Fatalf("%d item objects left", got)
				}
				if got := h.view(t, h.ledger(t)); !reflect.DeepEqual(got, want) {
					t.Fatalf("after %s at %s:\n%s\nwant\n%s", f, pt, got, want)
				}
			})
		}
	}
}

// CompactAll visits every account and stops at its budget.
func TestCompactAll(t *testing.T) {
	ctx := context.Background()
	h := newHistory(t)
	before := h.view(t, h.ledger(t))
	if n, err := h.ledger(t).CompactAll(ctx, 0); err != nil || n != 0 {
		t.Fatalf("budget 0: %d, %v", n, err)
	}
	if n, err := h.ledger(t).CompactAll(ctx, 100); err != nil || n != 1 {
		t.Fatalf("compacted %d segments, %v; want 1 (account a)", n, err)
	}
	if after := h.view(t, h.ledger(t)); after != before {
		t.Fatalf("reads differ after CompactAll:\n%s\nwant\n%s", after, before)
	}
}
