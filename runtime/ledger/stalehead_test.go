package ledger_test

import (
	"context"
	"testing"
	"time"

	"github.com/openacquire/acquire/runtime/ledger"
	"github.com/openacquire/acquire/runtime/store"
	"github.com/openacquire/acquire/runtime/store/memstore"
)

// Found by the ledger simulation (runtime/ledger/sim): a settlement
// judged on a process's stale view of the payee's log. Process 1 last saw
// b before a provisional credit that process 2 applied; the record's cached
// outcome then lets process 1 skip re-applying the legs, so its first
// write to b is the settle-credit, which on the stale head takes b's
// receivable below zero. That must be judged on the newest item, not
// answered as an internal error.
func TestSettlementOnAStaleViewOfThePayee(t *testing.T) {
	ctx := context.Background()
	b := store.NewBucket(memstore.New())
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	open := func() *ledger.Ledger {
		l, err := ledger.New(ctx, b, ledger.WithClock(clock))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = l.Close() })
		return l
	}
	l1, l2 := open(), open()
	for _, acc := range []string{"a", "b"} {
		if _, err := l1.CreateAccount(ctx, ledger.AccountSpec{ID: acc, Owner: "o", Name: acc}); err != nil {
			t.Fatal(err)
		}
	}
	for _, id := range []string{"d1", "d2"} { // process 1 now knows b's head
		if _, err := l1.Transfer(ctx, ledger.TransferRequest{ID: id, From: ledger.MintAccount, To: map[string]string{"d1": "a", "d2": "b"}[id], Amount: ledger.MustParse("10")}); err != nil {
			t.Fatal(err)
		}
	}
	p := ledger.TransferRequest{ID: "p", From: "a", To: "b", Amount: ledger.MustParse("4"), ReceiptBy: now.Add(time.Hour)}
	if _, err := l2.Transfer(ctx, p); err != nil {
		t.Fatal(err)
	}
	if _, err := l2.Complete(ctx, "p"); err != nil { // caches the outcome in the record
		t.Fatal(err)
	}
	_ = l2.Close()
	res, err := l1.Receipt(ctx, "p", ledger.MustParse("3"), "payee")
	if err != nil || res.State != ledger.StateReceipted {
		t.Fatalf("receipt on a process with a stale view of the payee: %+v, %v", res, err)
	}
	rep, err := l1.Audit(ctx)
	if err != nil {
		t.Fatalf("audit: %v %q", err, rep.Anomalies)
	}
	bal, err := l1.Balance(ctx, "b")
	if err != nil || bal.Balance != ledger.MustParse("13") || !bal.Receivable.IsZero() {
		t.Fatalf("b: %+v %v", bal, err)
	}
}
