package accounting_test

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openacquire/acquire/runtime/accounting"
	"github.com/openacquire/acquire/runtime/call"
	"github.com/openacquire/acquire/runtime/ledger"
	"github.com/openacquire/acquire/runtime/store"
	"github.com/openacquire/acquire/runtime/store/faultstore"
	"github.com/openacquire/acquire/runtime/store/memstore"
)

// These tests put each write that paying an invoice or cashing a cheque
// makes to the accounting service's store through a store fault: refused
// before it lands, or landed with its answer lost. The client retries the
// call; it must end paid (cashed) exactly once, and the ledger's audit
// stay clean.

// faultHost is the accounting store of one test host, and the writes seen
// while recording.
type faultHost struct {
	fs        *faultstore.Store
	mu        sync.Mutex
	recording bool
	writes    []string
}

var faultHosts sync.Map // host store name -> *faultHost

// The "faultmem" scheme is mem:// with the accounting service's sub-store
// behind a faultstore (the other services' stores are plain).
func init() {
	store.RegisterScheme("faultmem", func(_ context.Context, u *url.URL) (store.Driver, error) {
		prefix := u.Query().Get("prefix")
		inner := memstore.Named("faultmem-" + u.Host + "-" + prefix)
		if prefix != accounting.Kind+"/" {
			return inner, nil
		}
		h := &faultHost{}
		fs, err := faultstore.New(inner, faultstore.Options{Point: h.point})
		if err != nil {
			return nil, err
		}
		h.fs = fs
		if old, loaded := faultHosts.LoadOrStore(u.Host, h); loaded {
			h = old.(*faultHost)
		}
		return h.fs.Process(), nil
	})
}

// point names the writes of the money path (invoice records, cheque
// records, the ledger's records and items); the framework's own records
// are left alone.
func (h *faultHost) point(op, key string) string {
	if op == faultstore.OpGet || op == faultstore.OpList {
		return ""
	}
	name := ""
	for _, p := range []string{"accounting/invoices/", "accounting/cheques/", "accounting/provisional/", "ledger/transfers/", "ledger/resolutions/"} {
		if strings.HasPrefix(key, p) {
			name = op + " " + p
		}
	}
	if rest, ok := strings.CutPrefix(key, "ledger/accounts/"); ok && strings.Contains(rest, "/items/") {
		name = op + " item of " + rest[:strings.Index(rest, "/")]
	}
	h.mu.Lock()
	if h.recording && name != "" {
		h.writes = append(h.writes, name)
	}
	h.mu.Unlock()
	return name
}

// record runs fn and returns the named writes it made.
func (h *faultHost) record(fn func()) []string {
	h.mu.Lock()
	h.recording, h.writes = true, nil
	h.mu.Unlock()
	fn()
	h.mu.Lock()
	defer h.mu.Unlock()
	h.recording = false
	return h.writes
}

// arm makes the occurrence-th later write at point get fault f.
func (h *faultHost) arm(t *testing.T, point string, occurrence int, f faultstore.Fault) {
	t.Helper()
	for range occurrence {
		if err := h.fs.Force(point, faultstore.None); err != nil {
			t.Fatal(err)
		}
	}
	if err := h.fs.Force(point, f); err != nil {
		t.Fatal(err)
	}
}

func faultyInvoicing(t *testing.T) (*invoicing, *faultHost) {
	t.Helper()
	name := fmt.Sprintf("faults%d", time.Now().UnixNano())
	in := invoicingOn(t, setupOn(t, "faultmem://"+name), "1000")
	h, ok := faultHosts.Load(name)
	if !ok {
		t.Fatal("the host did not open its accounting store through the faultmem scheme")
	}
	return in, h.(*faultHost)
}

// retried calls fn until it succeeds, as a client does after an internal
// error (whose effect it cannot know), at most 4 times.
func retried[R any](t *testing.T, what string, fn func() (R, error)) R {
	t.Helper()
	var err error
	for range 4 {
		var r R
		if r, err = fn(); err == nil {
			return r
		}
		if !errors.Is(err, call.ErrInternal) {
			t.Fatalf("%s: %v (want success or an internal error to retry)", what, err)
		}
	}
	t.Fatalf("%s: still failing: %v", what, err)
	panic("unreachable")
}

// held reads an account's balance and receivable, in micro-units, from the
// ledger itself.
func held(t *testing.T, f *fixture, acc string) (balance, receivable int64) {
	t.Helper()
	b, err := f.env.Host.Accounting.Ledger().Balance(context.Background(), acc)
	if err != nil {
		t.Fatal(err)
	}
	return b.Balance.MicroUnits(), b.Receivable.MicroUnits()
}

