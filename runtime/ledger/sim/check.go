package sim

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/openacquire/acquire/runtime/ledger"
)

// finish stops the faults, restarts every process (recovery after a crash
// of everything), finishes every transfer any client ever sent, checks the
// store while holds are still pending, then lets every hold expire and
// checks the end state.
func (w *world) finish(ctx context.Context) error {
	w.step = w.cfg.Steps + 1 // violations from here on are of the recovery
	w.fs.SetEnabled(false)
	for i := range w.procs {
		if err := w.restart(ctx, i); err != nil {
			return err
		}
	}
	l := w.procs[0].l
	if _, err := w.completeAll(ctx, l); err != nil {
		return err
	}
	if err := w.checkPending(ctx, l); err != nil {
		return err
	}
	latest := w.clock.Now()
	for _, id := range w.order {
		t := w.transfers[id]
		for _, req := range append([]ledger.TransferRequest{t.req}, t.alts...) { // a raced content may be the one recorded
			if req.ReceiptBy.After(latest) {
				latest = req.ReceiptBy
			}
		}
	}
	w.clock.Advance(latest.Sub(w.clock.Now()) + time.Hour)
	if _, err := l.Expire(ctx, w.clock.Now()); err != nil {
		return w.fail("final expiry sweep: %v", err)
	}
	final, err := w.completeAll(ctx, l)
	if err != nil {
		return err
	}
	if err := w.checkBalances(ctx, l, final); err != nil {
		return err
	}
	if err := w.checkLogs(ctx, l, final); err != nil {
		return err
	}
	if err := w.checkAudit(ctx, l, true); err != nil {
		return err
	}
	return w.checkInvoices(final)
}

// completeAll finishes every transfer id and returns the outcome of each
// one recorded (refused ones included).
func (w *world) completeAll(ctx context.Context, l *ledger.Ledger) (map[string]ledger.TransferResult, error) {
	out := map[string]ledger.TransferResult{}
	for _, id := range w.order {
		t := w.transfers[id]
		res, err := l.Complete(ctx, id)
		if err := w.completed(t, res, err); err != nil {
			return nil, err
		}
		if err != nil && !errors.Is(err, ledger.ErrInsufficientFunds) {
			if !errors.Is(err, ledger.ErrNoTransfer) {
				return nil, w.fail("complete %s in recovery: %v", id, err)
			}
			continue
		}
		if t.res != nil && (res.Resolution == nil || !sameResolution(*res.Resolution, *t.res)) {
			return nil, w.fail("transfer %s: resolution %+v, a client was told %+v", id, res.Resolution, *t.res)
		}
		out[id] = res
	}
	_ = l.Close()
	return out, nil
}

// checkPending: with holds still open, the audit is clean and every
// unresolved hold is one whose receipt_by is still ahead.
func (w *world) checkPending(ctx context.Context, l *ledger.Ledger) error {
	for _, id := range w.order {
		t := w.transfers[id]
		res, err := l.Complete(ctx, id)
		if err != nil || !res.Provisional {
			continue
		}
		switch {
		case res.State == ledger.StatePending && res.Resolution != nil:
			return w.fail("transfer %s: pending with a resolution", id)
		case res.State == ledger.StatePending && len(t.alts) == 0 && !w.clock.Now().Before(t.req.ReceiptBy):
			return w.fail("transfer %s: pending past its receipt_by", id)
		case res.State != ledger.StatePending && res.Resolution == nil:
			return w.fail("transfer %s: %s without a resolution", id, res.State)
		}
	}
	_ = l.Close()
	return w.checkAudit(ctx, l, false)
}

func (w *world) checkAudit(ctx context.Context, l *ledger.Ledger, settled bool) error {
	rep, err := l.Audit(ctx)
	if err != nil || len(rep.Anomalies) != 0 || rep.Total != "0.000000" || rep.Liabilities != rep.Receivables {
		return w.fail("audit: %v: total %s, liabilities %s, receivables %s, anomalies %q", err, rep.Total, rep.Liabilities, rep.Receivables, rep.Anomalies)
	}
	if settled && rep.Liabilities != "0.000000" {
		return w.fail("holds left after every receipt_by passed: liabilities %s", rep.Liabilities)
	}
	return nil
}

