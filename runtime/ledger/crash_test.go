package ledger

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/openacquire/acquire/runtime/store"
)

var errCrash = errors.New("simulated crash")

// crashing returns a ledger that "dies" (stops and returns errCrash) when
// it reaches step: nothing after that point is written by it.
func crashing(t *testing.T, b *store.Bucket, c *fakeClock, step string) *Ledger {
	l := newLedger(t, b, WithClock(c.now))
	l.crashAt = func(s string) error {
		if s == step {
			return errCrash
		}
		return nil
	}
	return l
}

func TestCrashDuringTransfer(t *testing.T) {
	for _, step := range []string{"recorded", "debited", "credited"} {
		for _, finish := range []string{"complete", "retry"} {
			t.Run(step+"/"+finish, func(t *testing.T) {
				eachStore(t, func(t *testing.T, b *store.Bucket) {
					ctx := context.Background()
					c := newClock()
					setup := newLedger(t, b, WithClock(c.now))
					mustAccount(t, setup, "a", "0")
					mustAccount(t, setup, "b", "0")
					deposit(t, setup, "d", "a", "10")
					req := TransferRequest{ID: "x", From: "a", To: "b", Amount: MustParse("4"), Authorisation: "au"}
					if _, err := crashing(t, b, c, step).Transfer(ctx, req); !errors.Is(err, errCrash) {
						t.Fatalf("crash: %v", err)
					}
					if step != "credited" {
						// Left half-applied: Audit must see it.
						if _, err := setup.Audit(ctx); !errors.Is(err, ErrAudit) {
							t.Fatalf("audit of a half-applied transfer: %v", err)
						}
					}
					// Other traffic on both accounts meanwhile.
					deposit(t, setup, "d2", "b", "1")
					// A new process finishes it.
					l2 := newLedger(t, b, WithClock(c.now))
					var res TransferResult
					var err error
					if finish == "complete" {
						res, err = l2.Complete(ctx, "x")
					} else {
						res, err = l2.Transfer(ctx, req)
					}
					if err != nil || res.State != StateApplied {
						t.Fatalf("finish: %+v %v", res, err)
					}
					// Again, from yet another process: nothing more moves.
					l3 := newLedger(t, b, WithClock(c.now))
					if again, err := l3.Transfer(ctx, req); err != nil || again != res {
						t.Fatalf("second finish: %+v %v, want %+v", again, err, res)
					}
					if _, err := l3.Complete(ctx, "x"); err != nil {
						t.Fatal(err)
					}
					want(t, l3, "a", "6", "0", "0", "6")
					want(t, l3, "b", "5", "0", "0", "5")
					audit(t, l3)
				})
			})
		}
	}
}

func TestCrashDuringResolution(t *testing.T) {
	for _, step := range []string{"resolution-recorded", "settled-debit", "settled-credit"} {
		for _, finish := range []string{"complete", "retry", "sweep"} {
			t.Run(step+"/"+finish, func(t *testing.T) {
				eachStore(t, func(t *testing.T, b *store.Bucket) {
					ctx := context.Background()
					c := newClock()
					setup := newLedger(t, b, WithClock(c.now))
					mustAccount(t, setup, "u", "0")
					mustAccount(t, setup, "s", "0")
					deposit(t, setup, "d", "u", "10")
					provisional(t, setup, c, "p", "u", "s", "8")
					if _, err := crashing(t, b, c, step).Receipt(ctx, "p", MustParse("3"), "ok"); !errors.Is(err, errCrash) {
						t.Fatalf("crash: %v", err)
					}
					l2 := newLedger(t, b, WithClock(c.now))
					var err error
					switch finish {
					case "complete":
						var res TransferResult
						res, err = l2.Complete(ctx, "p")
						if err == nil && res.State != StateReceipted {
							t.Fatalf("state %s", res.State)
						}
					case "retry":
						_, err = l2.Receipt(ctx, "p", MustParse("3"), "ok")
					case "sweep":
						// Even after receipt_by, the recorded receipt wins over expiry.
						c.advance(2 * time.Hour)
						_, err = l2.Expire(ctx, c.now())
					}
					if err != nil {
						t.Fatal(err)
					}
					if _, err := l2.Refund(ctx, "p", ""); !errors.Is(err, ErrAlreadyResolved) {
						t.Fatalf("refund after receipt: %v", err)
					}
					want(t, l2, "u", "7", "0", "0", "7")
					want(t, l2, "s", "3", "0", "0", "3")
					audit(t, l2)
				})
			})
		}
	}
}

// TestAuditDetectsDuplicate writes, behind the ledger's back, a second
// credit entry for a transfer: Audit must catch it and the total.
func TestAuditDetectsDuplicate(t *testing.T) {
	ctx := context.Background()
	b, _ := openBucket(t, "mem")
	l := newLedger(t, b)
	mustAccount(t, l, "a", "0")
	deposit(t, l, "d", "a", "5")
	var head Item
	if _, err := b.GetJSON(ctx, itemKey("a", 1), &head); err != nil {
		t.Fatal(err)
	}
	dup := head
	dup.N = 2
	dup.Balance = MustParse("10")
	e := head.Entries[0]
	e.Balance = dup.Balance
	dup.Entries = []Entry{e}
	if _, err := b.PutJSONIfAbsent(ctx, itemKey("a", 2), dup); err != nil {
		t.Fatal(err)
	}
	rep, err := l.Audit(ctx)
	if !errors.Is(err, ErrAudit) || len(rep.Anomalies) < 2 {
		t.Fatalf("audit missed a duplicate: %v %v", err, rep.Anomalies)
	}
}
