package ledger

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/openacquire/acquire/runtime/store"
)

// TransferRequest asks to move Amount from From to To under the client's
// idempotency key ID. A zero ReceiptBy makes a direct transfer; otherwise
// the transfer is provisional until receipted, refunded, voided or expired
// at ReceiptBy. Authorisation is opaque to the ledger and recorded with
// every entry the transfer causes.
type TransferRequest struct {
	ID            string    `json:"id"`
	From          string    `json:"from"`
	To            string    `json:"to"`
	Amount        Amount    `json:"amount"`
	Description   string    `json:"description,omitempty"`
	Authorisation string    `json:"authorisation,omitempty"`
	ReceiptBy     time.Time `json:"receipt_by,omitzero"`
}

// State of a transfer.
type State string

// The states.
const (
	StateApplied   State = "applied"   // direct transfer, both sides applied
	StateRefused   State = "refused"   // insufficient funds: nothing moved, ever
	StatePending   State = "pending"   // provisional, both sides applied, unresolved
	StateReceipted State = "receipted" // provisional, receipted (maybe in part)
	StateRefunded  State = "refunded"
	StateVoided    State = "voided"
	StateExpired   State = "expired"
)

// Resolution kinds of a provisional transfer.
const (
	ResolveReceipt = "receipt"
	ResolveRefund  = "refund"
	ResolveVoid    = "void"
	ResolveExpire  = "expire"
)

var resolvedState = map[string]State{
	ResolveReceipt: StateReceipted, ResolveRefund: StateRefunded,
	ResolveVoid: StateVoided, ResolveExpire: StateExpired,
}

// TransferResult is what a transfer came to. The same id always gives the
// same item indices: they are read back from the account logs.
type TransferResult struct {
	ID          string      `json:"id"`
	State       State       `json:"state"`
	Provisional bool        `json:"provisional,omitempty"`
	Amount      Amount      `json:"amount"`
	DebitItem   uint64      `json:"debit_item"`            // item in From's log (debit or refusal)
	CreditItem  uint64      `json:"credit_item,omitempty"` // item in To's log
	Resolution  *Resolution `json:"resolution,omitempty"`
}

// Resolution is the one resolution of a provisional transfer.
type Resolution struct {
	Transfer      string    `json:"transfer"`
	Kind          string    `json:"kind"`
	Receipted     Amount    `json:"receipted"` // moved to the payee; the rest went back
	Authorisation string    `json:"authorisation,omitempty"`
	At            time.Time `json:"at"`
	FromBound     uint64    `json:"from_bound"`
	ToBound       uint64    `json:"to_bound"`
	SettleDebit   uint64    `json:"settle_debit_item,omitempty"`  // filled in results only
	SettleCredit  uint64    `json:"settle_credit_item,omitempty"` // filled in results only
}

// transferRecord is the object at ledger/transfers/<id>. It is written
// once with put-if-absent before either side is applied. The bounds are
// head indexes of both accounts read before the write: every entry of the
// transfer is appended after the record exists, so it lies above them.
// State and the item indexes are a best-effort cache written afterwards;
// the account logs are the authority.
type transferRecord struct {
	TransferRequest
	Recorded   time.Time `json:"recorded"`
	FromBound  uint64    `json:"from_bound"`
	ToBound    uint64    `json:"to_bound"`
	State      State     `json:"state,omitempty"`
	Refusal    string    `json:"refusal,omitempty"` // with State refused: the refused entry's reason
	DebitItem  uint64    `json:"debit_item,omitempty"`
	CreditItem uint64    `json:"credit_item,omitempty"`
	// Resolution is set only in a record run: the settled resolution of
	// a provisional transfer, with its settle items.
	Resolution *Resolution `json:"resolution,omitempty"`

	// final: read from a record run, so State, the items and Resolution
	// are the transfer's outcome, never to change.
	final bool
	// readAt is when the call holding this record began looking for it:
	// a record or resolution it writes must land within a quarter of the
	// retry horizon of it (see checkPace).
	readAt time.Time
}

// checkPace refuses a put-if-absent of a record or resolution more than a
// quarter of the retry horizon after the call started looking for it.
// Record compaction deletes an object only a horizon after it was
// recorded, so a call within its pace can never find a record or
// resolution absent, then create a second one after the first was moved
// into a run (DESIGN.md, "Records").
func (l *Ledger) checkPace(start time.Time) error {
	if l.clock().Sub(start) > l.horizon/4 {
		return fmt.Errorf("%w: started %v ago", ErrTooSlow, l.clock().Sub(start))
	}
	return nil
}

