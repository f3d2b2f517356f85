// Package accounting is the accounting service: users' accounts on a
// ledger (runtime/ledger) over the service's own bucket, with every
// function authorised by an identity authorisation whose resource names the
// exact operation, so an authorisation signed for one call cannot be
// replayed for another.
//
// Rules:
//   - An account belongs to the users listed as its owners (today: the user
//     who created it). Only owners may debit it, read its balance or its
//     statement, or receipt / refund provisional transfers paid into it.
//   - Anyone may pay into any account, addressed by its id.
//   - Account names are unique per user: the account id is derived from
//     (identity service, user uid, name), so two creates of one name meet
//     on one id.
//   - Deposits (money from the ledger's mint) are for the service's admins
//     only; the sum of all balances, mint included, stays exactly zero.
//   - A provisional transfer is a promise to the payee until its
//     receipt_by time: only the payee's owners may receipt it (in full or
//     in part) or refund it. The payer cannot take it back; it returns to
//     the payer by refund or by expiry at receipt_by (see Expire).
//
// The ledger records, with every entry, a summary of the authorisation that
// caused it ("identity=<url> user=<uid> session=<sid>"). The summary rather
// than the signed authorisation is recorded because the ledger compares a
// retried transfer's content with the first one: a client that retries
// with a freshly signed authorisation from the same session must be
// answered with the first result, not an id conflict.
package accounting

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/openacquire/acquire/runtime/auth"
	"github.com/openacquire/acquire/runtime/call"
	"github.com/openacquire/acquire/runtime/identity"
	"github.com/openacquire/acquire/runtime/ledger"
	"github.com/openacquire/acquire/runtime/service"
	"github.com/openacquire/acquire/runtime/settlement"
	"github.com/openacquire/acquire/runtime/store"
)

// Kind is the service kind this package serves.
const Kind = "accounting"

// Limits, in one place.
const (
	// MaxAccountsPerUser bounds how many accounts one user may create and
	// how many list_accounts returns. The check is made before creation,
	// so concurrent creates may overshoot it by their number.
	MaxAccountsPerUser = 100
	// MaxReceiptByAhead bounds how far ahead a provisional transfer's
	// receipt_by may be.
	MaxReceiptByAhead = 31 * 24 * time.Hour
	// MaxStatementPage bounds one statement page.
	MaxStatementPage = ledger.MaxPageSize
	// DefaultStatementPage is the page size when none is asked for.
	DefaultStatementPage = 100
	// maxCachedAccounts bounds the in-process cache of account records
	// (immutable once written, so caching them is always sound).
	maxCachedAccounts = 100_000
)

var namePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$`)

// Error classes of the accounting service. The names are part of the
// protocol: they never change.
var (
	ErrInsufficientFunds = call.NewClass("InsufficientFundsError")
	ErrTransferConflict  = call.NewClass("TransferConflictError")
	ErrNotProvisional    = call.NewClass("NotProvisionalError")
	ErrAlreadyResolved   = call.NewClass("AlreadyResolvedError")
	ErrTransferExpired   = call.NewClass("TransferExpiredError")
	ErrOverReceipt       = call.NewClass("OverReceiptError")
	ErrTransferRefused   = call.NewClass("TransferRefusedError")
	ErrOverdraft         = call.NewClass("OverdraftError")
	ErrPayeeLimit        = call.NewClass("PayeeLimitError")   // the payee's account cannot take the amount within the ledger's bound
	ErrAccountLimit      = call.NewClass("AccountLimitError") // the user has MaxAccountsPerUser accounts
)

// Keys of the service's own records (the ledger keeps its own under ledger/).
const (
	accountsPre    = "accounting/accounts/"
	usersPre       = "accounting/users/"
	servicesPre    = "accounting/services/"
	provisionalPre = "accounting/provisional/"
)

func accountKey(id string) string { return accountsPre + store.EncodeName(id) }
func userPrefix(o Owner) string {
	if o.ServiceURL != "" {
		return servicesPre + store.EncodeName(o.ServiceURL) + "/"
	}
	return usersPre + store.EncodeName(o.IdentityURL) + "/" + store.EncodeName(o.UserUID) + "/"
}
func provisionalKey(id string) string { return provisionalPre + store.EncodeName(id) }

// Owner is a user, named by the identity service that vouches for them,
// or a service, named by its URL (it proves itself with its certificate).
type Owner struct {
	IdentityURL string `json:"identity_url,omitempty"`
	UserUID     string `json:"user_uid,omitempty"`
	ServiceURL  string `json:"service_url,omitempty"`
}

// accountRecord is the service's description of an account: its owners.
// Written once with put-if-absent before the ledger account is created.
type accountRecord struct {
	ID        string        `json:"id"`
	Name      string        `json:"name"`
	Owners    []Owner       `json:"owners"`
	Overdraft ledger.Amount `json:"overdraft"`
	Created   time.Time     `json:"created"`
}

// provisionalRecord remembers the sides of a provisional transfer, so a
// receipt or refund can be checked against the payee's owners. Written
// with put-if-absent before the ledger records the transfer.
type provisionalRecord struct {
	ID        string        `json:"id"`
	From      string        `json:"from"`
	To        string        `json:"to"`
	Amount    ledger.Amount `json:"amount"`
	ReceiptBy time.Time     `json:"receipt_by"`
}

// Accounting is the accounting service on top of the function framework.
type Accounting struct {
	svc *service.Service
	b   *store.Bucket
	l   *ledger.Ledger
	v   *auth.Verifier
	sv  *auth.ServiceVerifier

	// Cross-region settlement (settle.go).
	settler *settlement.Settler
	peerV   *auth.ServiceVerifier
	peers   *peerSet

	// Services' keys (peerkeys.go).
	svcClient  *call.Client
	keys       PeerKeys
	fallback   PeerKeys // trusted services' keys when registered with no registry; nil when keys was chosen
	pinnedKeys bool     // keys is PinnedByURL, chosen explicitly
	warnOnce   sync.Once
	regMu      sync.Mutex
	reg        string
	regRead    time.Time

	mu       sync.Mutex
	accounts map[string]*accountRecord
	auditing sync.Mutex // held while ledger_audit walks the ledger
}

// Options configure the service.
type Options struct {
	// Client makes the identity lookups that verify authorisations.
	Client *call.Client
	// TrustedIdentities lists the identity services whose users may act
	// here; empty trusts none.
	TrustedIdentities auth.TrustedIdentities
	// TrustedServices lists the service URLs that may act here in their
	// own name (own accounts, take payments). Empty trusts none: checking
	// a service means fetching keys from its URL, which must not be any
	// URL a caller names.
	TrustedServices []string
	// Staleness bounds how long a looked-up session stays cached (default
	// auth.DefaultStaleness): a logout is seen here within that time.
	Staleness time.Duration
	// LedgerOptions are passed to the ledger (the service's clock is added).
	LedgerOptions []ledger.Option
	// SettlementPeers lists the peer accounting services (URLs or UIDs,
	// any region) this one settles cross-region transfers with: its users
	// may pay their accounts, and only they may call settle_credit here.
	// Empty: none (no cross-region transfers).
	SettlementPeers []string
	// PeerKeys finds the keys of settlement peers and trusted services.
	// nil: as their home registries vouch for them, asked through the
	// registry this service registered with (registry.HomeKeys; a peer
	// whose keys it does not vouch for is refused, KeyNotVouchedError).
	// PinnedByURL(client) is the explicit choice of a deployment without
	// a registry peering.
	PeerKeys PeerKeys
	// PeerCreditLimit is each peer's net credit here (0: the settlement
	// package's default); SettlementWindow its credit_by window (0: the
	// default). See runtime/settlement.
	PeerCreditLimit  ledger.Amount
	SettlementWindow time.Duration
}

// New opens the ledger on the service's bucket and registers the
// accounting functions.
func New(ctx context.Context, svc *service.Service, o Options) (*Accounting, error) {
	if o.Client == nil {
		return nil, errors.New("accounting: a call client is required for identity lookups")
	}
	l, err := ledger.New(ctx, svc.Bucket(), append([]ledger.Option{ledger.WithClock(svc.Clock()), ledger.WithLogger(svc.Logger())},
		o.LedgerOptions...)...)
	if err != nil {
		return nil, err
	}
	v := &auth.Verifier{Lookup: identity.Lookup(o.Client), Clock: svc.Clock(), Audience: svc.URL(), Identities: o.TrustedIdentities, Staleness: o.Staleness}
	a := &Accounting{svc: svc, b: svc.Bucket(), l: l, v: v, svcClient: o.Client, accounts: map[string]*accountRecord{}}
	a.openKeys(o)
	// Trusted services' keys come the same way as settlement peers'.
	a.sv = &auth.ServiceVerifier{Certs: a.serviceCerts, Clock: svc.Clock(), Audience: svc.URL(), Services: map[string]bool{}}
	for _, u := range o.TrustedServices {
		a.sv.Services[u] = true
	}
	// Services trusted later, on every platform, by a trust record on the
	// service's store (service.TrustedCache; the provider's acquire_trust).
	a.sv.Also = (&service.TrustedCache{B: svc.Bucket()}).Trusts
	if err := a.openSettlement(o); err != nil {
		return nil, err
	}
	a.register()
	if err := svc.EnableFastPath(service.FastPath{Verify: v.Verify, Identities: o.TrustedIdentities, Certs: a.serviceCerts}); err != nil {
		return nil, err
	}
	return a, nil
}

func (a *Accounting) register() {
	s := a.svc
	service.Handle(s, "create_account", service.Options{Idempotent: true}, a.handleCreateAccount)
	service.Handle(s, "list_accounts", service.Options{}, a.handleListAccounts)
	service.Handle(s, "balance", service.Options{}, a.handleBalance)
	service.Handle(s, "statement", service.Options{}, a.handleStatement)
	// transfer needs no framework idempotency records: the ledger is
	// exactly-once per transfer id and answers a retry (same id, same
	// content, recorded with the caller's summary, not the signature) with
	// the first result. That saves two durable writes per transfer.
	service.Handle(s, "transfer", service.Options{}, a.handleTransfer)
	service.Handle(s, "receipt", service.Options{Idempotent: true}, a.handleReceipt)
	service.Handle(s, "refund", service.Options{Idempotent: true}, a.handleRefund)
	service.Handle(s, "deposit", service.Options{Idempotent: true}, a.handleDeposit)
	service.Handle(s, "set_overdraft", service.Options{Idempotent: true}, a.handleSetOverdraft)
	a.registerInvoices()
	a.registerDeposits()
	service.Handle(s, "cash_cheque", service.Options{Idempotent: true}, a.handleCashCheque)
	a.registerSettlement()
}

// Service returns the framework service this runs on.
func (a *Accounting) Service() *service.Service { return a.svc }

// Ledger returns the ledger (for the host's sweep, audits and tests).
func (a *Accounting) Ledger() *ledger.Ledger { return a.l }

// AddAdmin makes a user an admin of the accounting service (may deposit).
func (a *Accounting) AddAdmin(ctx context.Context, identityURL, userUID string) error {
	return a.svc.AddAdmin(ctx, service.Admin{IdentityURL: identityURL, UserUID: userUID})
}

// Expire releases the funds of provisional transfers whose receipt_by has
// passed, keeps the settlement peers' keys warm, and finishes
// cross-region transfers in flight whose peer answers now; the host runs
// it with its periodic sweep.
func (a *Accounting) Expire(ctx context.Context) (int, error) {
	n, err := a.l.Expire(ctx, a.svc.Now())
	a.WarmPeerKeys(ctx) // before the settlement sweep, which calls the peers
	m, serr := a.settler.Sweep(ctx, a.svc.Now())
	return n + m, errors.Join(err, serr)
}

// Close waits for the settlement's and the ledger's background writes.
func (a *Accounting) Close() error {
	_ = a.settler.Close()
	return a.l.Close()
}

// caller is who an authorisation speaks for.
type caller struct {
	Owner
	summary string // recorded in the ledger with every entry it causes
}

// authorise verifies credentials for exactly this resource: a user's
// authorisation, or a trusted service's.
func (a *Accounting) authorise(ctx context.Context, cr auth.Credentials, resource string) (*caller, error) {
	switch {
	case cr.Authorisation != nil && cr.Service != nil:
		return nil, call.Errorf(auth.ErrAuthorisation, "give a user's or a service's authorisation, not both")
	case cr.Service != nil:
		url, err := a.sv.Verify(ctx, cr.Service, resource)
		if err != nil {
			return nil, err
		}
		return &caller{Owner: Owner{ServiceURL: url}, summary: "service=" + url}, nil
	}
	au := cr.Authorisation
	s, err := a.v.Verify(ctx, au, resource)
	if err != nil {
		return nil, err
	}
	c := &caller{Owner: Owner{IdentityURL: au.IdentityURL, UserUID: s.UserUID}}
	c.summary = fmt.Sprintf("identity=%s user=%s session=%s", au.IdentityURL, s.UserUID, au.SessionUID)
	return c, nil
}

// AccountID is the id of a user's account of the given name.
func AccountID(o Owner, name string) string { return "acct-" + ownerScoped("account", o, name) }

// ownerScoped names what an owner called name, in one namespace per owner
// and kind: 32 hex digits of SHA-256 over (kind, owner, name), so no owner
// can take or block another's names.
func ownerScoped(kind string, o Owner, name string) string {
	text := "acquire-" + kind + "-v1\n" + o.IdentityURL + "\n" + o.UserUID + "\n" + name
	if o.ServiceURL != "" {
		text = "acquire-service-" + kind + "-v1\n" + o.ServiceURL + "\n" + name
	}
	h := sha256.Sum256([]byte(text))
	return hex.EncodeToString(h[:16])
}

// Ledger transfer ids. A caller's id is its own idempotency key, scoped to
// the caller, so nobody (user, service or admin) can take another's id
// first; the ledger id is what answers, statements and receipts name.
// Ids the service makes itself (cheques, invoice payments) are keyed with
// its secret (keyedID), so nobody can predict them either.
func transferID(c *caller, id string) string { return TransferID(c.Owner, id) }

// TransferID is the ledger id of the transfer o asked for under its own id:
// what answers and statements name. It is no secret; a caller can work out
// where its transfer stands in the ledger without asking.
func TransferID(o Owner, id string) string  { return "tx-" + ownerScoped("transfer", o, id) }
func depositID(c *caller, id string) string { return "dep-" + ownerScoped("deposit", c.Owner, id) }

// keyedID is prefix + 32 hex digits of the service keyring's MAC of
// domain and fields: the one place the service's secret names anything in
// the ledger. A later change of how the MAC key is derived from the secret
// changes these ids, so a record that must be finished later keeps the id
// it was given rather than deriving it again.
func (a *Accounting) keyedID(prefix, domain string, fields ...string) string {
	mac := a.svc.Keys().MAC(domain, []byte(domain+"\n"+strings.Join(fields, "\n")))
	return prefix + mac[:32]
}

// account reads an account record (cached: records never change).
func (a *Accounting) account(ctx context.Context, id string) (*accountRecord, error) {
	a.mu.Lock()
	r, ok := a.accounts[id]
	a.mu.Unlock()
	if ok {
		return r, nil
	}
	if id == ledger.MintAccount {
		return nil, call.Errorf(call.ErrPermission, "the mint is nobody's account")
	}
	var rec accountRecord
	if _, err := a.b.GetJSON(ctx, accountKey(id), &rec); errors.Is(err, store.ErrNotFound) {
		return nil, call.Errorf(call.ErrNotFound, "no account %q", clip(id))
	} else if err != nil {
		return nil, err
	}
	a.mu.Lock()
	if len(a.accounts) >= maxCachedAccounts {
		a.accounts = map[string]*accountRecord{} // bounded: start again rather than grow
	}
	a.accounts[id] = &rec
	a.mu.Unlock()
	return &rec, nil
}

// owned reads an account and checks that c owns it. Someone else's account
// answers PermissionError (it does not say whether it exists to
// non-owners beyond that).
func (a *Accounting) owned(ctx context.Context, c *caller, id string) (*accountRecord, error) {
	rec, err := a.account(ctx, id)
	if errors.Is(err, call.ErrNotFound) {
		return nil, call.Errorf(call.ErrPermission, "account %q is not yours", clip(id))
	}
	if err != nil {
		return nil, err
	}
	if !slices.Contains(rec.Owners, c.Owner) {
		return nil, call.Errorf(call.ErrPermission, "account %q is not yours", clip(id))
	}
	return rec, nil
}

// typed maps ledger errors to the service's error classes.
func typed(err error) error {
	if err == nil {
		return nil
	}
	var ce *call.Error
	if errors.As(err, &ce) {
		return err
	}
	m := err.Error()
	switch {
	case errors.Is(err, ledger.ErrInsufficientFunds):
		return call.Errorf(ErrInsufficientFunds, "%s", m)
	case errors.Is(err, ledger.ErrPayeeLimit):
		return call.Errorf(ErrPayeeLimit, "%s", m)
	case errors.Is(err, ledger.ErrIDConflict):
		return call.Errorf(ErrTransferConflict, "%s", m)
	case errors.Is(err, ledger.ErrNoAccount), errors.Is(err, ledger.ErrNoTransfer):
		return call.Errorf(call.ErrNotFound, "%s", m)
	case errors.Is(err, ledger.ErrAccountExists):
		return call.Errorf(call.ErrExists, "%s", m)
	case errors.Is(err, ledger.ErrNotProvisional):
		return call.Errorf(ErrNotProvisional, "%s", m)
	case errors.Is(err, ledger.ErrAlreadyResolved):
		return call.Errorf(ErrAlreadyResolved, "%s", m)
	case errors.Is(err, ledger.ErrExpired):
		return call.Errorf(ErrTransferExpired, "%s", m)
	case errors.Is(err, ledger.ErrOverReceipt):
		return call.Errorf(ErrOverReceipt, "%s", m)
	case errors.Is(err, ledger.ErrRefused):
		return call.Errorf(ErrTransferRefused, "%s", m)
	case errors.Is(err, ledger.ErrOverdraft):
		return call.Errorf(ErrOverdraft, "%s", m)
	case errors.Is(err, ledger.ErrInvalid), errors.Is(err, ledger.ErrBadAmount), errors.Is(err, ledger.ErrAmountOutOfRange):
		return call.Errorf(call.ErrBadArguments, "%s", m)
	case errors.Is(err, ledger.ErrContention):
		return call.Errorf(call.ErrBusy, "%s", m)
	}
	return err // the framework logs it and answers InternalError
}

// refusal says whether a typed error is the ledger's final refusal of a
// transfer (nothing moved).
func refusal(err error) bool {
	return errors.Is(err, ErrInsufficientFunds) || errors.Is(err, ErrPayeeLimit)
}

func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}

// ledgerOwner is how the ledger names an account's owner.
func (o Owner) ledgerOwner() string {
	if o.ServiceURL != "" {
		return o.ServiceURL
	}
	return o.UserUID
}
