package settlement

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/openacquire/acquire/runtime/ledger"
	"github.com/openacquire/acquire/runtime/store"
)

// Out is a payer's request: pay Amount from From (an account in this
// ledger) to To (an account in the peer's ledger), under ID.
type Out struct {
	ID            string        `json:"id"`
	From          string        `json:"from"`
	Peer          string        `json:"peer"`
	To            string        `json:"to"`
	Amount        ledger.Amount `json:"amount"`
	Description   string        `json:"description,omitempty"`
	Authorisation string        `json:"authorisation,omitempty"` // recorded in the ledger (a summary)
	// ReceiptBy makes it provisional: the payee's region holds it until
	// the payee receipts (part of) it or refunds it, or until then, when
	// it returns to the payer. Zero: a direct transfer.
	ReceiptBy time.Time `json:"receipt_by,omitzero"`
}

// outRecord is the object at settlement/out/<id>, written once with
// put-if-absent. An abandoned record is the sweep's tombstone for an id
// whose first attempt died before recording it: it keeps a late first
// attempt from recording it after the sweep gave up on it.
type outRecord struct {
	Out
	Created   time.Time `json:"created"`
	CreditBy  time.Time `json:"credit_by"`
	Abandoned bool      `json:"abandoned,omitempty"`
}

func (r *outRecord) same(o *Out) bool {
	return !r.Abandoned && r.From == o.From && r.Peer == o.Peer && r.To == o.To && r.Amount == o.Amount &&
		r.Description == o.Description && r.ReceiptBy.Equal(o.ReceiptBy)
}

func (r *outRecord) provisional() bool { return !r.ReceiptBy.IsZero() }

// Status is where a transfer stands on the sending side.
type Status struct {
	ID          string        `json:"id"`
	State       string        `json:"state"` // Pending, Held, Committed, Returned or Declined
	From        string        `json:"from"`
	Peer        string        `json:"peer"`
	To          string        `json:"to"`
	Amount      ledger.Amount `json:"amount"`
	Created     time.Time     `json:"created"`
	CreditBy    time.Time     `json:"credit_by"`
	Reason      string        `json:"reason,omitempty"`
	Prepare     string        `json:"prepare_transfer,omitempty"` // ledger id here: payer -> escrow
	Finish      string        `json:"finish_transfer,omitempty"`  // ledger id here: escrow -> position or payer
	PeerCredit  string        `json:"peer_transfer,omitempty"`    // the peer's ledger id of the credit
	PeerDecided string        `json:"peer_decision,omitempty"`
	// Provisional transfers: the hold's receipt_by, and once settled its
	// resolution at the peer and the part receipted (committed; the rest
	// came back, under Return).
	ReceiptBy  time.Time      `json:"receipt_by,omitzero"`
	Resolution string         `json:"resolution,omitempty"`
	Receipted  *ledger.Amount `json:"receipted,omitempty"`
	Return     string         `json:"return_transfer,omitempty"` // ledger id here: escrow -> payer, the unreceipted rest
	// DecidedBy says, for a Held transfer, who settles it now:
	// DecidedByPayee.
	DecidedBy string `json:"decided_by,omitempty"`
}

// DecidedByPayee: a held transfer is settled by its payee at the peer
// (a receipt of part or all of it, or a refund), or, if the payee does
// neither by receipt_by, by the hold's expiry there (all of it back).
const DecidedByPayee = "payee"

// heldRecord notes, at settlement/held/<id>, that the peer answered
// Held, so that Status (which asks no peer) can say so. It is only a
// note: no step of the protocol reads it, a finish outranks it, and a
// missing one (a crash before it was written) leaves Status at Pending.
type heldRecord struct {
	PeerCredit string    `json:"peer_transfer"`
	At         time.Time `json:"at"`
}

func heldKey(id string) string { return keyPre + "held/" + store.EncodeName(id) }

