package ledger

import (
	"context"
	"testing"
	"time"

	"github.com/openacquire/acquire/runtime/store"
	"github.com/openacquire/acquire/runtime/store/countstore"
	"github.com/openacquire/acquire/runtime/store/memstore"
)

// countedLedgers are two ledgers (two processes) on one counted bucket.
func countedLedgers(t *testing.T, clock *fakeClock) (*countstore.Counter, *Ledger, *Ledger) {
	t.Helper()
	var c countstore.Counter
	b := store.NewBucket(countstore.Wrap(memstore.New(), &c))
	return &c, newLedger(t, b, WithClock(clock.now), WithInlineBackground()), newLedger(t, b, WithClock(clock.now), WithInlineBackground())
}

// A warm process reads a balance with one get (the index after the
// newest item it has seen, found absent), and still sees what another
// process appended meanwhile.
func TestWarmBalanceIsOneGet(t *testing.T) {
	ctx := context.Background()
	c, l, other := countedLedgers(t, newClock())
	mustAccount(t, l, "a", "0")
	for i := range 5 {
		deposit(t, l, "d"+string(rune('0'+i)), "a", "1")
	}
	if _, err := l.Balance(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	before := c.Snapshot()
	b, err := l.Balance(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Snapshot().Sub(before); got != (countstore.Counts{Get: 1}) || b.Balance != MustParse("5") {
		t.Fatalf("warm balance read cost %v and answered %s, want one get and 5", got, b.Balance)
	}
	deposit(t, other, "d-other", "a", "2") // another process appends
	b, err = l.Balance(ctx, "a")
	if err != nil || b.Balance != MustParse("7") {
		t.Fatalf("after another process's deposit: %s, %v; want 7", b.Balance, err)
	}
	at, err := l.BalanceAt(ctx, "a", time.Now().Add(100*365*24*time.Hour))
	if err != nil || at.Balance != MustParse("7") {
		t.Fatalf("balance at a later time: %s, %v; want 7", at.Balance, err)
	}
}

// A receipt caches no outcome in the transfer record: its conditional
// puts are the resolution and the two settle items, nothing more.
func TestReceiptWritesNoOutcomeCache(t *testing.T) {
	ctx := context.Background()
	clock := newClock()
	c, l, _ := countedLedgers(t, clock)
	mustAccount(t, l, "payer", "0")
	mustAccount(t, l, "payee", "0")
	deposit(t, l, "fund", "payer", "10")
	if _, err := l.Transfer(ctx, TransferRequest{ID: "p", From: "payer", To: "payee", Amount: MustParse("4"), ReceiptBy: clock.now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	before := c.Snapshot()
	res, err := l.Receipt(ctx, "p", MustParse("3"), "")
	if err != nil || res.State != StateReceipted {
		t.Fatalf("receipt: %+v, %v", res, err)
	}
	got := c.Snapshot().Sub(before)
	if got.CondPut != 3 || got.Put != 0 {
		t.Fatalf("receipt wrote %v; want 3 conditional puts (resolution, settle-debit, settle-credit)", got)
	}
	b, err := l.Balance(ctx, "payee")
	if err != nil || b.Balance != MustParse("3") {
		t.Fatalf("payee holds %s, %v", b.Balance, err)
	}
}
