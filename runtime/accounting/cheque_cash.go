package accounting

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/openacquire/acquire/runtime/auth"
	"github.com/openacquire/acquire/runtime/call"
	"github.com/openacquire/acquire/runtime/ledger"
	"github.com/openacquire/acquire/runtime/store"
)

const chequesPre = "accounting/cheques/"

// chequeRecord is written with put-if-absent at accounting/cheques/<key>
// before the cashing's transfer: its presence is what makes a cheque
// cashed. It holds the whole transfer request, so a cashing stopped
// between this record and the ledger is finished with exactly the first
// request.
type chequeRecord struct {
	Cheque   *Cheque                `json:"cheque"`
	CashedBy string                 `json:"cashed_by"`
	Cashed   time.Time              `json:"cashed"`
	Transfer ledger.TransferRequest `json:"transfer"`
}

func chequeRecordKey(c *Cheque) string {
	return chequesPre + ChequeKey(c.Authorisation.IdentityURL, c.Authorisation.UserUID, c.UID)
}

// handleCashCheque checks everything before it writes anything, so every
// refusal changes nothing.
func (a *Accounting) handleCashCheque(ctx context.Context, args *CashChequeArgs) (*ledger.TransferResult, error) {
	ch := args.Cheque
	if ch == nil || ch.Authorisation == nil {
		return nil, call.Errorf(ErrChequeInvalid, "no signed cheque given")
	}
	if err := ch.checkFields(); err != nil {
		return nil, err
	}
	if args.Service == nil {
		return nil, call.Errorf(call.ErrPermission, "cheques are cashed by services, with a service authorisation")
	}
	c, err := a.authorise(ctx, args.Credentials, CashChequeResource(args))
	if err != nil {
		return nil, err
	}
	req, err := a.chequeTransfer(ctx, c, args)
	if err != nil {
		return nil, err
	}
	rec := &chequeRecord{Cheque: ch, CashedBy: c.ServiceURL, Cashed: a.svc.Now().UTC(), Transfer: *req}
	_, err = a.b.PutJSONIfAbsent(ctx, chequeRecordKey(ch), rec)
	if errors.Is(err, store.ErrPrecondition) {
		return a.cashedBefore(ctx, c, ch, req)
	} else if err != nil {
		return nil, err
	}
	return a.payCheque(ctx, req)
}

// chequeTransfer checks the cheque against the call and builds the
// transfer that cashes it.
func (a *Accounting) chequeTransfer(ctx context.Context, c *caller, args *CashChequeArgs) (*ledger.TransferRequest, error) {
	ch, now := args.Cheque, a.svc.Now()
	if ch.Recipient != c.ServiceURL {
		return nil, call.Errorf(ErrChequeRecipient, "cheque %s is written to %s, not to %s", ch.UID, clip(ch.Recipient), clip(c.ServiceURL))
	}
	if !args.Amount.IsPositive() {
		return nil, call.Errorf(call.ErrBadArguments, "amount %s must be positive", args.Amount)
	}
	if args.Amount.Cmp(ch.Max) > 0 {
		return nil, call.Errorf(ErrChequeOverMax, "amount %s is over cheque %s's maximum %s", args.Amount, ch.UID, ch.Max)
	}
	if !now.Before(ch.Expires) {
		return nil, call.Errorf(ErrChequeExpired, "cheque %s expired at %s", ch.UID, ch.Expires.Format(time.RFC3339))
	}
	if err := a.verifyCheque(ctx, ch); err != nil {
		return nil, err
	}
	if err := a.chequeAccounts(ctx, c, ch, args.Account); err != nil {
		return nil, err
	}
	rb := receiptBy(args.ReceiptBy)
	if !rb.After(now) || rb.After(now.Add(MaxReceiptByAhead)) {
		return nil, call.Errorf(call.ErrBadArguments, "receipt_by must be in the future and at most %s ahead", MaxReceiptByAhead)
	}
	au := ch.Authorisation
	summary := fmt.Sprintf("cheque=%s identity=%s user=%s session=%s cashed_by=%s", ch.UID, au.IdentityURL, au.UserUID,
		au.SessionUID, c.ServiceURL)
	return &ledger.TransferRequest{ID: a.chequeTransferID(ch), From: ch.Account, To: args.Account, Amount: args.Amount,
		Description: "cheque " + ch.UID + " for " + ch.For, Authorisation: summary, ReceiptBy: rb}, nil
}