// noteHeld writes the held note once (best effort: see heldRecord).
func (s *Settler) noteHeld(ctx context.Context, rec *outRecord, ans CreditAnswer) {
	_, err := s.c.Bucket.PutJSONIfAbsent(ctx, heldKey(rec.ID), heldRecord{PeerCredit: ans.Transfer, At: s.now()})
	if err != nil && !errors.Is(err, store.ErrPrecondition) {
		s.c.Log.Warn("settlement: noting a held transfer failed; its status shows pending", "id", rec.ID, "err", err)
	}
}

// held marks st Held if the peer was noted to hold it.
func (s *Settler) held(ctx context.Context, rec *outRecord, st *Status) error {
	var h heldRecord
	_, err := s.c.Bucket.GetJSON(ctx, heldKey(rec.ID), &h)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil
	case err != nil:
		return err
	}
	st.State, st.PeerCredit, st.PeerDecided, st.DecidedBy = Held, h.PeerCredit, Held, DecidedByPayee
	return nil
}

func (r *outRecord) status(state string) Status {
	return Status{ID: r.ID, State: state, From: r.From, Peer: r.Peer, To: r.To, Amount: r.Amount, Created: r.Created,
		CreditBy: r.CreditBy, Prepare: prepareID(r.ID), ReceiptBy: r.ReceiptBy}
}

func (s *Settler) checkOut(o *Out) error {
	if err := CheckID(o.ID); err != nil {
		return err
	}
	if err := errors.Join(ledger.CheckID("account", o.From), ledger.CheckID("account", o.To)); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if err := checkAmount(o.Amount); err != nil {
		return err
	}
	if !o.ReceiptBy.IsZero() {
		o.ReceiptBy = o.ReceiptBy.UTC().Truncate(time.Millisecond)
		if o.ReceiptBy.After(s.c.Clock().Add(MaxReceiptBy)) {
			return fmt.Errorf("%w: receipt_by more than %s ahead", ErrInvalid, MaxReceiptBy)
		}
	}
	if o.From == ledger.MintAccount || IsSettlementAccount(o.From) {
		return fmt.Errorf("%w: %s cannot pay a peer", ErrInvalid, o.From)
	}
	if len(o.Peer) > MaxPeerURLBytes || o.Peer == s.c.Self {
		return fmt.Errorf("%w: %q", ErrUnknownPeer, clip(o.Peer))
	}
	if _, ok := s.c.Peers(o.Peer); !ok {
		return fmt.Errorf("%w: %q", ErrUnknownPeer, clip(o.Peer))
	}
	return nil
}

// Send runs a transfer to the peer to the end if it can: recorded,
// prepared, decided by the peer, finished. Sending the same Out again
// (same id and content) returns where it stands, finishing it if it can;
// the same id with other content fails with ErrConflict. It answers:
//   - Committed, nil: the payee was credited at the peer;
//   - Declined and the ledger's refusal: the payer's funds did not allow
//     it (final for the id, as in the ledger);
//   - Returned and ErrAborted: the peer did not credit; the money is back;
//   - Pending and ErrPeerUnreachable: in flight, held in escrow, finished
//     by a retry or the sweep once the peer answers;
//   - any other error: in flight; a retry finishes it.
func (s *Settler) Send(ctx context.Context, o Out) (Status, error) {
	if err := s.checkOut(&o); err != nil {
		return Status{}, err
	}
	rec, err := s.record(ctx, &o)
	if err != nil {
		return Status{}, err
	}
	return s.drive(ctx, rec, false)
}

