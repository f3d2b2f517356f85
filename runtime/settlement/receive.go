package settlement

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/openacquire/acquire/runtime/ledger"
	"github.com/openacquire/acquire/runtime/store"
)

// inRecord is the receiving side's one decision on a peer's transfer, at
// settlement/in/<peer hash>/<id>, written with put-if-absent before any
// money moves. Whatever is asked later, this record answers.
type inRecord struct {
	Peer     string        `json:"peer"`
	Request  CreditRequest `json:"request"`
	Decision string        `json:"decision"` // "credit" or Aborted
	Reason   string        `json:"reason,omitempty"`
	At       time.Time     `json:"at"`
}

const decideCredit = "credit"

func (r *inRecord) same(req *CreditRequest) bool {
	return r.Request.To == req.To && r.Request.Amount == req.Amount && r.Request.CreditBy.Equal(req.CreditBy) &&
		r.Request.ReceiptBy.Equal(req.ReceiptBy)
}

// Credit is the receiving side: peer (already authenticated by the
// caller) asks to credit req.To. The first ask decides, once: credit if
// credit_by has not passed here and To may be paid, else abort. A credit
// is paid from the peer's position account under an id scoped by the
// peer. Asking again answers the same decision (finishing a credit a
// crash stopped); the same id with other content fails with ErrConflict.
func (s *Settler) Credit(ctx context.Context, peer string, req CreditRequest) (CreditAnswer, error) {
	if err := s.checkCredit(peer, &req); err != nil {
		return CreditAnswer{}, err
	}
	rec, err := s.decide(ctx, peer, &req)
	if err != nil {
		return CreditAnswer{}, err
	}
	ans := CreditAnswer{ID: req.ID, State: rec.Decision, Reason: rec.Reason}
	if rec.Decision != decideCredit {
		return ans, nil
	}
	if err := s.ensure(ctx, peer); err != nil {
		return CreditAnswer{}, err
	}
	t := ledger.TransferRequest{ID: creditID(peer, req.ID), From: PositionAccount(peer), To: rec.Request.To,
		Amount: rec.Request.Amount, Description: clipBytes("from peer "+peerHash(peer)+": "+rec.Request.Description, ledger.MaxDescriptionBytes),
		Authorisation: "settlement peer=" + peerHash(peer) + " id=" + req.ID, ReceiptBy: rec.Request.ReceiptBy}
	ans.Transfer = t.ID
	if !t.ReceiptBy.IsZero() {
		return s.hold(ctx, t, ans)
	}
	_, err = s.c.Ledger.Transfer(ctx, t)
	switch {
	case ledger.Refused(err):
		// Decided to credit, and the ledger refused it, finally: the
		// peer's credit here is used up, or the payee is at the bound.
		ans.State, ans.Reason = Refused, err.Error()
		return ans, nil
	case err != nil:
		return CreditAnswer{}, err
	}
	if err := s.step("credited"); err != nil {
		return CreditAnswer{}, err
	}
	ans.State = Credited
	return ans, nil
}

// hold is the receiving side of a provisional transfer decided "credit":
// the payee's hold in this ledger, created once (even if a stall made
// receipt_by pass since the decision: it is then expired at once), and
// its state: Held until the payee receipts or refunds it or it expires
// here, then Settled with the receipted amount, the same on every later
// ask. The ledger's one resolution of the hold is the outcome.
func (s *Settler) hold(ctx context.Context, t ledger.TransferRequest, ans CreditAnswer) (CreditAnswer, error) {
	ans.ReceiptBy = t.ReceiptBy
	if s.c.OnHold != nil {
		if err := s.c.OnHold(ctx, t); err != nil {
			return CreditAnswer{}, err
		}
	}
	res, err := s.c.Ledger.TransferDecided(ctx, t)
	switch {
	case ledger.Refused(err):
		ans.State, ans.Reason = Refused, err.Error()
		return ans, nil
	case err != nil:
		return CreditAnswer{}, err
	}
	if err := s.step("held"); err != nil {
		return CreditAnswer{}, err
	}
	if res.State == ledger.StatePending || res.Resolution == nil {
		ans.State = Held
		return ans, nil
	}
	r := res.Resolution.Receipted
	if r.IsNegative() || r.Cmp(t.Amount) > 0 {
		return CreditAnswer{}, fmt.Errorf("%w: hold %s receipted %s of %s", ledger.ErrInternal, t.ID, r, t.Amount)
	}
	ans.State, ans.Resolution, ans.Receipted = Settled, res.Resolution.Kind, &r
	return ans, nil
}