// sameRequest compares the content of two requests for one id.
func sameRequest(a, b TransferRequest) bool {
	return a.ID == b.ID && a.From == b.From && a.To == b.To && a.Amount == b.Amount &&
		a.Description == b.Description && a.Authorisation == b.Authorisation && a.ReceiptBy.Equal(b.ReceiptBy)
}

func (r TransferRequest) provisional() bool { return !r.ReceiptBy.IsZero() }

func (l *Ledger) validate(req *TransferRequest) error {
	err := errors.Join(checkID("transfer", req.ID), checkID("account", req.From), checkID("account", req.To),
		checkText("description", req.Description, MaxDescriptionBytes),
		checkText("authorisation", req.Authorisation, MaxAuthorisationBytes))
	if err != nil {
		return err
	}
	if req.From == req.To {
		return fmt.Errorf("%w: from and to are both %s", ErrInvalid, req.From)
	}
	if !req.Amount.IsPositive() || req.Amount.Cmp(MaxAmount) > 0 {
		return fmt.Errorf("%w: amount %s not in (0, %s]", ErrInvalid, req.Amount, MaxAmount)
	}
	if req.provisional() {
		req.ReceiptBy = req.ReceiptBy.UTC().Truncate(time.Millisecond)
	}
	return nil
}

// Transfer records the transfer under req.ID and applies it to both
// accounts. Retrying with the same id and content returns the first result
// (or finishes a half-applied transfer); the same id with other content
// fails with ErrIDConflict. Insufficient funds fail with
// ErrInsufficientFunds and move nothing; the refusal is final: a retry of
// that id returns it again even if funds arrived meanwhile.
func (l *Ledger) Transfer(ctx context.Context, req TransferRequest) (TransferResult, error) {
	return l.transfer(ctx, req, false)
}

// TransferDecided is Transfer for a provisional transfer its caller
// decided on, durably and in time, before receipt_by: the ledger records
// it even if receipt_by has passed since (a process stalled between the
// decision and the record), and it is then expired at once. Without it,
// a decision to hold that came too late to be recorded would have no
// outcome (runtime/settlement's provisional transfers).
func (l *Ledger) TransferDecided(ctx context.Context, req TransferRequest) (TransferResult, error) {
	return l.transfer(ctx, req, true)
}

func (l *Ledger) transfer(ctx context.Context, req TransferRequest, decided bool) (TransferResult, error) {
	if err := l.validate(&req); err != nil {
		return TransferResult{}, err
	}
	start := l.clock()
	// Fast path for retries: an existing record decides, as an object or,
	// once compacted, in a record run (an in-memory filter says "not
	// there" for a new id).
	var old transferRecord
	ver, err := l.b.GetJSON(ctx, transferKey(req.ID), &old)
	if errors.Is(err, store.ErrNotFound) {
		var run *transferRecord
		if run, err = l.lookupRecord(ctx, req.ID, false); err == nil && run != nil {
			old, ver = *run, ""
		} else if err == nil {
			err = store.ErrNotFound
		}
	}
	if err == nil {
		if !sameRequest(old.TransferRequest, req) {
			return TransferResult{}, fmt.Errorf("%w: %s", ErrIDConflict, req.ID)
		}
		old.readAt = start
		return l.complete(ctx, &old, ver)
	}
	if !errors.Is(err, store.ErrNotFound) {
		return TransferResult{}, err
	}
	if req.provisional() && !decided && !req.ReceiptBy.After(l.clock()) {
		return TransferResult{}, fmt.Errorf("%w: receipt_by %v is not in the future", ErrInvalid, req.ReceiptBy)
	}
	rec := transferRecord{TransferRequest: req, Recorded: start, readAt: start}
	if rec.FromBound, err = l.headBound(ctx, req.From); err != nil {
		return TransferResult{}, err
	}
	if rec.ToBound, err = l.headBound(ctx, req.To); err != nil {
		return TransferResult{}, err
	}
	if req.provisional() {
		// Indexed for the expiry sweep before it exists, so no recorded
		// provisional transfer is ever missing from the index.
		_, err := l.b.PutJSONIfAbsent(ctx, expiryKey(req.ReceiptBy, req.ID), struct {
			ID string `json:"id"`
		}{req.ID})
		if err != nil && !errors.Is(err, store.ErrPrecondition) {
			return TransferResult{}, err
		}
	}
	if err := l.checkPace(start); err != nil {
		return TransferResult{}, err
	}
	ver, err = l.b.PutJSONIfAbsent(ctx, transferKey(req.ID), rec)
	if errors.Is(err, store.ErrPrecondition) { // a concurrent first attempt
		// Judged on the winner's record alone, decoded into a zero value:
		// decoding into ours would keep our values of every field its JSON
		// omits (receipt_by, description, authorisation), and we would apply
		// our request under its record.
		var won transferRecord
		ver, err = l.b.GetJSON(ctx, transferKey(req.ID), &won)
		if errors.Is(err, store.ErrNotFound) { // moved into a run meanwhile
			run, lerr := l.lookupRecord(ctx, req.ID, true)
			if lerr != nil {
				return TransferResult{}, lerr
			}
			if run == nil {
				return TransferResult{}, internal("transfer %s: record neither an object nor in a run after a lost put", req.ID)
			}
			won, ver, err = *run, "", nil
		}
		if err != nil {
			return TransferResult{}, err
		}
		won.readAt = start
		if !sameRequest(won.TransferRequest, req) {
			return TransferResult{}, fmt.Errorf("%w: %s", ErrIDConflict, req.ID)
		}
		rec = won
	} else if err != nil {
		return TransferResult{}, err
	}
	if err := l.step("recorded"); err != nil {
		return TransferResult{}, err
	}
	return l.complete(ctx, &rec, ver)
}