// verifyCheque checks the user's signature through the identity service.
// A cheque lives longer than an authorisation, so its own bounded life
// replaces the 5-minute age; and its session is looked up afresh on every
// cashing (no cached certificate), so a cheque of a session logged out or
// revoked a moment ago is refused.
func (a *Accounting) verifyCheque(ctx context.Context, ch *Cheque) error {
	signed, err := time.Parse(time.RFC3339Nano, ch.Authorisation.Time)
	if err != nil {
		return call.Errorf(ErrChequeInvalid, "cheque signing time is not RFC 3339")
	}
	if err := checkChequeLife(signed, ch.Expires); err != nil {
		return err
	}
	v := &auth.Verifier{Lookup: a.v.Lookup, Clock: a.v.Clock, Identities: a.v.Identities, Audience: a.v.Audience,
		MaxAge: MaxChequeLife, Staleness: time.Nanosecond}
	_, err = v.Verify(ctx, ch.Authorisation, ChequeResource(ch))
	if errors.Is(err, auth.ErrAuthorisation) {
		var ce *call.Error
		errors.As(err, &ce)
		return call.Errorf(ErrChequeInvalid, "cheque %s: %s", ch.UID, ce.Message)
	}
	return err
}

// chequeAccounts checks that the cheque's account is its signer's and the
// paid account is the cashing service's.
func (a *Accounting) chequeAccounts(ctx context.Context, c *caller, ch *Cheque, to string) error {
	from, err := a.account(ctx, ch.Account)
	if err != nil {
		return err
	}
	signer := Owner{IdentityURL: ch.Authorisation.IdentityURL, UserUID: ch.Authorisation.UserUID}
	if !slices.Contains(from.Owners, signer) {
		return call.Errorf(call.ErrPermission, "cheque %s draws on account %s, which is not its signer's", ch.UID, clip(ch.Account))
	}
	if to == ch.Account {
		return call.Errorf(call.ErrBadArguments, "a cheque cannot pay its own account")
	}
	_, err = a.owned(ctx, c, to)
	return err
}

// cashedBefore answers a cashing of a cheque already recorded as cashed.
// Any other cashing is refused and changes nothing: the cheque is spent.
// The same cashing (same service, accounts and amount; its receipt_by may
// differ, the recorded one holds) by the service that cashed it is
// answered with the recorded transfer: finished if the first cashing
// stopped before the ledger, else as the ledger has it now. That is how
// the recipient learns the transfer's (keyed) id after a run that stopped
// before saving the answer. The recorded request, id included, is used as
// it is, never derived again.
func (a *Accounting) cashedBefore(ctx context.Context, c *caller, ch *Cheque, req *ledger.TransferRequest) (*ledger.TransferResult, error) {
	var old chequeRecord
	if _, err := a.b.GetJSON(ctx, chequeRecordKey(ch), &old); err != nil {
		return nil, err
	}
	t := old.Transfer
	if old.CashedBy != c.ServiceURL || t.From != req.From || t.To != req.To || t.Amount != req.Amount {
		return nil, call.Errorf(ErrChequeAlreadyCashed, "cheque %s was cashed by %s at %s", old.Cheque.UID,
			clip(old.CashedBy), old.Cashed.Format(time.RFC3339))
	}
	res, err := a.l.Complete(ctx, t.ID)
	if errors.Is(err, ledger.ErrNoTransfer) {
		return a.payCheque(ctx, &t)
	}
	if err != nil {
		return nil, typed(err)
	}
	return &res, nil
}

// payCheque makes the cashing's provisional transfer.
func (a *Accounting) payCheque(ctx context.Context, req *ledger.TransferRequest) (*ledger.TransferResult, error) {
	if !req.Amount.IsPositive() || req.From == req.To || req.ReceiptBy.IsZero() {
		// Asserted: the checks above guarantee these; money must not move otherwise.
		return nil, fmt.Errorf("accounting: cheque transfer %s is malformed", req.ID)
	}
	if err := a.recordProvisional(ctx, req); err != nil {
		return nil, err
	}
	res, err := a.l.Transfer(ctx, *req)
	if err != nil {
		return nil, typed(err)
	}
	return &res, nil
}

// CashCheque cashes a cheque written to the calling service s: amount (at
// most the cheque's maximum) moves provisionally into the service's
// account until receiptBy; the service then receipts or refunds the
// transfer, whose id is the answer's ID (cashing it again the same way
// answers the same transfer).
func (c *Client) CashCheque(ctx context.Context, s auth.Signer, ch *Cheque, amount ledger.Amount, account string, receiptByTime time.Time) (*ledger.TransferResult, error) {
	args := &CashChequeArgs{Cheque: ch, Amount: amount, Account: account, ReceiptBy: receiptBy(receiptByTime)}
	var out ledger.TransferResult
	return &out, c.authCall(ctx, s, "cash_cheque", CashChequeResource(args), func(a auth.Credentials) any {
		args.Credentials = a
		return args
	}, &out, true)
}
