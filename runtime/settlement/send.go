package settlement

import (
	"context"
	"errors"
	"fmt"
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
		r.Description == o.Description
}

// Status is where a transfer stands on the sending side.
type Status struct {
	ID          string        `json:"id"`
	State       string        `json:"state"` // Pending, Committed, Returned or Declined
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
}

func (r *outRecord) status(state string) Status {
	return Status{ID: r.ID, State: state, From: r.From, Peer: r.Peer, To: r.To, Amount: r.Amount, Created: r.Created,
		CreditBy: r.CreditBy, Prepare: prepareID(r.ID)}
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
		Description: rec.Description})
	if err != nil {
		if ctx.Err() != nil {
			return ans, ctx.Err()
		}
		return ans, fmt.Errorf("%w: %s: %w", ErrPeerUnreachable, clip(rec.Peer), err)
	}
	if ans.ID != rec.ID || (ans.State != Credited && ans.State != Refused && ans.State != Aborted) {
		return ans, fmt.Errorf("%w: answer %q for %s", ErrPeerContradiction, ans.State, rec.ID)
	}
	return ans, nil
}

// finish applies the peer's decision: escrow to the position account if
// it credited, back to the payer otherwise. Both are the same ledger id,
// so whichever is recorded first is the only one that can ever apply.
func (s *Settler) finish(ctx context.Context, rec *outRecord, ans CreditAnswer) (Status, error) {
	fin := ledger.TransferRequest{ID: finishID(rec.ID), From: EscrowAccount(rec.Peer), Amount: rec.Amount,
		Description: describe(rec), Authorisation: "settlement peer decision=" + ans.State}
	state := Returned
	if ans.State == Credited {
		fin.To, state = PositionAccount(rec.Peer), Committed
	} else {
		fin.To = rec.From
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
	if err := s.step("finished"); err != nil {
		return rec.status(Pending), err
	}
	s.forget(ctx, rec)
	st := rec.status(state)
	st.Finish, st.PeerCredit, st.PeerDecided, st.Reason = fin.ID, ans.Transfer, ans.State, ans.Reason
	if state == Returned {
		return st, fmt.Errorf("%w: %s: %s %s", ErrAborted, rec.ID, ans.State, ans.Reason)
	}
	return st, nil
}

// finished reports a transfer whose finish (or refused prepare) is in the
// ledger already, completing its ledger transfer if a crash stopped it.
func (s *Settler) finished(ctx context.Context, rec *outRecord) (Status, bool, error) {
	res, err := s.c.Ledger.Complete(ctx, finishID(rec.ID))
	switch {
	case errors.Is(err, ledger.ErrNoTransfer):
	case err != nil:
		return rec.status(Pending), false, err
	default:
		st := rec.status(Returned)
		st.Finish = res.ID
		fin, err := s.c.Ledger.Recorded(ctx, res.ID)
		if err != nil {
			return st, false, err
		}
		s.forget(ctx, rec)
		if fin.To == PositionAccount(rec.Peer) {
			st.State, st.PeerDecided = Committed, Credited
			return st, true, nil
		}
		st.Reason = "the peer did not credit it"
		return st, true, fmt.Errorf("%w: %s", ErrAborted, rec.ID)
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
}

// Status reports a transfer. It moves no money the payer did not ask to
// move (at most it completes a prepare a crash left half-applied).
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
	case err == nil && fin.To == PositionAccount(rec.Peer):
		st.State, st.Finish, st.PeerDecided = Committed, fin.ID, Credited
	case err == nil:
		st.State, st.Finish = Returned, fin.ID
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
		}
	}
	return st, nil
}
