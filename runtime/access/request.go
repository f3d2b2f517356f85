package access

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/openacquire/acquire/runtime/accounting"
	"github.com/openacquire/acquire/runtime/call"
	"github.com/openacquire/acquire/runtime/ledger"
	"github.com/openacquire/acquire/runtime/store"
)

// States of a request record. A request moves forward only, each step
// saved with compare-and-swap before the next starts, so a run stopped at
// any point is finished by a retry from where it stopped:
//
//	started   → the cheque is cashed for the price  → paid
//	paid      → the fulfiller is asked              → resolving (outcome known)
//	                                                  or awaiting (deferred)
//	awaiting  → the fulfiller calls settle          → resolving (outcome known)
//	resolving → receipt (granted) or refund (failed) → done (grant recorded)
const (
	stateStarted   = "started"
	statePaid      = "paid"
	stateAwaiting  = "awaiting"
	stateResolving = "resolving"
	stateDone      = "done"
)

// requestRecord is kept at access/requests/<request uid>.
type requestRecord struct {
	UID         string `json:"uid"`
	RequestID   string `json:"request_id"`
	IdentityURL string `json:"identity_url"`
	UserUID     string `json:"user_uid"`
	Resource    string `json:"resource"`
	// Details are the user's words for the fulfiller: a job's spec carries
	// its drive links, PAR secrets included. They are sealed at rest with
	// the service's data key (Keyring.Seal) and opened when read.
	Details       string          `json:"-"`
	SealedDetails string          `json:"sealed_details,omitempty"`
	PlainDetails  string          `json:"details,omitempty"` // records written before details were sealed
	ChequeUID     string          `json:"cheque_uid"`
	Price         ledger.Amount   `json:"price"` // the catalogue's price when the request was made
	ServiceURL    string          `json:"service_url"`
	Function      string          `json:"function"`
	State         string          `json:"state"`
	Transfer      string          `json:"transfer,omitempty"`
	Outcome       string          `json:"outcome,omitempty"`
	Result        json.RawMessage `json:"result,omitempty"`
	Failure       *failure        `json:"failure,omitempty"`
	HoldS         int64           `json:"hold_s,omitempty"`     // the resource's hold when requested (0: HoldFor)
	HoldUntil     time.Time       `json:"hold_until,omitzero"`  // the payment's receipt_by, once cashed
	Settlement    string          `json:"settlement,omitempty"` // a deferred request's settle outcome
	LeaseUntil    time.Time       `json:"lease_until,omitzero"`
	Created       time.Time       `json:"created"`
}

// failure is a recorded refusal: answered again to every retry.
type failure struct {
	Class   string `json:"class"`
	Message string `json:"message"`
}

func (f *failure) err() error {
	class := ErrFulfilmentFailed
	switch f.Class {
	case ErrPaymentRefused.Class:
		class = ErrPaymentRefused
	case ErrFulfillerUnreachable.Class:
		class = ErrFulfillerUnreachable
	}
	return call.Errorf(class, "%s", f.Message)
}

// chequeClaim is kept at access/cheques/<cheque key>: the one request a
// cheque pays for.
type chequeClaim struct {
	RequestUID string `json:"request_uid"`
}

func checkRequestArgs(args *RequestArgs) error {
	switch {
	case !requestIDPattern.MatchString(args.RequestID):
		return call.Errorf(call.ErrBadArguments, "request id %q must match %s", clip(args.RequestID), requestIDPattern)
	case !namePattern.MatchString(args.Resource):
		return call.Errorf(call.ErrBadArguments, "resource name %q must match %s", clip(args.Resource), namePattern)
	case len(args.Details) > MaxDetailsBytes:
		return call.Errorf(call.ErrBadArguments, "details are over %d bytes", MaxDetailsBytes)
	case args.Cheque == nil || args.Cheque.Authorisation == nil:
		return call.Errorf(accounting.ErrChequeInvalid, "a request needs a signed cheque")
	}
	return nil
}

