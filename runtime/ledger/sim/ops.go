package sim

import (
	"context"
	"errors"
	"time"

	"github.com/openacquire/acquire/runtime/ledger"
	"github.com/openacquire/acquire/runtime/store"
	"github.com/openacquire/acquire/runtime/store/faultstore"
)

// op is one kind of client step, with its weight in the schedule.
type op struct {
	name   string
	weight int
	run    func(w *world, ctx context.Context) error
}

var ops = []op{
	{"deposit", 3, (*world).opDeposit},
	{"direct", 6, (*world).opDirect},
	{"provisional", 5, (*world).opProvisional},
	{"receipt", 4, (*world).opReceipt},
	{"refund", 2, func(w *world, ctx context.Context) error { return w.opResolve(ctx, ledger.ResolveRefund) }},
	{"void", 1, func(w *world, ctx context.Context) error { return w.opResolve(ctx, ledger.ResolveVoid) }},
	{"expire", 2, (*world).opExpire},
	{"cheque", 3, (*world).opCheque},
	{"invoice", 2, (*world).opInvoice},
	{"pay-invoice", 3, (*world).opPayInvoice},
	{"retry", 4, (*world).opRetry},
	{"complete", 2, (*world).opComplete},
	{"conflict", 1, (*world).opConflict},
	{"race", 3, (*world).opRace},
	{"restart", 1, (*world).opRestart},
	{"overdraft", 1, (*world).opOverdraft},
}

var totalWeight = func() int {
	n := 0
	for _, o := range ops {
		n += o.weight
	}
	return n
}()

func (w *world) doStep(ctx context.Context) error {
	x := w.rng.IntN(totalWeight)
	for _, o := range ops {
		if x < o.weight {
			w.note("%s (clock %s)", o.name, w.clock.Now().Format(time.TimeOnly))
			return o.run(w, ctx)
		}
		x -= o.weight
	}
	panic("unreachable")
}

var descriptions = []string{"", "", "rent", "lunch", "refund of lunch"}

func (w *world) description() string { return descriptions[w.rng.IntN(len(descriptions))] }

func (w *world) receiptBy() time.Time {
	return w.clock.Now().Add(time.Duration(1+w.rng.IntN(120)) * time.Minute).Truncate(time.Millisecond)
}

func (w *world) opDeposit(ctx context.Context) error {
	req := ledger.TransferRequest{ID: w.newID("dep"), From: ledger.MintAccount, To: w.account(), Amount: w.amount(100), Authorisation: "admin"}
	_, err := w.submit(ctx, req)
	return err
}

// request makes a new transfer between two accounts under a new id of the
// kind given; provisional one time in oneIn (never if oneIn is 0).
func (w *world) request(kind string, maxUnits int64, oneIn int) ledger.TransferRequest {
	from, to := w.pair()
	req := ledger.TransferRequest{ID: w.newID(kind), From: from, To: to, Amount: w.amount(maxUnits),
		Description: w.description(), Authorisation: "client-" + from}
	if oneIn > 0 && w.rng.IntN(oneIn) == 0 {
		req.ReceiptBy = w.receiptBy()
	}
	return req
}

func (w *world) opDirect(ctx context.Context) error {
	_, err := w.submit(ctx, w.request("t", 40, 0))
	return err
}

func (w *world) opProvisional(ctx context.Context) error {
	_, err := w.submit(ctx, w.request("p", 30, 1))
	return err
}

// submit sends a transfer on a random process and books the answer.
func (w *world) submit(ctx context.Context, req ledger.TransferRequest) (ledger.TransferResult, error) {
	t := w.book(req)
	var res ledger.TransferResult
	err := w.on(ctx, w.proc(), func(l *ledger.Ledger) error {
		var err error
		res, err = l.Transfer(ctx, req)
		return err
	})
	return res, w.answer(t, req, res, err)
}

// book returns the bookkeeping of req's id, creating it on first use.
func (w *world) book(req ledger.TransferRequest) *transfer {
	t := w.transfers[req.ID]
	if t == nil {
		t = &transfer{req: req}
		w.transfers[req.ID] = t
		w.order = append(w.order, req.ID)
	} else if !same(t.req, req) && !t.hasAlt(req) {
		t.alts = append(t.alts, req)
	}
	return t
}