// Complete finishes a recorded transfer, whatever state a crash left it
// in, and returns its result. It is safe to call any number of times,
// concurrently, from any process. Like Transfer, a transfer refused for
// insufficient funds comes back with State refused and ErrInsufficientFunds.
func (l *Ledger) Complete(ctx context.Context, id string) (TransferResult, error) {
	rec, ver, err := l.record(ctx, id)
	if err != nil {
		return TransferResult{}, err
	}
	return l.complete(ctx, rec, ver)
}

func (l *Ledger) record(ctx context.Context, id string) (*transferRecord, store.Version, error) {
	if err := checkID("transfer", id); err != nil {
		return nil, "", err
	}
	start := l.clock()
	var rec transferRecord
	ver, err := l.b.GetJSON(ctx, transferKey(id), &rec)
	if errors.Is(err, store.ErrNotFound) {
		run, err := l.lookupRecord(ctx, id, false)
		if err != nil {
			return nil, "", err
		}
		if run == nil {
			return nil, "", fmt.Errorf("%w: %s", ErrNoTransfer, id)
		}
		run.readAt = start
		return run, "", nil
	}
	if err != nil {
		return nil, "", err
	}
	rec.readAt = start
	return &rec, ver, nil
}

// legs returns the debit and credit entries of a transfer and asserts that
// they balance: what leaves the payer's balance (or enters its liability)
// is exactly what enters the payee's balance (or receivable).
func legs(rec *transferRecord) (debit, credit Entry, err error) {
	base := Entry{
		Transfer: rec.ID, Amount: rec.Amount, Provisional: rec.provisional(), ReceiptBy: rec.ReceiptBy,
		Authorisation: rec.Authorisation, Description: rec.Description,
	}
	debit, credit = base, base
	debit.Leg, debit.Counterparty = LegDebit, rec.To
	credit.Leg, credit.Counterparty = LegCredit, rec.From
	if rec.provisional() {
		debit.DLiability, credit.DReceivable = rec.Amount, rec.Amount
	} else {
		debit.DBalance, credit.DBalance = rec.Amount.Neg(), rec.Amount
	}
	return debit, credit, checkBalanced(rec.ID, debit, credit)
}

// checkBalanced asserts debits equal credits for one pair of legs.
func checkBalanced(id string, d, c Entry) error {
	if d.DBalance.MicroUnits()+c.DBalance.MicroUnits() != 0 ||
		d.DLiability.MicroUnits() != c.DReceivable.MicroUnits() ||
		!d.DReceivable.IsZero() || !c.DLiability.IsZero() {
		return internal("transfer %s: debits %s/%s do not equal credits %s/%s",
			id, d.DBalance, d.DLiability, c.DBalance, c.DReceivable)
	}
	return nil
}