// record writes the transfer's record (after its sweep index entry, so no
// recorded transfer is missing from the index) or reads the first one.
func (s *Settler) record(ctx context.Context, o *Out) (*outRecord, error) {
	old, err := s.outRecord(ctx, o.ID)
	if err == nil {
		if !old.same(o) {
			return nil, s.conflict(old)
		}
		return old, nil
	}
	if !errors.Is(err, ErrNoTransfer) {
		return nil, err
	}
	now := s.now()
	rec := &outRecord{Out: *o, Created: now, CreditBy: now.Add(s.c.Window)}
	if rec.provisional() {
		// Checked only when recording: a retry after receipt_by is fine.
		if !rec.ReceiptBy.After(now) {
			return nil, fmt.Errorf("%w: receipt_by %s is not in the future", ErrInvalid, rec.ReceiptBy.Format(time.RFC3339Nano))
		}
		// The peer must decide (and so hold) before the hold would expire.
		if rec.ReceiptBy.Before(rec.CreditBy) {
			rec.CreditBy = rec.ReceiptBy
		}
	}
	if _, err := s.c.Bucket.PutJSONIfAbsent(ctx, dueKey(rec.Created, rec.ID), struct {
		ID string `json:"id"`
	}{rec.ID}); err != nil && !errors.Is(err, store.ErrPrecondition) {
		return nil, err
	}
	if err := s.step("indexed"); err != nil {
		return nil, err
	}
	if _, err := s.c.Bucket.PutJSONIfAbsent(ctx, outKey(rec.ID), rec); errors.Is(err, store.ErrPrecondition) {
		won, err := s.outRecord(ctx, o.ID)
		if err != nil {
			return nil, err
		}
		if !won.same(o) {
			return nil, s.conflict(won)
		}
		return won, nil // our index entry is left to the sweep, which finds the id recorded
	} else if err != nil {
		return nil, err
	}
	if err := s.step("recorded"); err != nil {
		return nil, err
	}
	return rec, nil
}

func (s *Settler) conflict(old *outRecord) error {
	if old.Abandoned {
		return fmt.Errorf("%w: %s: its first attempt stopped before it was recorded and the sweep closed it; use a new id", ErrAborted, old.ID)
	}
	return fmt.Errorf("%w: %s", ErrConflict, old.ID)
}

func (s *Settler) outRecord(ctx context.Context, id string) (*outRecord, error) {
	var r outRecord
	if _, err := s.c.Bucket.GetJSON(ctx, outKey(id), &r); errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("%w: %s", ErrNoTransfer, id)
	} else if err != nil {
		return nil, err
	}
	return &r, nil
}

// drive takes a recorded transfer as far as it can go. Every step is
// idempotent, so any number of drives (retries, sweeps, after crashes)
// may run at once. sync finishes a committed transfer before returning
// (the sweep); otherwise its bookkeeping may finish in the background.
func (s *Settler) drive(ctx context.Context, rec *outRecord, sync bool) (Status, error) {
	if rec.Abandoned {
		st := rec.status(Returned)
		st.Reason = "abandoned"
		return st, s.conflict(rec)
	}
	if st, done, err := s.finished(ctx, rec); done || err != nil {
		return st, err
	}
	if err := s.ensure(ctx, rec.Peer); err != nil {
		return rec.status(Pending), err
	}
	prep := ledger.TransferRequest{ID: prepareID(rec.ID), From: rec.From, To: EscrowAccount(rec.Peer), Amount: rec.Amount,
		Description: describe(rec), Authorisation: rec.Authorisation}
	if _, err := s.c.Ledger.Transfer(ctx, prep); ledger.Refused(err) {
		st := rec.status(Declined)
		st.Reason = err.Error()
		s.forget(ctx, rec)
		return st, err
	} else if err != nil {
		return rec.status(Pending), err
	}
	if err := s.step("prepared"); err != nil {
		return rec.status(Pending), err
	}
	ans, err := s.ask(ctx, rec)
	if err != nil {
		return rec.status(Pending), err
	}
	if err := s.step("decided"); err != nil {
		return rec.status(Pending), err
	}
	if ans.State == Held {
		// Decided and held at the peer: the payee's receipt, refund or
		// the hold's expiry there settles it; a later ask (a retry, the
		// sweep) learns which. The money stays in escrow here meanwhile.
		s.noteHeld(ctx, rec, ans)
		st := rec.status(Held)
		st.PeerCredit, st.PeerDecided, st.DecidedBy = ans.Transfer, ans.State, DecidedByPayee
		return st, nil
	}
	if ans.State == Credited && !sync && s.finishLater(rec, ans) {
		// The peer's decision is the commit point: the payee has the
		// money and the payer's is in escrow, so the answer is final now.
		// Moving the escrow to the position is bookkeeping this side
		// finishes off the critical path (a crash leaves it to the sweep).
		st := rec.status(Committed)
		st.Finish, st.PeerCredit, st.PeerDecided = finishID(rec.ID), ans.Transfer, ans.State
		return st, nil
	}
	return s.finish(ctx, rec, ans)
}

