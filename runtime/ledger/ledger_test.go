package ledger

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/openacquire/acquire/runtime/store"
)

// fakeClock is a settable clock shared by ledgers in one test.
type fakeClock struct{ ns atomic.Int64 }

func newClock() *fakeClock {
	c := &fakeClock{}
	c.ns.Store(time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC).UnixNano())
	return c
}
func (c *fakeClock) now() time.Time          { return time.Unix(0, c.ns.Load()).UTC() }
func (c *fakeClock) advance(d time.Duration) { c.ns.Add(int64(d)) }

var memSeq atomic.Int64

var storeKinds = []string{"mem", "file"}

func openBucket(t testing.TB, kind string) (*store.Bucket, string) {
	t.Helper()
	var url string
	switch kind {
	case "mem":
		url = fmt.Sprintf("mem://ledgertest-%d", memSeq.Add(1))
	case "file":
		url = "file://" + t.TempDir()
	}
	b, err := store.Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return b, url
}

func newLedger(t testing.TB, b *store.Bucket, opts ...Option) *Ledger {
	t.Helper()
	l, err := New(context.Background(), b, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	return l
}

// eachStore runs f on a fresh mem:// and a fresh file:// bucket.
func eachStore(t *testing.T, f func(t *testing.T, b *store.Bucket)) {
	for _, k := range storeKinds {
		t.Run(k, func(t *testing.T) {
			b, _ := openBucket(t, k)
			f(t, b)
		})
	}
}

func mustAccount(t testing.TB, l *Ledger, id string, overdraft string) {
	t.Helper()
	if _, err := l.CreateAccount(context.Background(), AccountSpec{ID: id, Owner: "owner-" + id, Name: id, Overdraft: MustParse(overdraft)}); err != nil {
		t.Fatal(err)
	}
}

func deposit(t testing.TB, l *Ledger, id, acc, amount string) {
	t.Helper()
	_, err := l.Transfer(context.Background(), TransferRequest{ID: id, From: MintAccount, To: acc, Amount: MustParse(amount), Description: "deposit"})
	if err != nil {
		t.Fatal(err)
	}
}

// want checks an account's balance, liability, receivable and available.
func want(t testing.TB, l *Ledger, acc, balance, liability, receivable, avail string) {
	t.Helper()
	b, err := l.Balance(context.Background(), acc)
	if err != nil {
		t.Fatal(err)
	}
	got := [4]Amount{b.Balance, b.Liability, b.Receivable, b.Available}
	exp := [4]Amount{MustParse(balance), MustParse(liability), MustParse(receivable), MustParse(avail)}
	if got != exp {
		t.Fatalf("%s: balance/liability/receivable/available = %v, want %v", acc, got, exp)
	}
}

func audit(t testing.TB, l *Ledger) AuditReport {
	t.Helper()
	rep, err := l.Audit(context.Background())
	if err != nil {
		t.Fatalf("audit: %v\n%v", err, rep.Anomalies)
	}
	if rep.Total != "0.000000" {
		t.Fatalf("total %s", rep.Total)
	}
	return rep
}

func TestDirectTransferAndInsufficientFunds(t *testing.T) {
	eachStore(t, func(t *testing.T, b *store.Bucket) {
		ctx := context.Background()
		l := newLedger(t, b)
		mustAccount(t, l, "alice", "10")
		mustAccount(t, l, "bob", "0")
		deposit(t, l, "dep1", "alice", "100.5")
		want(t, l, "alice", "100.5", "0", "0", "110.5")
		want(t, l, MintAccount, "-100.5", "0", "0", "-100.5")

		res, err := l.Transfer(ctx, TransferRequest{ID: "t1", From: "alice", To: "bob", Amount: MustParse("50.25"), Authorisation: "auth-1"})
		if err != nil || res.State != StateApplied {
			t.Fatalf("t1: %+v %v", res, err)
		}
		want(t, l, "alice", "50.25", "0", "0", "60.25")
		want(t, l, "bob", "50.25", "0", "0", "50.25")

		// One micro-unit beyond what is available: typed error, no change.
		_, err = l.Transfer(ctx, TransferRequest{ID: "t2", From: "alice", To: "bob", Amount: MustParse("60.250001")})
		if !errors.Is(err, ErrInsufficientFunds) {
			t.Fatalf("t2: %v, want ErrInsufficientFunds", err)
		}
		want(t, l, "alice", "50.25", "0", "0", "60.25")
		want(t, l, "bob", "50.25", "0", "0", "50.25")

		// Exactly what is available (using the whole overdraft) succeeds.
		if _, err := l.Transfer(ctx, TransferRequest{ID: "t3", From: "alice", To: "bob", Amount: MustParse("60.25")}); err != nil {
			t.Fatal(err)
		}
		want(t, l, "alice", "-10", "0", "0", "0")
		want(t, l, "bob", "110.5", "0", "0", "110.5")

		// The refusal is final: funds arriving later do not revive t2.
		deposit(t, l, "dep2", "alice", "1000")
		_, err = l.Transfer(ctx, TransferRequest{ID: "t2", From: "alice", To: "bob", Amount: MustParse("60.250001")})
		if !errors.Is(err, ErrInsufficientFunds) {
			t.Fatalf("t2 retried: %v, want ErrInsufficientFunds again", err)
		}
		if _, err := l.Complete(ctx, "t2"); !errors.Is(err, ErrInsufficientFunds) {
			t.Fatalf("complete t2: %v", err)
		}
		want(t, l, "alice", "990", "0", "0", "1000")
		rep := audit(t, l)
		if rep.Refused != 1 || rep.Applied != 4 {
			t.Fatalf("audit counts %+v", rep)
		}
	})
}

func TestTransferValidation(t *testing.T) {
	ctx := context.Background()
	b, _ := openBucket(t, "mem")
	l := newLedger(t, b)
	mustAccount(t, l, "a", "0")
	mustAccount(t, l, "b", "0")
	bad := []TransferRequest{
		{ID: "x", From: "a", To: "a", Amount: MustParse("1")},
		{ID: "x", From: "a", To: "b", Amount: MustParse("0")},
		{ID: "x", From: "a", To: "b", Amount: MustParse("-1")},
		{ID: "../x", From: "a", To: "b", Amount: MustParse("1")},
		{ID: "", From: "a", To: "b", Amount: MustParse("1")},
		{ID: "x", From: "a", To: "b", Amount: MustParse("1"), ReceiptBy: time.Now().Add(-time.Hour)},
	}
	for i, r := range bad {
		if _, err := l.Transfer(ctx, r); !errors.Is(err, ErrInvalid) {
			t.Errorf("case %d: %v, want ErrInvalid", i, err)
		}
	}
	if _, err := l.Transfer(ctx, TransferRequest{ID: "y", From: "a", To: "nobody", Amount: MustParse("1")}); !errors.Is(err, ErrNoAccount) {
		t.Errorf("unknown account: %v", err)
	}
	if _, err := l.CreateAccount(ctx, AccountSpec{ID: MintAccount}); !errors.Is(err, ErrInvalid) {
		t.Errorf("creating the mint: %v", err)
	}
	if _, err := l.CreateAccount(ctx, AccountSpec{ID: "a", Owner: "someone else"}); !errors.Is(err, ErrAccountExists) {
		t.Errorf("account id reuse: %v", err)
	}
	if _, err := l.CreateAccount(ctx, AccountSpec{ID: "a", Owner: "owner-a", Name: "a"}); err != nil {
		t.Errorf("idempotent account create: %v", err)
	}
	audit(t, l)
}

func TestIdempotentRetryAndIDConflict(t *testing.T) {
	eachStore(t, func(t *testing.T, b *store.Bucket) {
		ctx := context.Background()
		l := newLedger(t, b)
		mustAccount(t, l, "a", "0")
		mustAccount(t, l, "b", "0")
		deposit(t, l, "d", "a", "10")
		req := TransferRequest{ID: "pay-1", From: "a", To: "b", Amount: MustParse("3"), Description: "x", Authorisation: "sig"}
		first, err := l.Transfer(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		// Retries from this ledger and from a fresh one (another process).
		l2 := newLedger(t, b)
		for _, lx := range []*Ledger{l, l2, l} {
			again, err := lx.Transfer(ctx, req)
			if err != nil || again != first {
				t.Fatalf("retry: %+v %v, want %+v", again, err, first)
			}
		}
		want(t, l, "a", "7", "0", "0", "7")
		want(t, l, "b", "3", "0", "0", "3")
		for _, changed := range []TransferRequest{
			{ID: "pay-1", From: "a", To: "b", Amount: MustParse("4"), Description: "x", Authorisation: "sig"},
			{ID: "pay-1", From: "b", To: "a", Amount: MustParse("3"), Description: "x", Authorisation: "sig"},
			{ID: "pay-1", From: "a", To: "b", Amount: MustParse("3"), Description: "y", Authorisation: "sig"},
			{ID: "pay-1", From: "a", To: "b", Amount: MustParse("3"), Description: "x", Authorisation: "sig2"},
			{ID: "pay-1", From: "a", To: "b", Amount: MustParse("3"), Description: "x", Authorisation: "sig", ReceiptBy: time.Now().Add(time.Hour)},
		} {
			if _, err := l2.Transfer(ctx, changed); !errors.Is(err, ErrIDConflict) {
				t.Fatalf("changed content %+v: %v, want ErrIDConflict", changed, err)
			}
		}
		want(t, l, "a", "7", "0", "0", "7")
		audit(t, l)
	})
}

func TestConcurrentRetriesOfOneID(t *testing.T) {
	eachStore(t, func(t *testing.T, b *store.Bucket) {
		ctx := context.Background()
		setup := newLedger(t, b)
		mustAccount(t, setup, "a", "0")
		mustAccount(t, setup, "b", "0")
		deposit(t, setup, "d", "a", "100")
		// 8 independent ledgers (as if 8 processes) race the same ids.
		var ls []*Ledger
		for range 8 {
			ls = append(ls, newLedger(t, b))
		}
		for i := range 20 {
			req := TransferRequest{ID: fmt.Sprintf("same-%d", i), From: "a", To: "b", Amount: MustParse("1")}
			var wg sync.WaitGroup
			results := make([]TransferResult, len(ls))
			for j, lx := range ls {
				wg.Add(1)
				go func() {
					defer wg.Done()
					r, err := lx.Transfer(ctx, req)
					if err != nil {
						t.Error(err)
					}
					results[j] = r
				}()
			}
			wg.Wait()
			for _, r := range results[1:] {
				if r != results[0] {
					t.Fatalf("racing retries disagree: %+v vs %+v", r, results[0])
				}
			}
		}
		want(t, setup, "a", "80", "0", "0", "80")
		want(t, setup, "b", "20", "0", "0", "20")
		audit(t, setup)
	})
}

func TestOverdraftLimit(t *testing.T) {
	eachStore(t, func(t *testing.T, b *store.Bucket) {
		ctx := context.Background()
		l := newLedger(t, b)
		mustAccount(t, l, "a", "50")
		mustAccount(t, l, "b", "0")
		if _, err := l.CreateAccount(ctx, AccountSpec{ID: "neg", Overdraft: MustParse("-1")}); !errors.Is(err, ErrOverdraft) {
			t.Fatalf("negative overdraft at creation: %v", err)
		}
		if _, err := l.Transfer(ctx, TransferRequest{ID: "t", From: "a", To: "b", Amount: MustParse("30")}); err != nil {
			t.Fatal(err)
		}
		want(t, l, "a", "-30", "0", "0", "20")
		if _, err := l.SetOverdraft(ctx, "a", MustParse("-1"), ""); !errors.Is(err, ErrOverdraft) {
			t.Fatalf("negative: %v", err)
		}
		if _, err := l.SetOverdraft(ctx, "a", MustParse("29.999999"), ""); !errors.Is(err, ErrOverdraft) {
			t.Fatalf("below what the balance uses: %v", err)
		}
		want(t, l, "a", "-30", "0", "0", "20")
		bal, err := l.SetOverdraft(ctx, "a", MustParse("30"), "admin")
		if err != nil || bal.Available != Zero || bal.Overdraft != MustParse("30") {
			t.Fatalf("set to exactly the usage: %+v %v", bal, err)
		}
		if _, err := l.Transfer(ctx, TransferRequest{ID: "t2", From: "a", To: "b", Amount: MustParse("0.000001")}); !errors.Is(err, ErrInsufficientFunds) {
			t.Fatalf("beyond the lowered limit: %v", err)
		}
		if _, err := l.SetOverdraft(ctx, MintAccount, MustParse("1"), ""); !errors.Is(err, ErrOverdraft) {
			t.Fatalf("mint overdraft: %v", err)
		}
		audit(t, l)
	})
}

func provisional(t testing.TB, l *Ledger, c *fakeClock, id, from, to, amount string) TransferResult {
	t.Helper()
	res, err := l.Transfer(context.Background(), TransferRequest{ID: id, From: from, To: to, Amount: MustParse(amount),
		ReceiptBy: c.now().Add(time.Hour), Authorisation: "cheque-" + id})
	if err != nil || res.State != StatePending {
		t.Fatalf("provisional %s: %+v %v", id, res, err)
	}
	return res
}

func TestProvisionalReceiptRefundVoid(t *testing.T) {
	eachStore(t, func(t *testing.T, b *store.Bucket) {
		ctx := context.Background()
		c := newClock()
		l := newLedger(t, b, WithClock(c.now))
		mustAccount(t, l, "user", "5")
		mustAccount(t, l, "svc", "0")
		deposit(t, l, "d", "user", "100")

		provisional(t, l, c, "p1", "user", "svc", "40")
		want(t, l, "user", "100", "40", "0", "65")
		want(t, l, "svc", "0", "0", "40", "0")

		// Holding more than is available is refused like a direct debit.
		_, err := l.Transfer(ctx, TransferRequest{ID: "p-big", From: "user", To: "svc", Amount: MustParse("65.000001"), ReceiptBy: c.now().Add(time.Hour)})
		if !errors.Is(err, ErrInsufficientFunds) {
			t.Fatalf("p-big: %v", err)
		}
		if _, err := l.Receipt(ctx, "p-big", MustParse("1"), ""); !errors.Is(err, ErrRefused) {
			t.Fatalf("receipt of refused: %v", err)
		}

		// Over-receipt: refused, nothing changes.
		if _, err := l.Receipt(ctx, "p1", MustParse("40.000001"), "r"); !errors.Is(err, ErrOverReceipt) {
			t.Fatalf("over-receipt: %v", err)
		}
		want(t, l, "user", "100", "40", "0", "65")
		// Partial receipt: 25.5 moves, 14.5 returns to the payer.
		res, err := l.Receipt(ctx, "p1", MustParse("25.5"), "r")
		if err != nil || res.State != StateReceipted || res.Resolution.Receipted != MustParse("25.5") {
			t.Fatalf("receipt: %+v %v", res, err)
		}
		want(t, l, "user", "74.5", "0", "0", "79.5")
		want(t, l, "svc", "25.5", "0", "0", "25.5")
		// The same receipt again is an idempotent retry; anything else is refused.
		if again, err := l.Receipt(ctx, "p1", MustParse("25.5"), "r"); err != nil || again.Resolution.SettleDebit != res.Resolution.SettleDebit {
			t.Fatalf("receipt retry: %+v %v", again, err)
		}
		for _, f := range []func() (TransferResult, error){
			func() (TransferResult, error) { return l.Receipt(ctx, "p1", MustParse("1"), "r") },
			func() (TransferResult, error) { return l.Refund(ctx, "p1", "") },
			func() (TransferResult, error) { return l.Void(ctx, "p1", "") },
		} {
			if _, err := f(); !errors.Is(err, ErrAlreadyResolved) {
				t.Fatalf("second resolution: %v", err)
			}
		}
		want(t, l, "user", "74.5", "0", "0", "79.5")
		want(t, l, "svc", "25.5", "0", "0", "25.5")

		// Refund restores exact balances.
		provisional(t, l, c, "p2", "user", "svc", "33.333333")
		want(t, l, "user", "74.5", "33.333333", "0", "46.166667")
		if res, err := l.Refund(ctx, "p2", "svc-says-no"); err != nil || res.State != StateRefunded {
			t.Fatalf("refund: %+v %v", res, err)
		}
		want(t, l, "user", "74.5", "0", "0", "79.5")
		want(t, l, "svc", "25.5", "0", "0", "25.5")
		if _, err := l.Receipt(ctx, "p2", MustParse("1"), ""); !errors.Is(err, ErrAlreadyResolved) {
			t.Fatalf("receipt after refund: %v", err)
		}

		// Void likewise.
		provisional(t, l, c, "p3", "user", "svc", "1")
		if res, err := l.Void(ctx, "p3", ""); err != nil || res.State != StateVoided {
			t.Fatalf("void: %+v %v", res, err)
		}
		want(t, l, "user", "74.5", "0", "0", "79.5")

		// Full receipt.
		provisional(t, l, c, "p4", "user", "svc", "4.5")
		if _, err := l.Receipt(ctx, "p4", MustParse("4.5"), ""); err != nil {
			t.Fatal(err)
		}
		want(t, l, "user", "70", "0", "0", "75")
		want(t, l, "svc", "30", "0", "0", "30")

		// Direct transfers cannot be receipted.
		if _, err := l.Receipt(ctx, "d", MustParse("1"), ""); !errors.Is(err, ErrNotProvisional) {
			t.Fatalf("receipt of direct: %v", err)
		}
		rep := audit(t, l)
		if rep.Provisional != 4 || rep.Resolved != 4 || rep.Refused != 1 {
			t.Fatalf("audit counts %+v", rep)
		}
	})
}

func TestExpiryReleasesFunds(t *testing.T) {
	eachStore(t, func(t *testing.T, b *store.Bucket) {
		ctx := context.Background()
		c := newClock()
		l := newLedger(t, b, WithClock(c.now))
		mustAccount(t, l, "user", "0")
		mustAccount(t, l, "svc", "0")
		deposit(t, l, "d", "user", "10")
		provisional(t, l, c, "e1", "user", "svc", "6") // receipt_by = now+1h
		c.advance(30 * time.Minute)
		provisional(t, l, c, "e2", "user", "svc", "4") // receipt_by = now+1h (later)
		want(t, l, "user", "10", "10", "0", "0")

		// A sweep before any receipt_by expires nothing.
		if n, err := l.Expire(ctx, c.now()); err != nil || n != 0 {
			t.Fatalf("early sweep: %d %v", n, err)
		}
		// After e1's receipt_by only e1 expires.
		c.advance(31 * time.Minute)
		if n, err := l.Expire(ctx, c.now()); err != nil || n != 1 {
			t.Fatalf("sweep: %d %v", n, err)
		}
		want(t, l, "user", "10", "4", "0", "6")
		want(t, l, "svc", "0", "0", "4", "0")
		if _, err := l.Receipt(ctx, "e1", MustParse("6"), ""); !errors.Is(err, ErrExpired) {
			t.Fatalf("receipt of expired: %v", err)
		}
		// Touching e2 after its receipt_by expires it, without a sweep.
		c.advance(time.Hour)
		if _, err := l.Receipt(ctx, "e2", MustParse("4"), ""); !errors.Is(err, ErrExpired) {
			t.Fatalf("late receipt: %v", err)
		}
		want(t, l, "user", "10", "0", "0", "10")
		want(t, l, "svc", "0", "0", "0", "0")
		if res, err := l.Complete(ctx, "e2"); err != nil || res.State != StateExpired {
			t.Fatalf("complete e2: %+v %v", res, err)
		}
		// Sweeping again finds nothing new to change.
		if _, err := l.Expire(ctx, c.now()); err != nil {
			t.Fatal(err)
		}
		want(t, l, "user", "10", "0", "0", "10")
		audit(t, l)
	})
}

func TestDoubleResolutionRace(t *testing.T) {
	eachStore(t, func(t *testing.T, b *store.Bucket) {
		ctx := context.Background()
		c := newClock()
		l := newLedger(t, b, WithClock(c.now))
		mustAccount(t, l, "user", "0")
		mustAccount(t, l, "svc", "0")
		deposit(t, l, "d", "user", "100")
		for i := range 10 {
			id := fmt.Sprintf("race-%d", i)
			provisional(t, l, c, id, "user", "svc", "10")
			var wins atomic.Int32
			var wg sync.WaitGroup
			for j := range 6 {
				lx := newLedger(t, b, WithClock(c.now))
				wg.Add(1)
				go func() {
					defer wg.Done()
					var err error
					switch j % 3 {
					case 0:
						_, err = lx.Receipt(ctx, id, MustParse(fmt.Sprint(j+1)), fmt.Sprint(j))
					case 1:
						_, err = lx.Refund(ctx, id, fmt.Sprint(j))
					case 2:
						_, err = lx.Void(ctx, id, fmt.Sprint(j))
					}
					if err == nil {
						wins.Add(1)
					} else if !errors.Is(err, ErrAlreadyResolved) {
						t.Error(err)
					}
				}()
			}
			wg.Wait()
			if wins.Load() != 1 {
				t.Fatalf("%s: %d resolutions won, want exactly 1", id, wins.Load())
			}
		}
		rep := audit(t, l)
		if rep.Resolved != 10 {
			t.Fatalf("%+v", rep)
		}
		bu, _ := l.Balance(ctx, "user")
		bs, _ := l.Balance(ctx, "svc")
		if s, _ := bu.Balance.Add(bs.Balance); s != MustParse("100") || !bu.Liability.IsZero() || !bs.Receivable.IsZero() {
			t.Fatalf("after races: user %+v svc %+v", bu, bs)
		}
	})
}

// TestOutcomeCachedByRetry: a transfer's first run leaves its record
// without an outcome (no extra write per transfer); the first retry that
// finds it applied in both logs caches the outcome, and later calls answer
// the same item indexes from the cache.
func TestOutcomeCachedByRetry(t *testing.T) {
	eachStore(t, func(t *testing.T, b *store.Bucket) {
		ctx := context.Background()
		l := newLedger(t, b)
		mustAccount(t, l, "a", "0")
		mustAccount(t, l, "b", "0")
		deposit(t, l, "d", "a", "10")
		first, err := l.Transfer(ctx, TransferRequest{ID: "x", From: "a", To: "b", Amount: MustParse("4")})
		if err != nil {
			t.Fatal(err)
		}
		_ = l.Close()
		cached := func() transferRecord {
			var rec transferRecord
			if _, err := b.GetJSON(ctx, transferKey("x"), &rec); err != nil {
				t.Fatal(err)
			}
			return rec
		}
		if rec := cached(); rec.State != "" {
			t.Fatalf("first run cached an outcome: %+v", rec)
		}
		l2 := newLedger(t, b) // a new process: finds both legs in the logs
		if res, err := l2.Complete(ctx, "x"); err != nil || res != first {
			t.Fatalf("complete: %+v %v, want %+v", res, err, first)
		}
		_ = l2.Close()
		if rec := cached(); rec.State != StateApplied || rec.DebitItem != first.DebitItem || rec.CreditItem != first.CreditItem {
			t.Fatalf("retry did not cache the outcome: %+v", rec)
		}
		if res, err := newLedger(t, b).Complete(ctx, "x"); err != nil || res != first {
			t.Fatalf("from the cache: %+v %v, want %+v", res, err, first)
		}
	})
}