// sameMovement asserts that an entry found in (or written to) a log is the
// one the record asks for.
func sameMovement(want, got Entry) error {
	if got.Transfer != want.Transfer || got.Amount != want.Amount || got.Counterparty != want.Counterparty ||
		(got.Leg != LegRefused && (got.DBalance != want.DBalance || got.DLiability != want.DLiability ||
			got.DReceivable != want.DReceivable)) {
		return internal("transfer %s: %s entry in the log differs from the record", want.Transfer, want.Leg)
	}
	return nil
}

// refusedEntry is the debit slot's entry of a transfer refused for reason:
// it moves nothing.
func refusedEntry(debit Entry, reason string) Entry {
	e := debit
	e.Leg, e.Refusal = LegRefused, reason
	e.DBalance, e.DLiability, e.DReceivable = Zero, Zero, Zero
	return e
}

// creditRefusal says why the payee cannot take the transfer's credit now
// ("" if it can): a direct credit must keep its balance within MaxAmount;
// a provisional one its receivable, and also its balance plus receivable,
// so that a full receipt of everything promised to it would fit later.
// Only a fresh read of the payee's head refuses: the view this process
// has may lag, and a refusal is final.
func (l *Ledger) creditRefusal(ctx context.Context, rec *transferRecord) (string, error) {
	fits := func(h *Item) bool {
		if !rec.provisional() {
			_, err := h.Balance.Add(rec.Amount)
			return err == nil
		}
		r, err := h.Receivable.Add(rec.Amount)
		if err == nil {
			_, err = h.Balance.Add(r)
		}
		return err == nil
	}
	for _, fresh := range []bool{false, true} {
		h, err := l.view(ctx, rec.To, fresh)
		if err != nil {
			return "", err
		}
		if fits(h) {
			return "", nil
		}
	}
	return RefusalPayeeLimit, nil
}

// receiptRefusal refuses, before a resolution is recorded, a receipt whose
// amount the payee's balance could not take within MaxAmount.
func (l *Ledger) receiptRefusal(ctx context.Context, rec *transferRecord, amount Amount) error {
	h, err := l.view(ctx, rec.To, true)
	if err != nil {
		return err
	}
	if _, err := h.Balance.Add(amount); err != nil {
		return fmt.Errorf("%w: receipt of %s into %s", ErrPayeeLimit, amount, rec.To)
	}
	return nil
}

func (l *Ledger) complete(ctx context.Context, rec *transferRecord, ver store.Version) (TransferResult, error) {
	res := TransferResult{ID: rec.ID, Provisional: rec.provisional(), Amount: rec.Amount}
	debit, credit, err := legs(rec)
	if err != nil {
		return res, err
	}
	if rec.State == StateRefused {
		res.State, res.DebitItem = StateRefused, rec.DebitItem
		return res, refusalError(rec.Refusal, rec.ID)
	}
	if rec.final { // from a record run: its outcome, settled for good
		res.State, res.DebitItem, res.CreditItem = rec.State, rec.DebitItem, rec.CreditItem
		if rec.Resolution != nil {
			r := *rec.Resolution
			res.Resolution = &r
		}
		return res, nil
	}
	var d, c *legReq
	if rec.State == StateApplied && rec.DebitItem > 0 && rec.CreditItem > 0 {
		res.DebitItem, res.CreditItem = rec.DebitItem, rec.CreditItem
	} else {
		d = &legReq{bound: rec.FromBound, entry: debit}
		// Nothing moves unless the credit can follow: a payee that cannot
		// take it gets the transfer refused in the payer's debit slot (a
		// debit already there wins over this template, so the decision is
		// still made once).
		reason, err := l.creditRefusal(ctx, rec)
		if err != nil {
			return res, err
		}
		if reason != "" {
			d.entry = refusedEntry(debit, reason)
		}
		if err := l.apply(ctx, rec.From, d); err != nil {
			return res, err
		}
		if err := sameMovement(debit, d.got); err != nil {
			return res, err
		}
		res.DebitItem = d.n
		if d.got.Leg == LegRefused {
			res.State = StateRefused
			if d.found {
				l.saveOutcome(rec, ver, StateRefused, d.got.Refusal, d.n, 0)
			}
			return res, refusalError(d.got.Refusal, rec.ID)
		}
		if err := l.step("debited"); err != nil {
			return res, err
		}
		c = &legReq{bound: rec.ToBound, entry: credit}
		if err := l.apply(ctx, rec.To, c); err != nil {
			return res, err
		}
		if err := sameMovement(credit, c.got); err != nil {
			return res, err
		}
		if err := checkBalanced(rec.ID, d.got, c.got); err != nil {
			return res, err
		}
		res.CreditItem = c.n
		if err := l.step("credited"); err != nil {
			return res, err
		}
		if d.found && c.found {
			l.saveOutcome(rec, ver, StateApplied, "", d.n, c.n)
		}
	}
	if !rec.provisional() {
		res.State = StateApplied
		return res, nil
	}
	// Provisional: an existing resolution is finished; an expired one is
	// expired by this touch.
	r, err := l.resolution(ctx, rec)
	if err != nil {
		return res, err
	}
	if r == nil && !l.clock().Before(rec.ReceiptBy) {
		if r, err = l.recordResolution(ctx, rec, ResolveExpire, Zero, ""); err != nil {
			return res, err
		}
	}
	if r == nil {
		res.State = StatePending
		return res, nil
	}
	if err := l.settle(ctx, rec, r); err != nil {
		return res, err
	}
	res.State, res.Resolution = resolvedState[r.Kind], r
	return res, nil
}

