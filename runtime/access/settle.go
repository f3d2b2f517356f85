package access

import (
	"context"
	"errors"
	"fmt"

	"github.com/openacquire/acquire/runtime/call"
	"github.com/openacquire/acquire/runtime/store"
)

func checkSettleArgs(args *SettleArgs) error {
	switch {
	case !requestIDPattern.MatchString(args.RequestUID):
		return call.Errorf(call.ErrBadArguments, "request uid %q is malformed", clip(args.RequestUID))
	case args.Outcome != SettleSucceeded && args.Outcome != SettleFailed && args.Outcome != SettleCancelled:
		return call.Errorf(call.ErrBadArguments, "outcome must be %s, %s or %s", SettleSucceeded, SettleFailed, SettleCancelled)
	case len(args.Message) > MaxSettleMessageBytes || hasControl(args.Message):
		return call.Errorf(call.ErrBadArguments, "message must be at most %d bytes without control characters", MaxSettleMessageBytes)
	}
	return nil
}

// handleSettle is a fulfilling service's report of how a deferred request
// ended: the held payment is receipted (succeeded) or refunded (failed,
// cancelled). Only the service the request was fulfilled by may settle it,
// in its own name. It is exactly-once by the request's state machine: the
// settlement is saved (compare-and-swap) before any money moves, a repeat
// answers the same, and a different settlement is SettleConflictError.
func (a *Access) handleSettle(ctx context.Context, args *SettleArgs) (*Grant, error) {
	if err := checkSettleArgs(args); err != nil {
		return nil, err
	}
	if args.Service == nil || args.Authorisation != nil {
		return nil, call.Errorf(call.ErrPermission, "settle is called by the fulfilling service in its own name")
	}
	var rec requestRecord
	ver, err := a.b.GetJSON(ctx, requestKey(args.RequestUID), &rec)
	if errors.Is(err, store.ErrNotFound) {
		return nil, call.Errorf(call.ErrNotFound, "no request %s", args.RequestUID)
	} else if err != nil {
		return nil, err
	}
	// The named service is checked before its keys are fetched, so a
	// caller cannot make this service fetch keys from a URL of its choice.
	if args.Service.ServiceURL != rec.ServiceURL {
		return nil, call.Errorf(call.ErrPermission, "request %s is fulfilled by another service", args.RequestUID)
	}
	if _, err := a.anySV.Verify(ctx, args.Service, SettleResource(args)); err != nil {
		return nil, err
	}
	if ver, err = a.claimSettlement(ctx, &rec, ver, args); err != nil {
		return nil, err
	}
	for rec.State != stateDone {
		if ver, err = a.step(ctx, &rec, ver, nil); err != nil {
			a.release(ctx, &rec, ver)
			return nil, err
		}
	}
	return rec.grant(), nil
}

// claimSettlement records the settlement on an awaiting request, or
// leases a request settled the same way and not yet done.
func (a *Access) claimSettlement(ctx context.Context, rec *requestRecord, ver store.Version, args *SettleArgs) (store.Version, error) {
	switch {
	case rec.State == stateStarted || rec.State == statePaid:
		// The fulfilment call has not been saved yet: settle again shortly.
		return "", call.Errorf(call.ErrInProgress, "request %s is not awaiting settlement yet; retry later", rec.UID)
	case rec.State == stateAwaiting:
		if rec.Transfer == "" {
			return "", fmt.Errorf("access: request %s awaiting without a payment", rec.UID) // asserted: pay sets it
		}
		rec.Settlement = args.Outcome
		rec.State = stateResolving
		if args.Outcome == SettleSucceeded {
			rec.Outcome = OutcomeGranted
		} else {
			rec.Outcome = OutcomeFailed
			rec.Failure = &failure{Class: ErrFulfilmentFailed.Class, Message: fmt.Sprintf("%s %s: %s; the payment was refunded",
				rec.Resource, args.Outcome, args.Message)}
		}
	case rec.Settlement != args.Outcome:
		return "", call.Errorf(ErrSettleConflict, "request %s is settled %q, not %q", rec.UID, rec.Settlement, args.Outcome)
	case rec.State == stateDone:
		return ver, nil
	case a.svc.Now().Before(rec.LeaseUntil):
		return "", call.Errorf(call.ErrInProgress, "request %s is being settled; retry later", rec.UID)
	}
	rec.LeaseUntil = a.svc.Now().Add(RequestLease)
	return a.save(ctx, rec, ver)
}