func (t *transfer) hasAlt(req ledger.TransferRequest) bool {
	for _, a := range t.alts {
		if same(a, req) {
			return true
		}
	}
	return false
}

func same(a, b ledger.TransferRequest) bool {
	return a.ID == b.ID && a.From == b.From && a.To == b.To && a.Amount == b.Amount && a.Description == b.Description &&
		a.Authorisation == b.Authorisation && a.ReceiptBy.Equal(b.ReceiptBy)
}

// answer checks a transfer's answer against what clients were told before
// and books it. An id answers one content, one way, forever.
func (w *world) answer(t *transfer, req ledger.TransferRequest, res ledger.TransferResult, err error) error {
	w.note("  transfer %s %s->%s %s rb=%v desc=%q: %s %d/%d %v", req.ID, req.From, req.To, req.Amount, req.ReceiptBy.Format(time.TimeOnly), req.Description, res.State, res.DebitItem, res.CreditItem, err)
	switch {
	case err == nil || errors.Is(err, ledger.ErrInsufficientFunds):
		refused := err != nil
		if t.accepted != nil && !same(*t.accepted, req) {
			return w.fail("transfer %s: a second content was accepted under one id (%+v after %+v)", req.ID, req, *t.accepted)
		}
		if t.refused && !refused || t.acked != nil && refused {
			return w.fail("transfer %s: answered %v after it was answered the other way", req.ID, err)
		}
		if refused != (res.State == ledger.StateRefused) {
			return w.fail("transfer %s: state %s with error %v", req.ID, res.State, err)
		}
		t.accepted = &req
		if refused {
			t.refused = true
			return nil
		}
		if t.acked == nil {
			t.acked = &res
			return nil
		}
		return w.sameResult(req.ID, *t.acked, res)
	case faulted(err):
		return nil // the client cannot know; it may retry
	case errors.Is(err, ledger.ErrIDConflict):
		if t.accepted != nil && same(*t.accepted, req) {
			return w.fail("transfer %s: its own accepted content answered an id conflict", req.ID)
		}
		return nil
	case errors.Is(err, ledger.ErrInvalid) && !req.ReceiptBy.IsZero() && !req.ReceiptBy.After(w.clock.Now()):
		return nil // a retry after receipt_by of a transfer never recorded
	}
	return w.fail("transfer %s: unexpected answer %v", req.ID, err)
}

// sameResult checks a later answer for one id against the first: the same
// amount and the same log items, and a direct transfer stays applied.
func (w *world) sameResult(id string, first, later ledger.TransferResult) error {
	if later.Amount != first.Amount || later.DebitItem != first.DebitItem || later.CreditItem != first.CreditItem ||
		later.Provisional != first.Provisional || (!first.Provisional && later.State != ledger.StateApplied) {
		return w.fail("transfer %s: answered %+v, first answered %+v", id, later, first)
	}
	return nil
}