// each runs one case per (write, fault) of a clean run's writes.
func each(t *testing.T, writes []string, run func(t *testing.T, point string, occurrence int, f faultstore.Fault)) {
	if len(writes) < 3 {
		t.Fatalf("a clean run made only %d named writes: %v", len(writes), writes)
	}
	seen := map[string]int{}
	for _, pt := range writes {
		n := seen[pt]
		seen[pt]++
		for _, f := range []faultstore.Fault{faultstore.FailBefore, faultstore.FailAfter} {
			t.Run(fmt.Sprintf("%s %s #%d", f, pt, n), func(t *testing.T) { run(t, pt, n, f) })
		}
	}
}

func TestInvoicePaymentSurvivesEveryStoreFault(t *testing.T) {
	in, h := faultyInvoicing(t)
	ctx := context.Background()
	pay := func(inv *accounting.Invoice) (*accounting.InvoicePayment, error) {
		return in.acc.PayInvoice(ctx, in.alice, inv.ID, inv.Amount)
	}
	clean := in.issue(t, "clean", "7")
	writes := h.record(func() {
		if _, err := pay(clean); err != nil {
			t.Fatal(err)
		}
	})
	n := 0
	each(t, writes, func(t *testing.T, pt string, occurrence int, f faultstore.Fault) {
		n++
		inv := in.issue(t, fmt.Sprintf("f%d", n), "7")
		before, _ := held(t, in.fixture, in.due)
		faults := h.fs.Stats()[f]
		h.arm(t, pt, occurrence, f)
		got := retried(t, "pay", func() (*accounting.InvoicePayment, error) { return pay(inv) })
		if h.fs.Stats()[f] != faults+1 {
			t.Fatalf("the %s fault at %s was never injected", f, pt)
		}
		if got.Invoice.State != accounting.InvoicePaid || got.Transfer == nil || got.Transfer.State != ledger.StateApplied {
			t.Fatalf("after a %s at %s: %+v", f, pt, got)
		}
		if after, _ := held(t, in.fixture, in.due); before-after != 7_000_000 {
			t.Fatalf("after a %s at %s the payer paid %d micro-units, want 7 units", f, pt, before-after)
		}
		again, err := pay(inv)
		if err != nil || again.Transfer.ID != got.Transfer.ID {
			t.Fatalf("paying again: %+v %v", again, err)
		}
	})
	in.audit(t)
}

// A cashing whose answer was lost is retried by the service with the same
// arguments. The money must be held exactly once, and the answer is the
// pending transfer: the same cashing by its casher is answered with the
// recorded transfer (cashedBefore), whose keyed id a cashing after it
// answers again.
func TestChequeCashingSurvivesEveryStoreFault(t *testing.T) {
	in, h := faultyInvoicing(t)
	ctx := context.Background()
	cf := &chequeFixture{fixture: in.fixture, svc: in.shop, main: in.due, takings: in.takings}
	cash := func(ch *accounting.Cheque, rb time.Time) (*ledger.TransferResult, error) {
		return in.acc.CashCheque(ctx, in.shop, ch, amt("4"), in.takings, rb)
	}
	clean := cf.write(t, "5", time.Hour)
	writes := h.record(func() {
		if _, err := cash(clean, in.env.Clock.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
	})
	each(t, writes, func(t *testing.T, pt string, occurrence int, f faultstore.Fault) {
		ch := cf.write(t, "5", time.Hour)
		rb := in.env.Clock.Now().Add(time.Hour)
		_, before := held(t, in.fixture, in.takings)
		faults := h.fs.Stats()[f]
		h.arm(t, pt, occurrence, f)
		got, err := retriedCash(func() (*ledger.TransferResult, error) { return cash(ch, rb) })
		if err != nil || !strings.HasPrefix(got.ID, "cheque-") || got.State != ledger.StatePending || got.Amount != amt("4") {
			t.Fatalf("after a %s at %s: %+v %v", f, pt, got, err)
		}
		if again, err := cash(ch, rb); err != nil || again.ID != got.ID {
			t.Fatalf("cashing again after a %s at %s: %+v %v, want transfer %s", f, pt, again, err, got.ID)
		}
		if h.fs.Stats()[f] != faults+1 {
			t.Fatalf("the %s fault at %s was never injected", f, pt)
		}
		if _, after := held(t, in.fixture, in.takings); after-before != 4_000_000 {
			t.Fatalf("after a %s at %s the payee's receivable rose by %d micro-units, want 4 units", f, pt, after-before)
		}
	})
	in.audit(t)
}

// retriedCash retries a cashing after internal errors, at most 4 times,
// and returns its last answer.
func retriedCash(fn func() (*ledger.TransferResult, error)) (*ledger.TransferResult, error) {
	var res *ledger.TransferResult
	var err error
	for range 4 {
		if res, err = fn(); !errors.Is(err, call.ErrInternal) {
			break
		}
	}
	return res, err
}