func (a *Access) handleRequest(ctx context.Context, args *RequestArgs) (*Grant, error) {
	if err := checkRequestArgs(args); err != nil {
		return nil, err
	}
	u, err := a.authoriseUser(ctx, args.Credentials, RequestResource(args))
	if err != nil {
		return nil, err
	}
	// Checked on every run, not only the first: a retry carries its cheque
	// again, and only the requester's own cheque may pay.
	if au := args.Cheque.Authorisation; au.IdentityURL != u.IdentityURL || au.UserUID != u.UserUID {
		return nil, call.Errorf(accounting.ErrChequeInvalid, "the cheque is not signed by the requesting user")
	}
	uid := RequestUID(u.IdentityURL, u.UserUID, args.RequestID)
	rec, ver, err := a.claimRequest(ctx, u, uid, args)
	if err != nil {
		return nil, err
	}
	for rec.State != stateDone && rec.State != stateAwaiting {
		if ver, err = a.step(ctx, rec, ver, args.Cheque); err != nil {
			a.release(ctx, rec, ver)
			return nil, err
		}
	}
	return rec.answer()
}

// claimRequest returns the request's record, leased to this run: a new
// one (after the catalogue and cheque checks), or an unfinished one whose
// lease has passed. A finished one is returned as it is.
func (a *Access) claimRequest(ctx context.Context, u *user, uid string, args *RequestArgs) (*requestRecord, store.Version, error) {
	var rec requestRecord
	ver, err := a.b.GetJSON(ctx, requestKey(uid), &rec)
	if errors.Is(err, store.ErrNotFound) {
		return a.newRequest(ctx, u, uid, args)
	} else if err != nil {
		return nil, "", err
	}
	if err := a.openDetails(ctx, &rec); err != nil {
		return nil, "", err
	}
	if rec.Resource != args.Resource || rec.ChequeUID != args.Cheque.UID || rec.Details != args.Details {
		return nil, "", call.Errorf(ErrRequestConflict, "request id %s was used for another request", args.RequestID)
	}
	if rec.State == stateDone || rec.State == stateAwaiting {
		return &rec, ver, nil
	}
	if a.svc.Now().Before(rec.LeaseUntil) {
		return nil, "", call.Errorf(call.ErrInProgress, "request %s is being handled; retry later", args.RequestID)
	}
	rec.LeaseUntil = a.svc.Now().Add(RequestLease)
	if ver, err = a.b.PutJSONIfVersion(ctx, requestKey(uid), &rec, ver); errors.Is(err, store.ErrPrecondition) {
		return nil, "", call.Errorf(call.ErrInProgress, "request %s is being handled; retry later", args.RequestID)
	}
	return &rec, ver, err
}

// newRequest checks the catalogue's rule and the cheque, claims the cheque
// for this request and writes the request record. Every refusal here
// comes before any money moves.
func (a *Access) newRequest(ctx context.Context, u *user, uid string, args *RequestArgs) (*requestRecord, store.Version, error) {
	r, err := a.resource(ctx, args.Resource)
	if err != nil {
		return nil, "", err
	}
	if !r.allows(u.UserUID) {
		return nil, "", call.Errorf(ErrAccessDenied, "you may not request %s", r.Name)
	}
	if err := a.checkCheque(r, args.Cheque); err != nil {
		return nil, "", err
	}
	ch := args.Cheque
	claim := chequeKey(ch)
	if _, err := a.b.PutJSONIfAbsent(ctx, claim, &chequeClaim{RequestUID: uid}); errors.Is(err, store.ErrPrecondition) {
		var old chequeClaim
		if _, err := a.b.GetJSON(ctx, claim, &old); err != nil {
			return nil, "", err
		}
		if old.RequestUID != uid {
			return nil, "", call.Errorf(ErrChequeUsed, "cheque %s pays for another request", ch.UID)
		}
	} else if err != nil {
		return nil, "", err
	}
	now := a.svc.Now().UTC().Truncate(time.Millisecond)
	rec := &requestRecord{UID: uid, RequestID: args.RequestID, IdentityURL: u.IdentityURL, UserUID: u.UserUID,
		Resource: r.Name, Details: args.Details, ChequeUID: ch.UID, Price: r.Price, ServiceURL: r.ServiceURL,
		Function: r.Function, HoldS: r.HoldS, State: stateStarted, LeaseUntil: now.Add(RequestLease), Created: now}
	if rec.Details != "" {
		if rec.SealedDetails, err = a.svc.Keys().Seal(ctx, []byte(rec.Details)); err != nil {
			return nil, "", err
		}
	}
	ver, err := a.b.PutJSONIfAbsent(ctx, requestKey(uid), rec)
	if errors.Is(err, store.ErrPrecondition) {
		return nil, "", call.Errorf(call.ErrInProgress, "request %s is being handled; retry later", args.RequestID)
	}
	return rec, ver, err
}