// provisionalID picks a provisional transfer id, or "" if there is none.
func (w *world) provisionalID() string {
	var ids []string
	for _, id := range w.order {
		if !w.transfers[id].req.ReceiptBy.IsZero() {
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		return ""
	}
	return ids[w.rng.IntN(len(ids))]
}

func (w *world) opReceipt(ctx context.Context) error {
	id := w.provisionalID()
	if id == "" {
		return nil
	}
	t := w.transfers[id]
	amount := t.req.Amount
	if w.rng.IntN(2) == 0 {
		amount = w.amount(max(1, t.req.Amount.MicroUnits()/1_000_000))
	}
	auth := []string{"payee", "payee-other"}[w.rng.IntN(2)]
	var res ledger.TransferResult
	err := w.on(ctx, w.proc(), func(l *ledger.Ledger) error {
		var err error
		res, err = l.Receipt(ctx, id, amount, auth)
		return err
	})
	return w.resolved(t, ledger.Resolution{Kind: ledger.ResolveReceipt, Receipted: amount, Authorisation: auth}, res, err)
}

func (w *world) opResolve(ctx context.Context, kind string) error {
	id := w.provisionalID()
	if id == "" {
		return nil
	}
	t := w.transfers[id]
	var res ledger.TransferResult
	err := w.on(ctx, w.proc(), func(l *ledger.Ledger) error {
		var err error
		if kind == ledger.ResolveRefund {
			res, err = l.Refund(ctx, id, "payee")
		} else {
			res, err = l.Void(ctx, id, "payer")
		}
		return err
	})
	auth := map[string]string{ledger.ResolveRefund: "payee", ledger.ResolveVoid: "payer"}[kind]
	return w.resolved(t, ledger.Resolution{Kind: kind, Authorisation: auth}, res, err)
}

func sameResolution(a, b ledger.Resolution) bool {
	return a.Kind == b.Kind && a.Receipted == b.Receipted && a.Authorisation == b.Authorisation
}

// resolved checks a resolution's answer: one resolution per transfer,
// forever, and nothing resolved that a client was not told exists.
func (w *world) resolved(t *transfer, asked ledger.Resolution, res ledger.TransferResult, err error) error {
	w.note("  %s %s %s by %s: %s %v", asked.Kind, t.req.ID, asked.Receipted, asked.Authorisation, res.State, err)
	id := t.req.ID
	switch {
	case err == nil:
		if res.Resolution == nil || !sameResolution(*res.Resolution, asked) {
			return w.fail("resolution of %s: answered %+v for %+v", id, res.Resolution, asked)
		}
		if t.refused {
			return w.fail("resolution of %s: a refused transfer was resolved", id)
		}
		if t.res != nil && !sameResolution(*t.res, asked) {
			return w.fail("resolution of %s: %+v succeeded after %+v", id, asked, *t.res)
		}
		r := *res.Resolution
		t.res = &r
		return nil
	case faulted(err):
		return nil
	case errors.Is(err, ledger.ErrAlreadyResolved), errors.Is(err, ledger.ErrExpired):
		if t.res != nil && sameResolution(*t.res, asked) {
			return w.fail("resolution of %s: its own resolution answered %v", id, err)
		}
		if errors.Is(err, ledger.ErrExpired) && t.res != nil && t.res.Kind != ledger.ResolveExpire {
			return w.fail("resolution of %s: expired after %s was acknowledged", id, t.res.Kind)
		}
		if errors.Is(err, ledger.ErrExpired) && w.clock.Now().Before(t.req.ReceiptBy) {
			return w.fail("resolution of %s: expired before its receipt_by", id)
		}
		return nil
	case errors.Is(err, ledger.ErrNoTransfer):
		if t.acked != nil || t.refused {
			return w.fail("resolution of %s: an acknowledged transfer is missing", id)
		}
		return nil
	case errors.Is(err, ledger.ErrRefused):
		if t.acked != nil {
			return w.fail("resolution of %s: refused after it was applied", id)
		}
		return nil
	case errors.Is(err, ledger.ErrOverReceipt) && asked.Receipted.Cmp(t.minAmount()) > 0:
		return nil // a raced content with a smaller amount was recorded
	case errors.Is(err, ledger.ErrNotProvisional) && len(t.alts) > 0:
		return nil // a raced direct content was recorded
	}
	return w.fail("resolution of %s: unexpected answer %v", id, err)
}

func (t *transfer) minAmount() ledger.Amount {
	m := t.req.Amount
	for _, a := range t.alts {
		if a.Amount.Cmp(m) < 0 {
			m = a.Amount
		}
	}
	return m
}

func (w *world) opExpire(ctx context.Context) error {
	w.clock.Advance(time.Duration(1+w.rng.IntN(40)) * time.Minute)
	err := w.on(ctx, w.proc(), func(l *ledger.Ledger) error {
		_, err := l.Expire(ctx, w.clock.Now())
		return err
	})
	if err != nil && !faulted(err) {
		return w.fail("expiry sweep: %v", err)
	}
	return nil
}

// opCheque writes a cheque (a transfer under an id the cheque fixes, maybe
// provisional) and has its payee cash it twice: concurrently on two
// processes, or once now and again later (a retry picks it).
func (w *world) opCheque(ctx context.Context) error {
	req := w.request("chq", 20, 3)
	if w.rng.IntN(2) == 0 {
		return w.race(ctx, req, req)
	}
	_, err := w.submit(ctx, req)
	return err
}

func (w *world) opInvoice(_ context.Context) error {
	from, to := w.pair()
	w.invoices = append(w.invoices, &invoice{from: from, to: to, amount: w.amount(60)})
	return nil
}

// maxPayAttempts bounds an invoice's attempts, as the accounting service
// does.
const maxPayAttempts = 16

// opPayInvoice pays an open invoice: the current attempt again if its
// outcome is unknown, a new attempt only once the last was seen refused.
func (w *world) opPayInvoice(ctx context.Context) error {
	var open []*invoice
	for _, in := range w.invoices {
		if in.paid == "" && len(in.attempts) < maxPayAttempts {
			open = append(open, in)
		}
	}
	if len(open) == 0 {
		return nil
	}
	in := open[w.rng.IntN(len(open))]
	if n := len(in.attempts); n == 0 || w.transfers[in.attempts[n-1]].refused {
		in.attempts = append(in.attempts, w.newID("inv"))
	}
	id := in.attempts[len(in.attempts)-1]
	req := ledger.TransferRequest{ID: id, From: in.from, To: in.to, Amount: in.amount, Description: "invoice", Authorisation: "payer"}
	res, err := w.submit(ctx, req)
	if err == nil && res.State == ledger.StateApplied {
		in.paid = id
	}
	return err
}

// opRetry resends an earlier request (the first content of its id).
func (w *world) opRetry(ctx context.Context) error {
	if len(w.order) == 0 {
		return nil
	}
	t := w.transfers[w.order[w.rng.IntN(len(w.order))]]
	req := t.req
	if t.accepted != nil {
		req = *t.accepted
	}
	_, err := w.submit(ctx, req)
	return err
}

func (w *world) opComplete(ctx context.Context) error {
	if len(w.order) == 0 {
		return nil
	}
	t := w.transfers[w.order[w.rng.IntN(len(w.order))]]
	var res ledger.TransferResult
	err := w.on(ctx, w.proc(), func(l *ledger.Ledger) error {
		var err error
		res, err = l.Complete(ctx, t.req.ID)
		return err
	})
	return w.completed(t, res, err)
}

// completed checks Complete's answer against what clients were told.
func (w *world) completed(t *transfer, res ledger.TransferResult, err error) error {
	w.note("  complete %s: %s %d/%d %v", t.req.ID, res.State, res.DebitItem, res.CreditItem, err)
	id := t.req.ID
	switch {
	case err == nil:
		if t.refused {
			return w.fail("complete %s: applied after it was refused", id)
		}
		if t.acked != nil {
			return w.sameResult(id, *t.acked, res)
		}
		return nil
	case errors.Is(err, ledger.ErrInsufficientFunds):
		if t.acked != nil {
			return w.fail("complete %s: refused after it was applied", id)
		}
		return nil
	case errors.Is(err, ledger.ErrNoTransfer):
		if t.acked != nil || t.refused {
			return w.fail("complete %s: an acknowledged transfer is missing", id)
		}
		return nil
	case faulted(err):
		return nil
	}
	return w.fail("complete %s: unexpected answer %v", id, err)
}

// opConflict reuses an accepted id with other content: it must be refused
// as an id conflict and change nothing.
func (w *world) opConflict(ctx context.Context) error {
	var ids []string
	for _, id := range w.order {
		if w.transfers[id].accepted != nil {
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	t := w.transfers[ids[w.rng.IntN(len(ids))]]
	req := w.variant(*t.accepted)
	err := w.on(ctx, w.proc(), func(l *ledger.Ledger) error {
		_, err := l.Transfer(ctx, req)
		return err
	})
	if err == nil || (!faulted(err) && !errors.Is(err, ledger.ErrIDConflict)) {
		return w.fail("transfer %s with other content answered %v, want an id conflict", req.ID, err)
	}
	return nil
}

// variant returns req with one field changed, favouring the fields its
// JSON may omit (description, authorisation, receipt_by).
func (w *world) variant(req ledger.TransferRequest) ledger.TransferRequest {
	switch w.rng.IntN(5) {
	case 0:
		if req.Description == "" {
			req.Description = "other"
		} else {
			req.Description = ""
		}
	case 1:
		if req.Authorisation == "" {
			req.Authorisation = "other"
		} else {
			req.Authorisation = ""
		}
	case 2:
		if req.ReceiptBy.IsZero() {
			req.ReceiptBy = w.receiptBy()
		} else {
			req.ReceiptBy = time.Time{}
		}
	case 3:
		a, _ := req.Amount.Add(w.amount(1))
		req.Amount = a
	default:
		if !req.ReceiptBy.IsZero() {
			req.ReceiptBy = req.ReceiptBy.Add(time.Minute)
		} else {
			req.Description += " again"
		}
	}
	return req
}

// opRace has two processes send one new id at once, with the same or
// another content.
func (w *world) opRace(ctx context.Context) error {
	a := w.request("race", 30, 2)
	b := a
	if w.rng.IntN(4) != 0 {
		b = w.variant(a)
	}
	return w.race(ctx, a, b)
}

type answer struct {
	res ledger.TransferResult
	err error
}

// race runs request a on one process, holds it at the put-if-absent of the
// transfer record (just before it, or just after it landed), runs request b
// to its end on another process, then lets a go on. Which one is held
// first is part of the seed, so the interleaving replays.
func (w *world) race(ctx context.Context, a, b ledger.TransferRequest) error {
	w.res.Races++
	i := w.proc()
	j := (i + 1 + w.rng.IntN(len(w.procs)-1)) % len(w.procs)
	when := faultstore.When(w.rng.IntN(2))
	key := "ledger/transfers/" + store.EncodeName(a.ID)
	g := w.fs.Hold(when, func(op, k string) bool { return op == faultstore.OpPutIfAbsent && k == key })
	ta, tb := w.book(a), w.book(b)
	held := w.procs[i]
	ch := make(chan answer, 1)
	go func() {
		res, err := held.l.Transfer(ctx, a)
		ch <- answer{res, err}
	}()
	var ha, hb answer
	reached := false
	select {
	case <-g.Reached():
		reached = true
	case ha = <-ch:
		w.fs.Disarm(g)
	}
	hb.err = w.on(ctx, j, func(l *ledger.Ledger) error {
		var err error
		hb.res, err = l.Transfer(ctx, b)
		return err
	})
	if reached {
		g.Release()
		ha = <-ch
	}
	_ = held.l.Close()
	if held.p.Crashed() {
		if err := w.restart(ctx, i); err != nil {
			return err
		}
	}
	if err := w.raceWinner(a, b, ha, hb, reached && when == faultstore.Before); err != nil {
		return err
	}
	if err := w.answer(ta, a, ha.res, ha.err); err != nil {
		return err
	}
	return w.answer(tb, b, hb.res, hb.err)
}

// raceWinner checks who won a race of two contents: when neither call met
// a fault, the record written first decides, and the other content is an
// id conflict.
func (w *world) raceWinner(a, b ledger.TransferRequest, ha, hb answer, bFirst bool) error {
	if same(a, b) || faulted(ha.err) || faulted(hb.err) {
		return nil
	}
	werr, lerr := ha.err, hb.err
	if bFirst {
		werr, lerr = hb.err, ha.err
	}
	if werr != nil && !errors.Is(werr, ledger.ErrInsufficientFunds) {
		return w.fail("race on %s: the first writer answered %v", a.ID, werr)
	}
	if !errors.Is(lerr, ledger.ErrIDConflict) {
		return w.fail("race on %s: the second writer, with other content, answered %v, want an id conflict", a.ID, lerr)
	}
	return nil
}

func (w *world) opRestart(ctx context.Context) error {
	return w.restart(ctx, w.proc())
}

// opOverdraft sets an account's overdraft limit (an admin's act): up to 30
// units, or none. A limit below what the balance already uses is refused.
func (w *world) opOverdraft(ctx context.Context) error {
	acc := w.account()
	limit := ledger.Zero
	if w.rng.IntN(3) != 0 {
		limit = w.amount(30)
	}
	var b ledger.Balance
	err := w.on(ctx, w.proc(), func(l *ledger.Ledger) error {
		var err error
		b, err = l.SetOverdraft(ctx, acc, limit, "admin")
		return err
	})
	w.note("  overdraft %s %s: %s available %v", acc, limit, b.Overdraft, err)
	switch {
	case err == nil:
		if b.Overdraft != limit || b.Available.IsNegative() {
			return w.fail("overdraft of %s set to %s answered %+v", acc, limit, b)
		}
		return nil
	case faulted(err), errors.Is(err, ledger.ErrOverdraft):
		return nil
	}
	return w.fail("overdraft of %s: unexpected answer %v", acc, err)
}
