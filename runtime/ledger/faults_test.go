package ledger_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/openacquire/acquire/runtime/clock"
	"github.com/openacquire/acquire/runtime/ledger"
	"github.com/openacquire/acquire/runtime/store"
	"github.com/openacquire/acquire/runtime/store/faultstore"
	"github.com/openacquire/acquire/runtime/store/memstore"
)

// These tests put every single write of a ledger operation through each
// store fault in turn: refused before it lands, landed with its answer
// lost, and the process dying just before or just after it. After the
// fault the client retries (on the same ledger when the process lives, on
// a new one when it died) and the end state must be the one a clean run
// reaches: same outcome, same balances, a clean Audit. This is the store's
// view of every crash row of the design note, including "item write
// returned an error".

// faultOp is one ledger operation a client may retry as a whole; it
// answers a summary of its outcome to compare with a clean run's.
type faultOp func(ctx context.Context, l *ledger.Ledger, c *clock.Manual) (string, error)

var receiptBy = time.Date(2030, 1, 1, 1, 0, 0, 0, time.UTC)

func provisionalReq(id string) ledger.TransferRequest {
	return ledger.TransferRequest{ID: id, From: "a", To: "b", Amount: ledger.MustParse("5"), Description: "hold", ReceiptBy: receiptBy}
}

func outcome(r ledger.TransferResult) string {
	s := string(r.State) + " " + r.Amount.String()
	if r.Resolution != nil {
		s += " " + r.Resolution.Kind + " " + r.Resolution.Receipted.String()
	}
	return s
}

var faultOps = map[string]faultOp{
	"direct": func(ctx context.Context, l *ledger.Ledger, _ *clock.Manual) (string, error) {
		r, err := l.Transfer(ctx, ledger.TransferRequest{ID: "x", From: "a", To: "b", Amount: ledger.MustParse("4")})
		return outcome(r), err
	},
	"refused": func(ctx context.Context, l *ledger.Ledger, _ *clock.Manual) (string, error) {
		r, err := l.Transfer(ctx, ledger.TransferRequest{ID: "x", From: "a", To: "b", Amount: ledger.MustParse("11")})
		if errors.Is(err, ledger.ErrInsufficientFunds) {
			err = nil
		}
		return outcome(r), err
	},
	"receipt": func(ctx context.Context, l *ledger.Ledger, _ *clock.Manual) (string, error) {
		if _, err := l.Transfer(ctx, provisionalReq("p")); err != nil {
			return "", err
		}
		r, err := l.Receipt(ctx, "p", ledger.MustParse("3"), "payee")
		return outcome(r), err
	},
	"refund": func(ctx context.Context, l *ledger.Ledger, _ *clock.Manual) (string, error) {
		if _, err := l.Transfer(ctx, provisionalReq("p")); err != nil {
			return "", err
		}
		r, err := l.Refund(ctx, "p", "payee")
		return outcome(r), err
	},
	"expiry": func(ctx context.Context, l *ledger.Ledger, c *clock.Manual) (string, error) {
		if _, err := l.Transfer(ctx, provisionalReq("p")); err != nil && !errors.Is(err, ledger.ErrInvalid) {
			return "", err // ErrInvalid: a retry after the clock passed receipt_by found no record
		}
		if c.Now().Before(receiptBy) {
			c.Advance(2 * time.Hour)
		}
		if _, err := l.Expire(ctx, c.Now()); err != nil {
			return "", err
		}
		r, err := l.Complete(ctx, "p")
		return outcome(r), err
	},
}

// faultWorld is one fresh store with accounts a (10 units) and b.
type faultWorld struct {
	fs     *faultstore.Store
	clock  *clock.Manual
	writes []string // every write's point, in order, while recording
	mu     sync.Mutex
	record bool
}