// openDetails fills rec.Details from the record as read. A record written
// before details were sealed is sealed now, so its next write stores them
// sealed.
func (a *Access) openDetails(ctx context.Context, rec *requestRecord) error {
	if rec.SealedDetails == "" {
		rec.Details, rec.PlainDetails = rec.PlainDetails, ""
		if rec.Details == "" {
			return nil
		}
		var err error
		rec.SealedDetails, err = a.svc.Keys().Seal(ctx, []byte(rec.Details))
		return err
	}
	plain, err := a.svc.Keys().Unseal(ctx, rec.SealedDetails)
	if err != nil {
		return err
	}
	rec.Details = string(plain)
	return nil
}

func chequeKey(ch *accounting.Cheque) string {
	return chequesPre + accounting.ChequeKey(ch.Authorisation.IdentityURL, ch.Authorisation.UserUID, ch.UID)
}

// checkCheque refuses early what accounting would refuse when cashing:
// a cheque to another service, too small, or expired.
func (a *Access) checkCheque(r *Resource, ch *accounting.Cheque) error {
	switch {
	case ch.Recipient != a.svc.URL():
		return call.Errorf(accounting.ErrChequeRecipient, "the cheque is written to %s, not to this service", clip(ch.Recipient))
	case ch.Max.Cmp(r.Price) < 0:
		return call.Errorf(accounting.ErrChequeOverMax, "%s costs %s, over the cheque's maximum %s", r.Name, r.Price, ch.Max)
	case !a.svc.Now().Before(ch.Expires):
		return call.Errorf(accounting.ErrChequeExpired, "the cheque expired at %s", ch.Expires.Format(time.RFC3339))
	}
	return nil
}

// step moves the request one state forward and saves it.
func (a *Access) step(ctx context.Context, rec *requestRecord, ver store.Version, ch *accounting.Cheque) (store.Version, error) {
	var err error
	switch rec.State {
	case stateStarted:
		err = a.pay(ctx, rec, ch)
	case statePaid:
		err = a.fulfil(ctx, rec)
	case stateResolving:
		err = a.resolve(ctx, rec)
	default:
		return ver, fmt.Errorf("access: request %s in unknown state %q", rec.UID, rec.State)
	}
	if err != nil {
		return ver, err
	}
	return a.save(ctx, rec, ver)
}

// save writes the record over the version this run read: if another run
// took the request over (this one outlived its lease), this one stops.
func (a *Access) save(ctx context.Context, rec *requestRecord, ver store.Version) (store.Version, error) {
	ver, err := a.b.PutJSONIfVersion(ctx, requestKey(rec.UID), rec, ver)
	if errors.Is(err, store.ErrPrecondition) {
		return "", call.Errorf(call.ErrInProgress, "request %s was taken over by another run", rec.RequestID)
	}
	return ver, err
}

// release gives the lease up after a transient failure, so a retry need
// not wait for it (best effort: the lease expires anyway).
func (a *Access) release(ctx context.Context, rec *requestRecord, ver store.Version) {
	if ver == "" {
		return
	}
	rec.LeaseUntil = time.Time{}
	_, _ = a.b.PutJSONIfVersion(ctx, requestKey(rec.UID), rec, ver)
}

