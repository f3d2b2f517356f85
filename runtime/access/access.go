// Package access is the access service: a catalogue of resources, each
// with a price, the service that fulfils it and who may request it, and
// the grants users hold. A user requests a resource with an authorisation
// and a cheque written to this service; the service checks the catalogue,
// cashes the cheque for the price, asks the fulfilling service in its own
// name, then receipts the payment on success or refunds it on failure, and
// records a grant. check and batch_check answer "may user U do action A on
// resource R" from the catalogue and the grants.
//
// Rules (reasons in docs/design/access.md):
//   - The catalogue is managed by the service's admins; any user of a
//     trusted identity service may list it.
//   - A request is idempotent by its client-chosen request id (per user):
//     a retry never pays twice and gets the first outcome.
//   - A user the catalogue does not allow is refused before any money moves.
//   - A cheque pays for one request only.
//   - check may be asked by the user the question is about, by an admin,
//     or by a trusted service (a fulfilling service checking a grant).
package access

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"regexp"
	"sync"
	"time"

	"github.com/openacquire/acquire/runtime/accounting"
	"github.com/openacquire/acquire/runtime/auth"
	"github.com/openacquire/acquire/runtime/call"
	"github.com/openacquire/acquire/runtime/identity"
	"github.com/openacquire/acquire/runtime/service"
	"github.com/openacquire/acquire/runtime/store"
)

// Kind is the service kind this package serves.
const Kind = "access"

// Limits, in one place.
const (
	// MaxResources bounds the catalogue. Checked before a new entry is
	// written, so concurrent sets of new names may overshoot it by their number.
	MaxResources = 1000
	// MaxUsersPerResource bounds a resource's list of allowed users.
	MaxUsersPerResource = 100
	// MaxDetailsBytes bounds a request's details (passed to the fulfiller).
	MaxDetailsBytes = 4096
	// MaxDescriptionBytes bounds a resource's description.
	MaxDescriptionBytes = 1024
	// MaxResultBytes bounds a fulfiller's answer that is recorded.
	MaxResultBytes = 64 << 10
	// MaxBatchCheck bounds the questions of one batch_check.
	MaxBatchCheck = 100
	// HoldFor is how long a cashed cheque's money is held for the request
	// (the provisional transfer's receipt_by): if the request is never
	// finished, the money returns to the user by itself after it.
	HoldFor = time.Hour
	// MinHold and MaxHold bound a resource's hold_s. MaxHold stays well
	// inside accounting's MaxReceiptByAhead (31 days).
	MinHold = time.Minute
	MaxHold = 7 * 24 * time.Hour
	// MaxSettleMessageBytes bounds settle's message.
	MaxSettleMessageBytes = 1024
	// RequestLease is how long one run of a request owns it; a retry
	// arriving meanwhile is InProgressError, one arriving later takes over.
	RequestLease = 2 * time.Minute
	// FulfilTimeout bounds the call to the fulfilling service (< RequestLease).
	FulfilTimeout = 60 * time.Second
	// IncomeAccount is the name of the service's own account at accounting.
	IncomeAccount = "income"
)