// saveOutcome caches the outcome in the transfer record, in the background
// and only if nobody changed it: a lost or skipped write costs the next
// Complete of this id a scan of the logs, never correctness. Callers save
// only an outcome they found already in both logs (a retry or Complete of a
// finished transfer), never on a transfer's first run: there it would cost
// a durable write per transfer (on the file store also a fresh inode and a
// freed one), for the benefit of retries, which are rare.
func (l *Ledger) saveOutcome(rec *transferRecord, ver store.Version, s State, refusal string, debitItem, creditItem uint64) {
	if ver == "" || rec.State != "" || l.noOutcome {
		return
	}
	upd := *rec
	upd.State, upd.Refusal, upd.DebitItem, upd.CreditItem = s, refusal, debitItem, creditItem
	l.background(func(ctx context.Context) {
		_, _ = l.b.PutJSONIfVersion(ctx, transferKey(rec.ID), upd, ver)
	})
}

// resolution reads rec's resolution, as an object or, once compacted,
// from its record run.
func (l *Ledger) resolution(ctx context.Context, rec *transferRecord) (*Resolution, error) {
	var r Resolution
	_, err := l.b.GetJSON(ctx, resolutionKey(rec.ID), &r)
	if errors.Is(err, store.ErrNotFound) {
		run, err := l.lookupRecord(ctx, rec.ID, false)
		if err != nil || run == nil || run.Resolution == nil {
			return nil, err
		}
		return run.Resolution, nil
	}
	if err != nil {
		return nil, err
	}
	return &r, nil
}

// recordResolution writes the one resolution of a provisional transfer with
// put-if-absent and returns whichever resolution won.
func (l *Ledger) recordResolution(ctx context.Context, rec *transferRecord, kind string, receipted Amount, auth string) (*Resolution, error) {
	r := Resolution{Transfer: rec.ID, Kind: kind, Receipted: receipted, Authorisation: auth, At: l.clock()}
	var err error
	if r.FromBound, err = l.headBound(ctx, rec.From); err != nil {
		return nil, err
	}
	if r.ToBound, err = l.headBound(ctx, rec.To); err != nil {
		return nil, err
	}
	if err := l.checkPace(rec.readAt); err != nil {
		return nil, err
	}
	_, err = l.b.PutJSONIfAbsent(ctx, resolutionKey(rec.ID), r)
	if errors.Is(err, store.ErrPrecondition) {
		return l.resolution(ctx, rec)
	}
	if err != nil {
		return nil, err
	}
	if err := l.step("resolution-recorded"); err != nil {
		return nil, err
	}
	return &r, nil
}

