package ledger

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/openacquire/acquire/runtime/store"
)

// The ledger's bound is reachable: the mint may issue MaxAmount and any
// overdraft adds to what can pile up in one account. These tests take
// accounts to the bound and check that a transfer whose credit would not
// fit is refused before anything moves (issue 17 finding 1).

// fullPayee gives "full" the whole of MaxAmount from the mint and "payer"
// an overdraft of 10 (granting one is an admin's act in accounting).
func fullPayee(t *testing.T, l *Ledger) {
	t.Helper()
	mustAccount(t, l, "payer", "10")
	mustAccount(t, l, "full", "0")
	deposit(t, l, "fill", "full", MaxAmount.String())
	want(t, l, "full", MaxAmount.String(), "0", "0", MaxAmount.String())
}

func TestTransferRefusedWhenThePayeeCannotTakeIt(t *testing.T) {
	for _, kind := range []string{"direct", "provisional"} {
		t.Run(kind, func(t *testing.T) {
			eachStore(t, func(t *testing.T, b *store.Bucket) {
				ctx := context.Background()
				c := newClock()
				l := newLedger(t, b, WithClock(c.now))
				fullPayee(t, l)
				req := TransferRequest{ID: "over", From: "payer", To: "full", Amount: MustParse("5"), Authorisation: "au"}
				if kind == "provisional" { // its receivable fits; a full receipt of it would not
					req.ReceiptBy = c.now().Add(time.Hour)
				}
				res, err := l.Transfer(ctx, req)
				if !errors.Is(err, ErrPayeeLimit) || res.State != StateRefused {
					t.Fatalf("transfer into a full account: %+v %v, want refused with ErrPayeeLimit", res, err)
				}
				want(t, l, "payer", "0", "0", "0", "10")
				want(t, l, "full", MaxAmount.String(), "0", "0", MaxAmount.String())
				// The refusal is final and says why, from any process.
				l2 := newLedger(t, b, WithClock(c.now))
				if again, err := l2.Transfer(ctx, req); !errors.Is(err, ErrPayeeLimit) || again != res {
					t.Fatalf("retry: %+v %v, want %+v", again, err, res)
				}
				page, err := l2.Statement(ctx, "payer", time.Time{}, c.now().Add(time.Hour), "", 10)
				if err != nil {
					t.Fatal(err)
				}
				last := page.Lines[len(page.Lines)-1]
				if last.Leg != LegRefused || last.Refusal != RefusalPayeeLimit || last.Transfer != "over" {
					t.Fatalf("payer's last line %+v, want the refusal of over", last)
				}
				rep := audit(t, l2)
				if rep.Refused != 1 {
					t.Fatalf("audit: %+v", rep)
				}
			})
		})
	}
}