func newFaultWorld(t *testing.T) *faultWorld {
	t.Helper()
	w := &faultWorld{clock: clock.NewManual(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))}
	fs, err := faultstore.New(memstore.New(), faultstore.Options{Point: func(op, key string) string {
		pt := op + " " + key
		w.mu.Lock()
		if w.record && op != faultstore.OpGet && op != faultstore.OpList {
			w.writes = append(w.writes, pt)
		}
		w.mu.Unlock()
		return pt
	}})
	if err != nil {
		t.Fatal(err)
	}
	w.fs = fs
	ctx := context.Background()
	l := w.ledger(t)
	for _, acc := range []string{"a", "b"} {
		if _, err := l.CreateAccount(ctx, ledger.AccountSpec{ID: acc, Owner: "o", Name: acc}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := l.Transfer(ctx, ledger.TransferRequest{ID: "dep", From: ledger.MintAccount, To: "a", Amount: ledger.MustParse("10")}); err != nil {
		t.Fatal(err)
	}
	return w
}

// ledger starts a process: a fresh ledger on a fresh handle of the store.
func (w *faultWorld) ledger(t *testing.T) *ledger.Ledger {
	t.Helper()
	l, err := ledger.New(context.Background(), store.NewBucket(w.fs.Process()), ledger.WithClock(w.clock.Now))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	return l
}

func (w *faultWorld) state(t *testing.T) string {
	t.Helper()
	l := w.ledger(t)
	ctx := context.Background()
	rep, err := l.Audit(ctx)
	if err != nil || rep.Total != "0.000000" {
		t.Fatalf("audit: %v %+v", err, rep)
	}
	s := ""
	for _, acc := range []string{"a", "b"} {
		b, err := l.Balance(ctx, acc)
		if err != nil {
			t.Fatal(err)
		}
		s += fmt.Sprintf("%s=%s/%s/%s ", acc, b.Balance, b.Liability, b.Receivable)
	}
	return s
}

func TestEveryWriteOfEveryOperationFails(t *testing.T) {
	faults := []faultstore.Fault{faultstore.FailBefore, faultstore.FailAfter, faultstore.CrashBefore, faultstore.CrashAfter}
	for name, op := range faultOps {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			clean := newFaultWorld(t)
			l := clean.ledger(t)
			clean.record = true // after New: its own writes are setup
			want, err := op(ctx, l, clean.clock)
			if err != nil {
				t.Fatal(err)
			}
			_ = l.Close() // background writes are part of the operation's writes
			clean.record = false
			wantState := clean.state(t)
			if len(clean.writes) < 2 {
				t.Fatalf("only %d writes recorded: %v", len(clean.writes), clean.writes)
			}
			for _, pt := range clean.writes {
				for _, f := range faults {
					t.Run(string(f)+" "+pt, func(t *testing.T) {
						w := newFaultWorld(t)
						if err := w.fs.Force(pt, f); err != nil {
							t.Fatal(err)
						}
						got, state := w.runWithRetries(t, op)
						if got != want || state != wantState {
							t.Fatalf("after %s at %s: outcome %q, state %s; a clean run: %q, %s", f, pt, got, state, want, wantState)
						}
					})
				}
			}
		})
	}
}

// runWithRetries runs op as a client would: on an error it retries, on the
// same process while it lives, on a new one once it died.
func (w *faultWorld) runWithRetries(t *testing.T, op faultOp) (string, string) {
	t.Helper()
	ctx := context.Background()
	p := w.fs.Process()
	l, err := ledger.New(ctx, store.NewBucket(p), ledger.WithClock(w.clock.Now))
	if err != nil {
		t.Fatal(err)
	}
	for attempt := 0; ; attempt++ {
		got, err := op(ctx, l, w.clock)
		if err == nil {
			_ = l.Close()
			return got, w.state(t)
		}
		if attempt == 3 {
			t.Fatalf("still failing after %d retries: %v", attempt, err)
		}
		if !errors.Is(err, store.ErrTransient) && !errors.Is(err, faultstore.ErrCrashed) {
			t.Fatalf("a store fault surfaced as %v", err)
		}
		if p.Crashed() {
			_ = l.Close()
			p = w.fs.Process()
			if l, err = ledger.New(ctx, store.NewBucket(p), ledger.WithClock(w.clock.Now)); err != nil {
				t.Fatal(err)
			}
		}
	}
}