// settle applies a recorded resolution to both accounts, idempotently: the
// payer's liability falls by the amount and its balance by the receipted
// part; the payee's receivable falls by the amount and its balance rises
// by the receipted part.
func (l *Ledger) settle(ctx context.Context, rec *transferRecord, r *Resolution) error {
	if r.Receipted.IsNegative() || r.Receipted.Cmp(rec.Amount) > 0 {
		return internal("transfer %s: receipted %s outside [0, %s]", rec.ID, r.Receipted, rec.Amount)
	}
	receipted := r.Receipted
	base := Entry{
		Transfer: rec.ID, Amount: rec.Amount, Receipted: &receipted, Resolution: r.Kind, Provisional: true,
		ReceiptBy: rec.ReceiptBy, Authorisation: r.Authorisation, Description: rec.Description,
	}
	d, c := base, base
	d.Leg, d.Counterparty, d.DLiability, d.DBalance = LegSettleDebit, rec.To, rec.Amount.Neg(), r.Receipted.Neg()
	c.Leg, c.Counterparty, c.DReceivable, c.DBalance = LegSettleCredit, rec.From, rec.Amount.Neg(), r.Receipted
	// Debits equal credits: the liability released equals the receivable
	// released, and the balance moves by the same receipted amount.
	if d.DBalance.MicroUnits()+c.DBalance.MicroUnits() != 0 || d.DLiability != c.DReceivable {
		return internal("transfer %s: settlement does not balance", rec.ID)
	}
	dr := &legReq{bound: r.FromBound, entry: d}
	if err := l.apply(ctx, rec.From, dr); err != nil {
		return err
	}
	if err := sameMovement(d, dr.got); err != nil {
		return err
	}
	r.SettleDebit = dr.n
	if err := l.step("settled-debit"); err != nil {
		return err
	}
	cr := &legReq{bound: r.ToBound, entry: c}
	if err := l.apply(ctx, rec.To, cr); err != nil {
		return err
	}
	if err := sameMovement(c, cr.got); err != nil {
		return err
	}
	r.SettleCredit = cr.n
	if err := l.step("settled-credit"); err != nil {
		return err
	}
	// Done: the expiry index entry is no longer needed (best effort).
	key := expiryKey(rec.ReceiptBy, rec.ID)
	l.background(func(ctx context.Context) { _ = l.b.Delete(ctx, key) })
	return nil
}

// Receipt settles a provisional transfer, moving amount (0 < amount <=
// the transfer's amount) to the payee and returning the rest to the payer.
// Repeating the same receipt returns the same result; any other second
// resolution fails with ErrAlreadyResolved, and a receipt at or after
// receipt_by expires the transfer instead and fails with ErrExpired.
func (l *Ledger) Receipt(ctx context.Context, id string, amount Amount, authorisation string) (TransferResult, error) {
	return l.resolve(ctx, id, ResolveReceipt, amount, authorisation)
}

// Refund returns a provisional transfer's whole amount to the payer (the
// payee gives it back).
func (l *Ledger) Refund(ctx context.Context, id string, authorisation string) (TransferResult, error) {
	return l.resolve(ctx, id, ResolveRefund, Zero, authorisation)
}

// Void cancels a provisional transfer (the payer withdraws it): the whole
// amount returns to the payer.
func (l *Ledger) Void(ctx context.Context, id string, authorisation string) (TransferResult, error) {
	return l.resolve(ctx, id, ResolveVoid, Zero, authorisation)
}

func (l *Ledger) resolve(ctx context.Context, id, kind string, amount Amount, auth string) (TransferResult, error) {
	if err := checkText("authorisation", auth, MaxAuthorisationBytes); err != nil {
		return TransferResult{}, err
	}
	rec, _, err := l.record(ctx, id)
	if err != nil {
		return TransferResult{}, err
	}
	if !rec.provisional() {
		return TransferResult{}, fmt.Errorf("%w: %s", ErrNotProvisional, id)
	}
	if kind == ResolveReceipt {
		if !amount.IsPositive() {
			return TransferResult{}, fmt.Errorf("%w: receipt of %s", ErrInvalid, amount)
		}
		if amount.Cmp(rec.Amount) > 0 {
			return TransferResult{}, fmt.Errorf("%w: %s above %s", ErrOverReceipt, amount, rec.Amount)
		}
	}
	// Both sides must be applied before the resolution is recorded, so the
	// settle entries always follow the transfer's entries in each log.
	// complete also expires the transfer if receipt_by has passed. It is
	// given no version, so it caches no outcome: a resolution normally
	// follows its transfer's first run, whose legs it finds already
	// applied, and the cache would be a conditional put on every receipt,
	// refund and void (and on every cheque and job settled), paid for the
	// benefit of a retry of the transfer itself, which is rare
	// (docs/design/cost.md).
	res, err := l.complete(ctx, rec, "")
	if Refused(err) {
		return res, fmt.Errorf("%w: %s", ErrRefused, id)
	}
	if err != nil {
		return res, err
	}
	r := res.Resolution
	if r == nil {
		if kind == ResolveReceipt {
			if err := l.receiptRefusal(ctx, rec, amount); err != nil {
				return res, err
			}
		}
		if r, err = l.recordResolution(ctx, rec, kind, amount, auth); err != nil {
			return res, err
		}
		if err := l.settle(ctx, rec, r); err != nil {
			return res, err
		}
		res.State, res.Resolution = resolvedState[r.Kind], r
	}
	switch {
	case r.Kind == kind && r.Receipted == amount && r.Authorisation == auth:
		return res, nil // this request, or an identical retry of it
	case r.Kind == ResolveExpire:
		return res, fmt.Errorf("%w: %s", ErrExpired, id)
	default:
		return res, fmt.Errorf("%w: %s was %s", ErrAlreadyResolved, id, r.Kind)
	}
}