func TestProvisionalRefusedWhenThePayeesReceivableIsFull(t *testing.T) {
	eachStore(t, func(t *testing.T, b *store.Bucket) {
		ctx := context.Background()
		c := newClock()
		l := newLedger(t, b, WithClock(c.now))
		mustAccount(t, l, "payer", "10")
		mustAccount(t, l, "owed", "0")
		// The mint promises the whole bound to "owed".
		_, err := l.Transfer(ctx, TransferRequest{ID: "promise", From: MintAccount, To: "owed", Amount: MaxAmount,
			ReceiptBy: c.now().Add(24 * time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		res, err := l.Transfer(ctx, TransferRequest{ID: "one-more", From: "payer", To: "owed", Amount: MustParse("0.000001"),
			ReceiptBy: c.now().Add(time.Hour)})
		if !errors.Is(err, ErrPayeeLimit) || res.State != StateRefused {
			t.Fatalf("provisional into a full receivable: %+v %v", res, err)
		}
		want(t, l, "payer", "0", "0", "0", "10")
		want(t, l, "owed", "0", "0", MaxAmount.String(), "0")
		audit(t, l)
	})
}

// A receipt the payee's balance cannot take is refused before its
// resolution is recorded; the transfer stays pending and can be refunded.
func TestReceiptRefusedWhenThePayeesBalanceCannotTakeIt(t *testing.T) {
	eachStore(t, func(t *testing.T, b *store.Bucket) {
		ctx := context.Background()
		c := newClock()
		l := newLedger(t, b, WithClock(c.now))
		mustAccount(t, l, "payer", "5")
		mustAccount(t, l, "shop", "0")
		provisional(t, l, c, "hold", "payer", "shop", "5")
		deposit(t, l, "fill", "shop", MaxAmount.String()) // the mint is at -MaxAmount
		if _, err := l.Receipt(ctx, "hold", MustParse("5"), "shop"); !errors.Is(err, ErrPayeeLimit) {
			t.Fatalf("receipt beyond the bound: %v, want ErrPayeeLimit", err)
		}
		want(t, l, "payer", "0", "5", "0", "0")
		want(t, l, "shop", MaxAmount.String(), "0", "5", MaxAmount.String())
		audit(t, l) // nothing half-settled
		if res, err := l.Refund(ctx, "hold", "shop"); err != nil || res.State != StateRefunded {
			t.Fatalf("refund: %+v %v", res, err)
		}
		want(t, l, "payer", "0", "0", "0", "5")
		audit(t, l)
	})
}

// One transfer the sweep cannot finish must not stop it: here a
// provisional transfer was debited by a process that then died, and its
// payee's receivable was filled to the bound before anyone finished it, so
// its credit cannot apply. Later holds are still released, and the stuck
// one is logged, counted and retried by the next sweep.
func TestExpirySweepGoesOnPastATransferItCannotFinish(t *testing.T) {
	eachStore(t, func(t *testing.T, b *store.Bucket) {
		ctx := context.Background()
		c := newClock()
		var logs bytes.Buffer
		l := newLedger(t, b, WithClock(c.now), WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
		for _, acc := range []string{"a", "b", "c", "d"} {
			mustAccount(t, l, acc, "0")
		}
		deposit(t, l, "da", "a", "10")
		deposit(t, l, "dc", "c", "10")
		stuck := TransferRequest{ID: "stuck", From: "a", To: "b", Amount: MustParse("5"), ReceiptBy: c.now().Add(time.Minute)}
		if _, err := crashing(t, b, c, "debited").Transfer(ctx, stuck); !errors.Is(err, errCrash) {
			t.Fatalf("crash: %v", err)
		}
		_, err := l.Transfer(ctx, TransferRequest{ID: "fill", From: MintAccount, To: "b", Amount: MaxAmount.Neg().Neg(),
			ReceiptBy: c.now().Add(24 * time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		for i, id := range []string{"later-1", "later-2"} {
			_, err := l.Transfer(ctx, TransferRequest{ID: id, From: "c", To: "d", Amount: MustParse("3"),
				ReceiptBy: c.now().Add(time.Duration(2+i) * time.Minute)})
			if err != nil {
				t.Fatal(err)
			}
		}
		want(t, l, "c", "10", "6", "0", "4")
		c.advance(10 * time.Minute)

		n, err := l.Expire(ctx, c.now())
		if n != 2 || !errors.Is(err, ErrSweepIncomplete) {
			t.Fatalf("sweep: %d expired, %v; want 2 and ErrSweepIncomplete", n, err)
		}
		want(t, l, "c", "10", "0", "0", "10") // the later holds are released
		want(t, l, "d", "0", "0", "0", "0")
		if !strings.Contains(logs.String(), "stuck") || !strings.Contains(logs.String(), "level=WARN") {
			t.Fatalf("the stuck transfer is not logged: %q", logs.String())
		}
		// It stays in the index: the next sweep tries it again.
		logs.Reset()
		if _, err := l.Expire(ctx, c.now()); !errors.Is(err, ErrSweepIncomplete) || !strings.Contains(logs.String(), "stuck") {
			t.Fatalf("second sweep: %v %q", err, logs.String())
		}
		// Once the payee's receivable falls, a sweep finishes it.
		if _, err := l.Void(ctx, "fill", ""); err != nil {
			t.Fatal(err)
		}
		if _, err := l.Expire(ctx, c.now()); err != nil {
			t.Fatalf("sweep after the payee has room: %v", err)
		}
		want(t, l, "a", "10", "0", "0", "10")
		want(t, l, "b", "0", "0", "0", "0")
		audit(t, l)
	})
}