var (
	namePattern      = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.:/-]{0,63}$`)
	requestIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$`)
	functionPattern  = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]{0,127}$`)
)

// Error classes of the access service. The names are part of the protocol.
var (
	ErrAccessDenied     = call.NewClass("AccessDeniedError")     // the catalogue does not allow this user
	ErrCatalogueFull    = call.NewClass("CatalogueFullError")    // MaxResources reached
	ErrRequestConflict  = call.NewClass("RequestConflictError")  // a request id reused with other content
	ErrChequeUsed       = call.NewClass("ChequeUsedError")       // the cheque pays for another request
	ErrPaymentRefused   = call.NewClass("PaymentRefusedError")   // cashing the cheque was refused; nothing moved
	ErrFulfilmentFailed = call.NewClass("FulfilmentFailedError") // the fulfiller refused; the payment was refunded
	ErrSettleConflict   = call.NewClass("SettleConflictError")   // settled otherwise before, or not deferred
	// ErrFulfillerUnreachable: the fulfilling service could not be reached
	// at all (no such host, connection refused), so nothing ran and the
	// payment was refunded at once. Retry later under a new request id.
	ErrFulfillerUnreachable = call.NewClass("FulfillerUnreachableError")
)

// Keys of the service's records.
const (
	resourcesPre = "access/resources/"
	requestsPre  = "access/requests/"
	chequesPre   = "access/cheques/"
	grantsPre    = "access/grants/"
)

func resourceKey(name string) string { return resourcesPre + store.EncodeName(name) }
func requestKey(uid string) string   { return requestsPre + uid }
func userGrantsPrefix(identityURL, userUID string) string {
	return grantsPre + hash("acquire-access-user-v1", identityURL, userUID) + "/"
}
func grantKey(identityURL, userUID, resource string) string {
	return userGrantsPrefix(identityURL, userUID) + store.EncodeName(resource)
}

// RequestUID names a request uniquely: request ids are the user's choice,
// so they are scoped by identity service and user. The fulfiller receives
// it, to be idempotent by it.
func RequestUID(identityURL, userUID, requestID string) string {
	return hash("acquire-access-request-v1", identityURL, userUID, requestID)
}

func hash(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{'\n'})
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// Access is the access service on top of the function framework.
type Access struct {
	svc *service.Service
	b   *store.Bucket
	v   *auth.Verifier
	sv  *auth.ServiceVerifier
	// anySV verifies any service's own authorisation: settle checks the
	// caller against the request's recorded fulfiller instead of a list.
	anySV *auth.ServiceVerifier
	c     *call.Client
	acct  *accounting.Client

	mu     sync.Mutex
	income string // the income account's id, once known to exist
}

// Options configure the service.
type Options struct {
	// Client makes identity lookups, accounting calls and fulfilment calls.
	Client *call.Client
	// AccountingURL is where cheques are cashed.
	AccountingURL string
	// TrustedIdentities lists the identity services whose users may act
	// here; empty trusts none.
	TrustedIdentities auth.TrustedIdentities
	// TrustedServices lists the services that may ask check/batch_check
	// about any user. Empty trusts none.
	TrustedServices []string
	// Staleness bounds how long a looked-up session stays cached.
	Staleness time.Duration
}

// New registers the access functions on svc.
func New(svc *service.Service, o Options) (*Access, error) {
	if o.Client == nil || o.AccountingURL == "" {
		return nil, errors.New("access: a call client and an accounting URL are required")
	}
	v := &auth.Verifier{Lookup: identity.Lookup(o.Client), Clock: svc.Clock(), Audience: svc.URL(), Identities: o.TrustedIdentities, Staleness: o.Staleness}
	sv := &auth.ServiceVerifier{Certs: auth.ServiceCertsFrom(o.Client), Clock: svc.Clock(), Audience: svc.URL(), Services: map[string]bool{}}
	for _, u := range o.TrustedServices {
		sv.Services[u] = true
	}
	// Services trusted later, on every platform, by a trust record on the
	// service's store (service.TrustedCache; the provider's acquire_trust).
	sv.Also = (&service.TrustedCache{B: svc.Bucket()}).Trusts
	anySV := &auth.ServiceVerifier{Certs: auth.ServiceCertsFrom(o.Client), Clock: svc.Clock(), Audience: svc.URL()}
	a := &Access{svc: svc, b: svc.Bucket(), v: v, sv: sv, anySV: anySV, c: o.Client,
		acct: &accounting.Client{C: o.Client, URL: o.AccountingURL}}
	a.register()
	return a, nil
}

func (a *Access) register() {
	s := a.svc
	service.Handle(s, "set_resource", service.Options{Idempotent: true}, a.handleSetResource)
	service.Handle(s, "remove_resource", service.Options{Idempotent: true}, a.handleRemoveResource)
	service.Handle(s, "list_resources", service.Options{}, a.handleListResources)
	service.Handle(s, "request", service.Options{Idempotent: true}, a.handleRequest)
	// settle is exactly-once by the request's state machine, and answers
	// InProgressError until the fulfilment is saved: a stored answer per
	// idempotency key would repeat that error to the retry.
	service.Handle(s, "settle", service.Options{}, a.handleSettle)
	service.Handle(s, "check", service.Options{}, a.handleCheck)
	service.Handle(s, "batch_check", service.Options{}, a.handleBatchCheck)
}

// Service returns the framework service this runs on.
func (a *Access) Service() *service.Service { return a.svc }

// AddAdmin makes a user an admin of the access service (manages the catalogue).
func (a *Access) AddAdmin(ctx context.Context, identityURL, userUID string) error {
	return a.svc.AddAdmin(ctx, service.Admin{IdentityURL: identityURL, UserUID: userUID})
}

// user is who a user authorisation speaks for.
type user struct {
	IdentityURL, UserUID string
}

// authoriseUser verifies a user's authorisation for exactly resource.
func (a *Access) authoriseUser(ctx context.Context, cr auth.Credentials, resource string) (*user, error) {
	if cr.Service != nil || cr.Authorisation == nil {
		return nil, call.Errorf(auth.ErrAuthorisation, "give a user's authorisation (and no service's)")
	}
	s, err := a.v.Verify(ctx, cr.Authorisation, resource)
	if err != nil {
		return nil, err
	}
	return &user{IdentityURL: cr.Authorisation.IdentityURL, UserUID: s.UserUID}, nil
}

// authoriseAdmin verifies an admin's authorisation.
func (a *Access) authoriseAdmin(ctx context.Context, cr auth.Credentials, resource string) (*user, error) {
	u, err := a.authoriseUser(ctx, cr, resource)
	if err != nil {
		return nil, err
	}
	ok, err := a.svc.IsAdmin(ctx, u.IdentityURL, u.UserUID)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, call.Errorf(call.ErrPermission, "only admins of the access service may change the catalogue")
	}
	return u, nil
}

func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}