// Expire expires every provisional transfer whose receipt_by is at or
// before now and which is not resolved yet, and finishes any resolution a
// crash left half-applied. It returns how many transfers it expired or
// finished. Many sweepers may run at once: each resolution is recorded
// once, with put-if-absent, and applied idempotently.
//
// One transfer that cannot be finished never stops the sweep: it is
// logged, counted, and left in the index for the next sweep, and the rest
// proceed; the error then wraps ErrSweepIncomplete. Only a failure to
// list the index (or a cancelled ctx) stops it early.
func (l *Ledger) Expire(ctx context.Context, now time.Time) (int, error) {
	cut := now.UnixMilli()
	count, failed := 0, 0
	var first error
	token := ""
	for {
		page, err := l.b.List(ctx, expiryPre, token, MaxPageSize)
		if err != nil {
			return count, err
		}
		for _, it := range page.Items {
			stamp, id, err := parseExpiryKey(it.Key)
			if err == nil && stamp > cut {
				return count, sweepError(failed, first) // keys are in time order: the rest are later
			}
			done := false
			if err == nil {
				done, err = l.expireOne(ctx, it.Key, id, now)
			}
			if ctx.Err() != nil {
				return count, ctx.Err()
			}
			if err != nil {
				failed++
				if first == nil {
					first = err
				}
				l.log.Warn("ledger: expiry sweep could not finish a transfer; the next sweep retries it",
					"key", it.Key, "err", err)
				continue
			}
			if done {
				count++
			}
		}
		if page.Next == "" {
			return count, sweepError(failed, first)
		}
		token = page.Next
	}
}

func sweepError(failed int, first error) error {
	if failed == 0 {
		return nil
	}
	return fmt.Errorf("%w: %d transfers, first: %w", ErrSweepIncomplete, failed, first)
}

func parseExpiryKey(key string) (stamp int64, id string, err error) {
	var enc string
	if _, err := fmt.Sscanf(key[len(expiryPre):], "%20d/%s", &stamp, &enc); err != nil {
		return 0, "", internal("bad expiry key %q", key)
	}
	if id, err = store.DecodeName(enc); err != nil {
		return 0, "", internal("bad expiry key %q", key)
	}
	return stamp, id, nil
}

// expireOne finishes the provisional transfer id indexed at key as of now:
// expires it if still pending, finishes a resolution already recorded. It
// says whether it expired or finished anything.
func (l *Ledger) expireOne(ctx context.Context, key, id string, now time.Time) (bool, error) {
	rec, ver, err := l.record(ctx, id)
	if errors.Is(err, ErrNoTransfer) {
		return false, nil // indexed, then never recorded (or not yet): nothing to expire
	}
	if err != nil {
		return false, err
	}
	if !rec.provisional() || rec.ReceiptBy.After(now) {
		return false, nil // an index entry of a losing attempt under this id
	}
	if rec.final { // compacted: settled long ago; the entry is left over
		l.background(func(ctx context.Context) { _ = l.b.Delete(ctx, key) })
		return false, nil
	}
	// Finish the transfer and any resolution already recorded.
	res, err := l.complete(ctx, rec, ver)
	if Refused(err) {
		l.background(func(ctx context.Context) { _ = l.b.Delete(ctx, key) })
		return false, nil // refused: nothing was held, nothing to release
	}
	if err != nil {
		return false, err
	}
	if res.State == StatePending { // the sweeper's now decides, not the local clock
		r, err := l.recordResolution(ctx, rec, ResolveExpire, Zero, "")
		if err != nil {
			return false, err
		}
		if err := l.settle(ctx, rec, r); err != nil {
			return false, err
		}
	}
	return true, nil
}
