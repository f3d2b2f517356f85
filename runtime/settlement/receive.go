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
	return r.Request.To == req.To && r.Request.Amount == req.Amount && r.Request.CreditBy.Equal(req.CreditBy)
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
		Authorisation: "settlement peer=" + peerHash(peer) + " id=" + req.ID}
	ans.Transfer = t.ID
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