// checkBalances recomputes every balance from the outcome of each transfer
// (once each) and compares it with the ledger's: money is neither lost nor
// made, and nothing moved twice.
func (w *world) checkBalances(ctx context.Context, l *ledger.Ledger, final map[string]ledger.TransferResult) error {
	want := map[string]int64{}
	for _, id := range w.order {
		res, ok := final[id]
		if !ok || res.State == ledger.StateRefused {
			continue
		}
		moved := res.Amount.MicroUnits()
		if res.Provisional {
			if res.Resolution == nil {
				return w.fail("transfer %s: unresolved after every receipt_by passed (%s)", id, res.State)
			}
			moved = res.Resolution.Receipted.MicroUnits()
		}
		t := w.transfers[id]
		want[t.req.From] -= moved
		want[t.req.To] += moved
	}
	sum := int64(0)
	for _, acc := range append([]string{ledger.MintAccount}, w.accounts...) {
		b, err := l.Balance(ctx, acc)
		if err != nil {
			return w.fail("balance of %s: %v", acc, err)
		}
		if b.Balance.MicroUnits() != want[acc] || !b.Liability.IsZero() || !b.Receivable.IsZero() {
			return w.fail("account %s: balance %s liability %s receivable %s, want %d micro-units and no holds",
				acc, b.Balance, b.Liability, b.Receivable, want[acc])
		}
		sum += b.Balance.MicroUnits()
	}
	if sum != 0 {
		return w.fail("balances sum to %d micro-units, not 0", sum)
	}
	return nil
}

// checkLogs reads every account's whole statement: no (transfer, leg)
// twice, and each finished transfer has exactly its legs.
func (w *world) checkLogs(ctx context.Context, l *ledger.Ledger, final map[string]ledger.TransferResult) error {
	seen := map[string]int{}
	for _, acc := range append([]string{ledger.MintAccount}, w.accounts...) {
		token := ""
		for {
			page, err := l.Statement(ctx, acc, time.Time{}, time.Time{}, token, ledger.MaxPageSize)
			if err != nil {
				return w.fail("statement of %s: %v", acc, err)
			}
			for _, ln := range page.Lines {
				if ln.Transfer == "" {
					continue
				}
				k := fmt.Sprintf("%s %s %s", acc, ln.Transfer, ln.Leg)
				seen[k]++
				if seen[k] > 1 {
					return w.fail("transfer %s: leg %s applied twice to %s", ln.Transfer, ln.Leg, acc)
				}
			}
			if page.Next == "" {
				break
			}
			token = page.Next
		}
	}
	for _, id := range w.order {
		res, ok := final[id]
		t := w.transfers[id]
		legs := map[string]bool{}
		if ok {
			if res.State == ledger.StateRefused {
				legs[t.req.From+" "+id+" refused"] = true
			} else {
				legs[t.req.From+" "+id+" debit"], legs[t.req.To+" "+id+" credit"] = true, true
				if res.Provisional {
					legs[t.req.From+" "+id+" settle-debit"], legs[t.req.To+" "+id+" settle-credit"] = true, true
				}
			}
		}
		for _, acc := range []string{t.req.From, t.req.To} {
			for _, leg := range []string{"debit", "refused", "credit", "settle-debit", "settle-credit"} {
				k := acc + " " + id + " " + leg
				if (seen[k] == 1) != legs[k] {
					return w.fail("transfer %s (%s): leg %q found %d times", id, res.State, k, seen[k])
				}
			}
		}
	}
	return nil
}

// checkInvoices: an invoice is paid by at most one attempt, and by the one
// its payer was told succeeded.
func (w *world) checkInvoices(final map[string]ledger.TransferResult) error {
	for n, in := range w.invoices {
		applied := ""
		for _, id := range in.attempts {
			if res, ok := final[id]; ok && res.State == ledger.StateApplied {
				if applied != "" {
					return w.fail("invoice %d paid twice: %s and %s", n, applied, id)
				}
				applied = id
			}
		}
		if in.paid != "" && applied != in.paid {
			return w.fail("invoice %d: payer told %s paid it, the ledger applied %q", n, in.paid, applied)
		}
	}
	return nil
}