// finishLater runs the finish of a committed transfer in the background
// if a slot is free (at most maxBackground at once) and says whether it
// did; the caller finishes it itself otherwise.
func (s *Settler) finishLater(rec *outRecord, ans CreditAnswer) bool {
	if s.c.SyncFinish {
		return false
	}
	select {
	case s.slots <- struct{}{}:
	default:
		return false
	}
	s.bg.Go(func() {
		defer func() { <-s.slots }()
		ctx, cancel := context.WithTimeout(context.Background(), s.c.PeerTimeout+time.Minute)
		defer cancel()
		if _, err := s.finish(ctx, rec, ans); err != nil {
			s.c.Log.Warn("settlement: finishing a committed transfer failed; the sweep finishes it", "id", rec.ID, "err", err)
		}
	})
	return true
}

// Close waits for background finishes (at shutdown).
func (s *Settler) Close() error {
	s.bg.Wait()
	return nil
}

// Quiesce waits until no background finish of this process is in flight
// (or ctx ends), so that a reader of positions or statuses sees every
// transfer this process answered as committed finished in its ledger.
func (s *Settler) Quiesce(ctx context.Context) error {
	s.quiesce.Lock()
	defer s.quiesce.Unlock()
	held := 0
	defer func() {
		for range held {
			<-s.slots
		}
	}()
	for held < cap(s.slots) {
		select {
		case s.slots <- struct{}{}:
			held++
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// describe is the description the ledger records on this side.
func describe(r *outRecord) string {
	d := "to " + r.To + " at peer " + peerHash(r.Peer)
	if r.Description != "" {
		d += ": " + r.Description
	}
	return clipBytes(d, ledger.MaxDescriptionBytes)
}

func clipBytes(s string, n int) string {
	for len(s) > n {
		s = s[:len(s)-1]
	}
	return s
}

// ask asks the peer for its decision, within PeerTimeout.
func (s *Settler) ask(ctx context.Context, rec *outRecord) (CreditAnswer, error) {
	p, ok := s.c.Peers(rec.Peer)
	if !ok {
		// Peering removed while the transfer was in flight: it stays held
		// until the peer is configured again (nothing else can decide).
		return CreditAnswer{}, fmt.Errorf("%w: %q (transfer %s is held until it is a peer again)", ErrUnknownPeer, clip(rec.Peer), rec.ID)
	}
	cctx, cancel := context.WithTimeout(ctx, s.c.PeerTimeout)
	defer cancel()
	ans, err := p.Credit(cctx, CreditRequest{ID: rec.ID, To: rec.To, Amount: rec.Amount, CreditBy: rec.CreditBy,
		Description: rec.Description, ReceiptBy: rec.ReceiptBy})
	if err != nil {
		if ctx.Err() != nil {
			return ans, ctx.Err()
		}
		return ans, fmt.Errorf("%w: %s: %w", ErrPeerUnreachable, clip(rec.Peer), err)
	}
	if ans.ID != rec.ID || !validAnswer(rec, &ans) {
		return ans, fmt.Errorf("%w: answer %q for %s", ErrPeerContradiction, ans.State, rec.ID)
	}
	return ans, nil
}

// finish applies the peer's decision: escrow to the position account if
// it credited, back to the payer otherwise. Both are the same ledger id,
// so whichever is recorded first is the only one that can ever apply. A
// provisional transfer's settled hold moves its receipted part to the
// position (if any) and the rest back to the payer, under a second id.
func (s *Settler) finish(ctx context.Context, rec *outRecord, ans CreditAnswer) (Status, error) {
	receipted := ledger.Zero
	switch ans.State {
	case Credited:
		receipted = rec.Amount
	case Settled:
		receipted = *ans.Receipted
	}
	fin := ledger.TransferRequest{ID: finishID(rec.ID), From: EscrowAccount(rec.Peer), To: rec.From, Amount: rec.Amount,
		Description: describe(rec), Authorisation: finishAuth(ans, receipted)}
	if receipted.IsPositive() {
		fin.To, fin.Amount = PositionAccount(rec.Peer), receipted
	}
	_, err := s.c.Ledger.Transfer(ctx, fin)
	switch {
	case errors.Is(err, ledger.ErrIDConflict):
		s.c.Log.Error("settlement: peer contradicts its decision", "id", rec.ID, "peer", rec.Peer, "answer", ans.State)
		return rec.status(Pending), fmt.Errorf("%w: %s answered %s", ErrPeerContradiction, rec.ID, ans.State)
	case ledger.Refused(err):
		// Asserted: escrow always holds every prepared, unfinished amount.
		return rec.status(Pending), fmt.Errorf("%w: finishing %s: %w", ledger.ErrInternal, rec.ID, err)
	case err != nil:
		return rec.status(Pending), err
	}
	if err := s.giveBack(ctx, rec, fin); err != nil {
		return rec.status(Pending), err
	}
	if err := s.step("finished"); err != nil {
		return rec.status(Pending), err
	}
	s.forget(ctx, rec)
	st, err := outcome(rec, fin)
	st.PeerCredit = ans.Transfer
	if st.State == Returned && ans.Reason != "" {
		st.Reason = ans.Reason
	}
	if errors.Is(err, ErrAborted) {
		err = fmt.Errorf("%w: %s: %s %s", ErrAborted, rec.ID, ans.State, ans.Reason)
	}
	return st, err
}

// finishAuth is what the finish records of the peer's answer; outcome
// reads it back, so a status read later reports the same.
func finishAuth(ans CreditAnswer, receipted ledger.Amount) string {
	a := "settlement peer decision=" + ans.State
	if ans.State == Settled {
		a += " resolution=" + ans.Resolution + " receipted=" + receipted.String()
	}
	return a
}

// validAnswer says whether ans is an answer the peer may give to rec.
func validAnswer(rec *outRecord, ans *CreditAnswer) bool {
	switch ans.State {
	case Refused, Aborted:
		return true
	case Credited:
		return !rec.provisional()
	case Held:
		return rec.provisional()
	case Settled:
		return rec.provisional() && ans.Receipted != nil && !ans.Receipted.IsNegative() && ans.Receipted.Cmp(rec.Amount) <= 0
	}
	return false
}

// giveBack returns the unreceipted rest of a provisional transfer whose
// finish moved only part of it to the position (idempotent: one id).
func (s *Settler) giveBack(ctx context.Context, rec *outRecord, fin ledger.TransferRequest) error {
	if fin.To != PositionAccount(rec.Peer) || fin.Amount == rec.Amount {
		return nil
	}
	rest, err := rec.Amount.Sub(fin.Amount)
	if err != nil || !rest.IsPositive() {
		return fmt.Errorf("%w: %s: finish %s of %s", ledger.ErrInternal, rec.ID, fin.Amount, rec.Amount)
	}
	_, err = s.c.Ledger.Transfer(ctx, ledger.TransferRequest{ID: returnID(rec.ID), From: EscrowAccount(rec.Peer), To: rec.From,
		Amount: rest, Description: describe(rec), Authorisation: "settlement unreceipted rest"})
	switch {
	case errors.Is(err, ledger.ErrIDConflict):
		return fmt.Errorf("%w: %s: the rest returned differs", ErrPeerContradiction, rec.ID)
	case ledger.Refused(err):
		return fmt.Errorf("%w: returning the rest of %s: %w", ledger.ErrInternal, rec.ID, err)
	}
	return err
}

// outcome is the finished transfer's status, read from its finish.
func outcome(rec *outRecord, fin ledger.TransferRequest) (Status, error) {
	st := rec.status(Returned)
	st.Finish = fin.ID
	fields := map[string]string{}
	for _, f := range strings.Fields(fin.Authorisation) {
		if k, v, ok := strings.Cut(f, "="); ok {
			fields[k] = v
		}
	}
	st.PeerDecided, st.Resolution = fields["decision"], fields["resolution"]
	if fin.To == PositionAccount(rec.Peer) {
		st.State = Committed
		if st.PeerDecided == "" {
			st.PeerDecided = Credited
		}
		if rec.provisional() {
			r := fin.Amount
			st.Receipted = &r
			if r != rec.Amount {
				st.Return = returnID(rec.ID)
			}
		}
		return st, nil
	}
	if rec.provisional() && st.PeerDecided == Settled {
		z := ledger.Zero
		st.Receipted = &z // held, then refunded or expired at the peer: not an abort
		return st, nil
	}
	st.Reason = "the peer did not credit it"
	return st, fmt.Errorf("%w: %s", ErrAborted, rec.ID)
}

// finished reports a transfer whose finish (or refused prepare) is in the
// ledger already, completing its ledger transfers if a crash stopped them.
func (s *Settler) finished(ctx context.Context, rec *outRecord) (Status, bool, error) {
	_, err := s.c.Ledger.Complete(ctx, finishID(rec.ID))
	switch {
	case errors.Is(err, ledger.ErrNoTransfer):
	case err != nil:
		return rec.status(Pending), false, err
	default:
		fin, err := s.c.Ledger.Recorded(ctx, finishID(rec.ID))
		if err != nil {
			return rec.status(Pending), false, err
		}
		if err := s.giveBack(ctx, rec, fin); err != nil {
			return rec.status(Pending), false, err
		}
		s.forget(ctx, rec)
		st, err := outcome(rec, fin)
		return st, true, err
	}
	if _, err := s.c.Ledger.Complete(ctx, prepareID(rec.ID)); ledger.Refused(err) {
		st := rec.status(Declined)
		st.Reason = err.Error()
		s.forget(ctx, rec)
		return st, true, err
	}
	return rec.status(Pending), false, nil
}

// forget drops the sweep's index entry of a finished transfer (best
// effort: a leftover entry costs the sweep one look).
func (s *Settler) forget(ctx context.Context, rec *outRecord) {
	_ = s.c.Bucket.Delete(ctx, dueKey(rec.Created, rec.ID))
	if rec.provisional() {
		_ = s.c.Bucket.Delete(ctx, heldKey(rec.ID))
	}
}

// Status reports a transfer. It moves no money the payer did not ask to
// move (at most it completes a prepare a crash left half-applied), and
// asks no peer: a provisional transfer shows Held once the peer was
// learned to hold it (by the sending call, a retry or the sweep), and
// keeps showing Held until a retry or the sweep learns how it settled.
func (s *Settler) Status(ctx context.Context, id string) (Status, error) {
	if err := CheckID(id); err != nil {
		return Status{}, err
	}
	rec, err := s.outRecord(ctx, id)
	if err != nil {
		return Status{}, err
	}
	if err := s.Quiesce(ctx); err != nil {
		return Status{}, err
	}
	if rec.Abandoned {
		st := rec.status(Returned)
		st.Reason = "abandoned"
		return st, nil
	}
	st := rec.status(Pending)
	fin, err := s.c.Ledger.Recorded(ctx, finishID(id))
	switch {
	case err == nil:
		st, _ = outcome(rec, fin)
		st.Reason = ""
	case !errors.Is(err, ledger.ErrNoTransfer):
		return st, err
	default:
		// Completing the prepare finishes only what was asked; it tells a
		// refused one (final) from one in flight.
		_, err := s.c.Ledger.Complete(ctx, prepareID(id))
		switch {
		case ledger.Refused(err):
			st.State, st.Reason = Declined, err.Error()
		case errors.Is(err, ledger.ErrNoTransfer):
			st.Prepare = ""
		case err == nil && rec.provisional():
			if err := s.held(ctx, rec, &st); err != nil {
				return st, err
			}
		}
	}
	return st, nil
}