func (s *Settler) checkCredit(peer string, req *CreditRequest) error {
	if peer == "" || peer == s.c.Self || len(peer) > MaxPeerURLBytes {
		return fmt.Errorf("%w: %q", ErrUnknownPeer, clip(peer))
	}
	if _, ok := s.c.Peers(peer); !ok {
		return fmt.Errorf("%w: %q", ErrUnknownPeer, clip(peer))
	}
	if err := CheckID(req.ID); err != nil {
		return err
	}
	if err := ledger.CheckID("account", req.To); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if err := checkAmount(req.Amount); err != nil {
		return err
	}
	if len(req.Description) > ledger.MaxDescriptionBytes {
		return fmt.Errorf("%w: description over %d bytes", ErrInvalid, ledger.MaxDescriptionBytes)
	}
	if req.CreditBy.IsZero() || req.CreditBy.After(s.c.Clock().Add(MaxWindow)) {
		return fmt.Errorf("%w: credit_by must be given and at most %s ahead", ErrInvalid, MaxWindow)
	}
	req.CreditBy = req.CreditBy.UTC().Truncate(time.Millisecond)
	if !req.ReceiptBy.IsZero() {
		req.ReceiptBy = req.ReceiptBy.UTC().Truncate(time.Millisecond)
		if req.ReceiptBy.Before(req.CreditBy) || req.ReceiptBy.After(s.c.Clock().Add(MaxReceiptBy)) {
			return fmt.Errorf("%w: receipt_by must be at or after credit_by and at most %s ahead", ErrInvalid, MaxReceiptBy)
		}
	}
	return nil
}

// decide records the one decision on (peer, id), or reads it.
func (s *Settler) decide(ctx context.Context, peer string, req *CreditRequest) (*inRecord, error) {
	key := inKey(peer, req.ID)
	var old inRecord
	_, err := s.c.Bucket.GetJSON(ctx, key, &old)
	if err == nil {
		if !old.same(req) {
			return nil, fmt.Errorf("%w: %s", ErrConflict, req.ID)
		}
		return &old, nil
	}
	if !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	rec := &inRecord{Peer: peer, Request: *req, Decision: decideCredit, At: s.now()}
	switch {
	case !rec.At.Before(req.CreditBy):
		rec.Decision, rec.Reason = Aborted, "credit_by passed before the request arrived"
	default:
		reason, err := s.payable(ctx, req.To)
		if err != nil {
			return nil, err // not decided: a transient failure must not become a final refusal
		}
		if reason != "" {
			rec.Decision, rec.Reason = Refused, reason
		}
	}
	if _, err := s.c.Bucket.PutJSONIfAbsent(ctx, key, rec); errors.Is(err, store.ErrPrecondition) {
		var won inRecord
		if _, err := s.c.Bucket.GetJSON(ctx, key, &won); err != nil {
			return nil, err
		}
		if !won.same(req) {
			return nil, fmt.Errorf("%w: %s", ErrConflict, req.ID)
		}
		return &won, nil
	} else if err != nil {
		return nil, err
	}
	if err := s.step("decided-" + rec.Decision); err != nil {
		return nil, err
	}
	return rec, nil
}

// payable refuses accounts a peer must never pay into: the mint, the
// settlement accounts, accounts that do not exist (and whatever the
// service's own rule refuses). A refusal is recorded as the decision.
func (s *Settler) payable(ctx context.Context, acc string) (string, error) {
	if acc == ledger.MintAccount || IsSettlementAccount(acc) {
		return "account " + acc + " cannot be paid by a peer", nil
	}
	if s.c.Payable != nil {
		return s.c.Payable(ctx, acc)
	}
	_, err := s.c.Ledger.GetAccount(ctx, acc)
	if errors.Is(err, ledger.ErrNoAccount) {
		return "no account " + acc, nil
	}
	return "", err
}