// pay cashes the cheque for the recorded price into the income account.
// A refusal is final (state done, outcome failed): nothing moved.
func (a *Access) pay(ctx context.Context, rec *requestRecord, ch *accounting.Cheque) error {
	income, err := a.incomeAccount(ctx)
	if err != nil {
		return err
	}
	hold := HoldFor
	if rec.HoldS > 0 {
		hold = time.Duration(rec.HoldS) * time.Second
	}
	holdUntil := a.svc.Now().Add(hold).UTC().Truncate(time.Millisecond)
	res, err := a.acct.CashCheque(ctx, a.svc, ch, rec.Price, income, holdUntil)
	switch {
	case err == nil:
		rec.Transfer, rec.HoldUntil = res.ID, holdUntil
	case transient(err):
		return err
	default:
		rec.State, rec.Outcome = stateDone, OutcomeFailed
		rec.Failure = &failure{Class: ErrPaymentRefused.Class, Message: "payment refused: " + err.Error()}
		return nil
	}
	rec.State = statePaid
	return nil
}

// fulfil asks the fulfilling service, in this service's own name.
func (a *Access) fulfil(ctx context.Context, rec *requestRecord) error {
	fa := &FulfilArgs{RequestUID: rec.UID, Resource: rec.Resource, IdentityURL: rec.IdentityURL, UserUID: rec.UserUID,
		Price: rec.Price, Details: rec.Details, HoldUntil: rec.HoldUntil}
	cr, err := a.svc.Credentials(ctx, rec.ServiceURL, FulfilResource(fa), time.Time{})
	if err != nil {
		return err
	}
	fa.Credentials = cr
	cctx, cancel := context.WithTimeout(ctx, FulfilTimeout)
	defer cancel()
	var out json.RawMessage
	err = a.c.Call(cctx, rec.ServiceURL, rec.Function, fa, &out)
	switch {
	case err == nil && len(out) > MaxResultBytes:
		rec.Outcome = OutcomeFailed
		rec.Failure = &failure{Class: ErrFulfilmentFailed.Class, Message: fmt.Sprintf("%s answered over %d bytes; refunded", rec.Resource, MaxResultBytes)}
	case err == nil && isDeferred(out):
		rec.Outcome, rec.Result, rec.State = OutcomePending, out, stateAwaiting
		return nil
	case err == nil:
		rec.Outcome, rec.Result = OutcomeGranted, out
	case neverSent(err):
		// The call never left: nothing ran, so the payment goes back now
		// rather than at the hold's end.
		rec.Outcome = OutcomeFailed
		rec.Failure = &failure{Class: ErrFulfillerUnreachable.Class, Message: fmt.Sprintf(
			"%s: the fulfilling service %s cannot be reached (%v); nothing ran and the payment of %s was refunded; try again later with a new request id",
			rec.Resource, clip(rec.ServiceURL), rootCause(err), rec.Price)}
	case transient(err):
		// Unknown whether it ran: a retry asks again (the fulfiller is
		// idempotent by request uid); unfinished, the hold returns the
		// money to the user at its receipt_by, which the error names.
		return call.Errorf(call.ErrUnavailable,
			"%s: the fulfilling service %s gave no final answer (%v); it may have run: retry with the same request id to finish, or the %s held returns to your account at %s",
			rec.Resource, clip(rec.ServiceURL), rootCause(err), rec.Price, rec.HoldUntil.UTC().Format(time.RFC3339))
	default:
		rec.Outcome = OutcomeFailed
		rec.Failure = &failure{Class: ErrFulfilmentFailed.Class, Message: fmt.Sprintf("%s failed at %s: %v; the payment was refunded",
			rec.Resource, clip(rec.ServiceURL), err)}
	}
	rec.State = stateResolving
	return nil
}

