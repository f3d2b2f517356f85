package access

import (
	"context"

	"github.com/openacquire/acquire/runtime/accounting"
	"github.com/openacquire/acquire/runtime/auth"
	"github.com/openacquire/acquire/runtime/call"
	"github.com/openacquire/acquire/runtime/service"
)

// Client is the typed client of an access service.
type Client struct {
	C   *call.Client
	URL string
}

// authCall signs credentials for resource and calls fn; calls that change
// something carry a fresh idempotency key, so the call client may retry
// them (request ids make a request idempotent across new calls too).
func (c *Client) authCall(ctx context.Context, s auth.Signer, fn, resource string, args func(auth.Credentials) any, out any, idem bool) error {
	cr, err := s.Credentials(ctx, resource, c.C.Clock())
	if err != nil {
		return err
	}
	var opts []call.CallOption
	if idem {
		opts = append(opts, call.WithIdempotencyKey(fn+":"+service.NewID()))
	}
	return c.C.Call(ctx, c.URL, fn, args(cr), out, opts...)
}

// SetResource adds or replaces a catalogue entry (admins).
func (c *Client) SetResource(ctx context.Context, s auth.Signer, r *Resource) (*Resource, error) {
	var out Resource
	return &out, c.authCall(ctx, s, "set_resource", SetResourceResource(r), func(cr auth.Credentials) any {
		return &SetResourceArgs{Credentials: cr, Resource: *r}
	}, &out, true)
}

// RemoveResource removes a catalogue entry (admins) and returns it.
func (c *Client) RemoveResource(ctx context.Context, s auth.Signer, name string) (*Resource, error) {
	var out Resource
	return &out, c.authCall(ctx, s, "remove_resource", RemoveResourceResource(name), func(cr auth.Credentials) any {
		return &RemoveResourceArgs{Credentials: cr, Name: name}
	}, &out, true)
}

// ListResources lists the catalogue.
func (c *Client) ListResources(ctx context.Context, s auth.Signer) (*Catalogue, error) {
	var out Catalogue
	return &out, c.authCall(ctx, s, "list_resources", ListResourcesResource, func(cr auth.Credentials) any {
		return &ListResourcesArgs{Credentials: cr}
	}, &out, false)
}

// Request asks for a resource, paid by ch (see accounting.WriteCheque),
// under requestID: asking again with the same requestID, resource, cheque
// and details answers the first outcome and never pays twice.
func (c *Client) Request(ctx context.Context, s auth.Signer, requestID, resource, details string, ch *accounting.Cheque) (*Grant, error) {
	args := &RequestArgs{RequestID: requestID, Resource: resource, Details: details, Cheque: ch}
	var out Grant
	return &out, c.authCall(ctx, s, "request", RequestResource(args), func(cr auth.Credentials) any {
		args.Credentials = cr
		return args
	}, &out, true)
}

// Check asks one question (see Query).
func (c *Client) Check(ctx context.Context, s auth.Signer, q Query) (*Answer, error) {
	var out Answer
	return &out, c.authCall(ctx, s, "check", CheckResource(q), func(cr auth.Credentials) any {
		return &CheckArgs{Credentials: cr, Query: q}
	}, &out, false)
}

// BatchCheck asks up to MaxBatchCheck questions at once.
func (c *Client) BatchCheck(ctx context.Context, s auth.Signer, qs []Query) (*Answers, error) {
	var out Answers
	return &out, c.authCall(ctx, s, "batch_check", BatchCheckResource(qs), func(cr auth.Credentials) any {
		return &BatchCheckArgs{Credentials: cr, Queries: qs}
	}, &out, false)
}

// Settle reports, in the fulfilling service s's own name, how a deferred
// request ended: outcome SettleSucceeded receipts its payment, SettleFailed
// and SettleCancelled refund it. A repeat answers the same, so the caller
// retries by calling again (InProgressError: the request's fulfilment is
// not saved yet).
func (c *Client) Settle(ctx context.Context, s auth.Signer, requestUID, outcome, message string) (*Grant, error) {
	args := &SettleArgs{RequestUID: requestUID, Outcome: outcome, Message: message}
	var out Grant
	return &out, c.authCall(ctx, s, "settle", SettleResource(args), func(cr auth.Credentials) any {
		args.Credentials = cr
		return args
	}, &out, false)
}