// resolve settles the payment by the outcome and records the grant.
func (a *Access) resolve(ctx context.Context, rec *requestRecord) error {
	if rec.Transfer == "" || !rec.Price.IsPositive() {
		return fmt.Errorf("access: request %s resolving without a payment", rec.UID) // asserted: pay sets both
	}
	var err error
	if rec.Outcome == OutcomeGranted {
		_, err = a.acct.Receipt(ctx, a.svc, rec.Transfer, rec.Price)
	} else {
		_, err = a.acct.Refund(ctx, a.svc, rec.Transfer)
	}
	switch {
	case errors.Is(err, accounting.ErrTransferExpired):
		// The hold passed before this run: the money is back with the user.
		a.svc.Logger().Warn("request payment expired before it was settled", "request", rec.UID, "outcome", rec.Outcome)
	case errors.Is(err, accounting.ErrAlreadyResolved):
		// Only this service resolves its transfers, and the outcome was
		// saved before the first try: an earlier run resolved it this way
		// and stopped before saving.
	case err != nil:
		return err
	}
	if rec.Outcome == OutcomeGranted {
		if _, err := a.b.PutJSON(ctx, grantKey(rec.IdentityURL, rec.UserUID, rec.Resource), rec.grant()); err != nil {
			return err
		}
	}
	rec.State = stateDone
	return nil
}

// grant is dated by the request's creation, so every answer to it is the same.
func (rec *requestRecord) grant() *Grant {
	return &Grant{RequestID: rec.RequestID, RequestUID: rec.UID, Resource: rec.Resource, IdentityURL: rec.IdentityURL,
		UserUID: rec.UserUID, Price: rec.Price, Transfer: rec.Transfer, Outcome: rec.Outcome, Result: rec.Result,
		Time: rec.Created}
}

// answer is what every run of a finished (or awaiting) request answers.
func (rec *requestRecord) answer() (*Grant, error) {
	if rec.Outcome != OutcomeGranted && rec.Outcome != OutcomePending {
		if rec.Failure == nil {
			return nil, fmt.Errorf("access: request %s failed without a recorded failure", rec.UID)
		}
		return nil, rec.Failure.err()
	}
	return rec.grant(), nil
}

// neverSent says whether a call failed before anything reached the
// service: its host has no address, or nothing listens at it. Only then is
// it certain the service did not act.
func neverSent(err error) bool {
	var te *call.TransportError
	if !errors.As(err, &te) {
		return false
	}
	var dns *net.DNSError
	var op *net.OpError
	return errors.As(err, &dns) || errors.As(err, &op) && op.Op == "dial"
}

// rootCause is the network error inside a failed call (or the transport
// failure, or err), for a message that names what failed without the layers
// of URLs around it.
func rootCause(err error) error {
	var dns *net.DNSError
	var op *net.OpError
	var te *call.TransportError
	switch {
	case errors.As(err, &dns):
		return dns
	case errors.As(err, &op):
		return op
	case errors.As(err, &te):
		return te.Err
	}
	return err
}

// transient says whether an error leaves it unknown what happened, so
// the step must be tried again rather than recorded as a refusal.
func transient(err error) bool {
	var ce *call.Error
	if !errors.As(err, &ce) {
		return true // transport, timeout, store
	}
	for _, c := range []*call.Error{call.ErrInternal, call.ErrUnavailable, call.ErrBusy, call.ErrInProgress, call.ErrClock, call.ErrReplay} {
		if errors.Is(err, c) {
			return true
		}
	}
	return false
}

// incomeAccount is the service's own account at accounting, created on
// first need (create_account answers AlreadyExists once it exists).
func (a *Access) incomeAccount(ctx context.Context) (string, error) {
	a.mu.Lock()
	id := a.income
	a.mu.Unlock()
	if id != "" {
		return id, nil
	}
	info, err := a.acct.CreateAccount(ctx, a.svc, IncomeAccount, ledger.Zero)
	switch {
	case err == nil:
		id = info.ID
	case errors.Is(err, call.ErrExists):
		id = accounting.AccountID(accounting.Owner{ServiceURL: a.svc.URL()}, IncomeAccount)
	default:
		return "", err
	}
	a.mu.Lock()
	a.income = id
	a.mu.Unlock()
	return id, nil
}

// IncomeAccountID is the id of the service's income account at accounting.
func (a *Access) IncomeAccountID() string {
	return accounting.AccountID(accounting.Owner{ServiceURL: a.svc.URL()}, IncomeAccount)
}

// isDeferred says whether a fulfiller's answer is the Deferred shape.
func isDeferred(out json.RawMessage) bool {
	var d Deferred
	return json.Unmarshal(out, &d) == nil && d.Deferred
}
