// Package settlement moves money between two ledgers run by two accounting
// services (two regions), atomically and exactly once, over an unreliable
// link between them and through crashes of either side.
//
// Each ledger keeps, per peer region, a position account (what this region
// owes the peer: credited when money leaves for the peer, debited when the
// peer's money arrives) and an escrow account (money of this region's
// payers held while the peer decides). A transfer from a payer here (the
// sending side) to a payee at the peer (the receiving side):
//
//  1. is recorded here under its settlement id, with a credit_by time;
//  2. is prepared here: payer -> escrow (a refusal for funds ends it);
//  3. is decided by the peer: one put-if-absent record there says either
//     "credit" (and the peer's position account pays the payee) or
//     "abort" (credit_by passed before the request arrived);
//  4. is finished here as the peer decided: escrow -> position (committed)
//     or escrow -> payer (aborted), under one ledger id, so the two
//     outcomes exclude each other in this ledger too.
//
// A provisional transfer (with a receipt_by) is decided the same way, but
// the peer's "credit" is a hold in its ledger (a provisional ledger
// transfer from its position account to the payee, with the same
// receipt_by): the payee there receipts (part of) it or refunds it, or it
// expires by the peer's own rules. The peer answers "held" until that hold
// is resolved and then, forever, "settled" with the receipted amount; this
// side finishes with the receipted part to the position and the rest back
// to the payer.
//
// Every step is idempotent under the settlement id; a retry of the payer's
// request or the sweep re-runs the sequence. Only the receiving side
// decides, once, so the two ledgers always agree; the sending side waits
// for that decision (its payer's money held in escrow) while the peer is
// unreachable. runtime/ledger/DESIGN.md has the argument.
package settlement

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/openacquire/acquire/runtime/ledger"
	"github.com/openacquire/acquire/runtime/store"
)

// Typed errors. Every error Settler returns wraps one of these, a ledger
// error, a store error or a context error.
var (
	// ErrPeerUnreachable: the peer did not answer. The transfer is in
	// flight: the payer's money is held in escrow until the peer's decision
	// is learned (a retry of the same id, or the sweep).
	ErrPeerUnreachable = errors.New("settlement: peer accounting service unreachable")
	// ErrUnknownPeer: the peer is not one this service settles with.
	ErrUnknownPeer = errors.New("settlement: not a settlement peer of this service")
	// ErrConflict: a settlement id reused with other content.
	ErrConflict = errors.New("settlement: id reused with different content")
	// ErrInvalid: a malformed request (id, account, amount, times).
	ErrInvalid = errors.New("settlement: invalid request")
	// ErrAborted: the peer aborted the transfer (its credit_by passed
	// before it arrived) or refused it (no such payee, the payee's or the
	// peer's limit); the payer's money went back to the payer.
	ErrAborted = errors.New("settlement: transfer aborted by the receiving side")
	// ErrNoTransfer: no settlement of that id.
	ErrNoTransfer = errors.New("settlement: no such transfer")
	// ErrPeerContradiction: the peer answered a decision that contradicts
	// one it gave before. Nothing more moves; an operator must look.
	ErrPeerContradiction = errors.New("settlement: the peer contradicted its own decision")
)

// Limits and defaults.
const (
	// DefaultWindow is how long after a transfer is recorded the receiving
	// side may still credit it (its credit_by).
	DefaultWindow = time.Minute
	// MaxWindow bounds credit_by ahead of the receiving side's clock: a
	// peer cannot keep a credit open longer.
	MaxWindow = time.Hour
	// DefaultPeerTimeout bounds one call to the peer: past it the sender
	// answers ErrPeerUnreachable (fail fast) and the sweep finishes later.
	DefaultPeerTimeout = 5 * time.Second
	// DefaultSweepAge: the sweep leaves a transfer recorded less than this
	// long ago to its first attempt.
	DefaultSweepAge = 10 * time.Second
	// MaxReceiptBy bounds a provisional transfer's receipt_by ahead of
	// the clock (the accounting service's own bound for holds).
	MaxReceiptBy = 31 * 24 * time.Hour
	// MaxPeerURLBytes bounds a peer's URL.
	MaxPeerURLBytes = 512
	// sweepPage is how many index entries the sweep reads per page.
	sweepPage = 500
)

// DefaultCreditLimit is the default net credit a peer gets: 10^9 units,
// a thousandth of the ledger's bound.
var DefaultCreditLimit = ledger.MustParse("1000000000")

// Prefixes of this package's records in the service's bucket (the ledger
// keeps its own under ledger/).
const (
	keyPre   = "settlement/"
	outPre   = keyPre + "out/"
	duePre   = keyPre + "due/"
	inPre    = keyPre + "in/"
	stampLen = 20
)

// Account id prefixes of the settlement accounts in each ledger.
const (
	PositionPrefix = "xpos-"
	EscrowPrefix   = "xesc-"
)

var idRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,95}$`)

// Peer is the other accounting service as the sending side sees it: one
// call, idempotent under the request's id, answering the receiving side's
// decision. Implementations: an authenticated call to the peer's
// settle_credit function (accounting), or a direct call in tests.
type Peer interface {
	Credit(ctx context.Context, req CreditRequest) (CreditAnswer, error)
}

// CreditRequest is what the sending side asks the receiving side: credit
// To with Amount under ID unless CreditBy has passed.
type CreditRequest struct {
	ID          string        `json:"id"`
	To          string        `json:"to"`
	Amount      ledger.Amount `json:"amount"`
	CreditBy    time.Time     `json:"credit_by"`
	Description string        `json:"description,omitempty"`
	// ReceiptBy makes the credit a hold until then (a provisional
	// transfer in the receiving ledger); zero: a direct credit.
	ReceiptBy time.Time `json:"receipt_by,omitzero"`
}

// Decisions of the receiving side, and the states of a transfer as the
// sending side reports them.
const (
	Credited  = "credited"  // the payee was credited
	Refused   = "refused"   // decided to credit, but the ledger refused (limits), or no such payee
	Aborted   = "aborted"   // credit_by passed before the request arrived
	Pending   = "pending"   // sending side: in flight, the decision not learned yet
	Committed = "committed" // sending side: the peer credited, escrow moved to the position
	Returned  = "returned"  // sending side: the peer did not credit, escrow went back to the payer
	Declined  = "declined"  // sending side: the payer's own ledger refused the prepare (funds)
	Held      = "held"      // provisional: the payee's hold at the peer is not resolved yet
	Settled   = "settled"   // provisional, receiving side: the hold was resolved (see Receipted)
)

// CreditAnswer is the receiving side's decision, the same on every ask.
type CreditAnswer struct {
	ID       string `json:"id"`
	State    string `json:"state"`            // Credited, Refused or Aborted
	Reason   string `json:"reason,omitempty"` // for Refused / Aborted
	Transfer string `json:"transfer,omitempty"`
	// Provisional only: the hold's receipt_by, and once Settled its
	// resolution (receipt, refund, void, expire) and the part receipted
	// (moved to the payee; the rest went back).
	ReceiptBy  time.Time      `json:"receipt_by,omitzero"`
	Resolution string         `json:"resolution,omitempty"`
	Receipted  *ledger.Amount `json:"receipted,omitempty"`
}

// Config configures a Settler.
type Config struct {
	// Self is this accounting service's URL: how peers name it.
	Self   string
	Bucket *store.Bucket
	Ledger *ledger.Ledger
	Clock  func() time.Time
	// Peers finds the peer at a URL; false if it is not a peer.
	Peers func(url string) (Peer, bool)
	// Payable says why a peer may not pay into account ("" if it may; an
	// error only when it cannot tell now). Nil: any account the ledger has
	// that is not the mint or a settlement account.
	Payable func(ctx context.Context, account string) (reason string, err error)
	// OnHold, if set, is called before the receiving side records a
	// hold (the ledger transfer req) so the service can let the payee
	// receipt or refund it; it must be idempotent.
	OnHold func(ctx context.Context, req ledger.TransferRequest) error
	// CreditLimit is each position account's overdraft: how much more
	// a peer's payers may pay in here than this region's payers paid out
	// to it (net). Zero means DefaultCreditLimit. The ledger keeps
	// balance + overdraft within ledger.MaxAmount, so the limit also
	// bounds how much this region can owe the peer.
	CreditLimit ledger.Amount
	Window      time.Duration // 0: DefaultWindow
	PeerTimeout time.Duration // 0: DefaultPeerTimeout
	SweepAge    time.Duration // 0: DefaultSweepAge
	Log         *slog.Logger
	// SyncFinish finishes committed transfers before answering (tests
	// that check the ledgers right after an answer); by default the
	// answer comes as soon as the peer's decision is known.
	SyncFinish bool
	// crashAt is set only by tests: called at each named step; a non-nil
	// error stops the Settler there as if its process died.
	crashAt func(step string) error
}

// Settler runs both sides of the protocol for one accounting service.
type Settler struct {
	c Config

	mu      sync.Mutex
	ensured map[string]bool // settlement accounts known to exist

	slots   chan struct{} // background finishes in flight
	bg      sync.WaitGroup
	quiesce sync.Mutex // one Quiesce at a time holds the slots
}

// maxBackground bounds background finishes in flight.
const maxBackground = 256

// New checks the configuration and returns a Settler.
func New(c Config) (*Settler, error) {
	if c.Bucket == nil || c.Ledger == nil || c.Peers == nil || c.Self == "" {
		return nil, fmt.Errorf("%w: settlement needs a bucket, a ledger, peers and its own URL", ErrInvalid)
	}
	if c.Clock == nil {
		c.Clock = time.Now
	}
	if c.CreditLimit.IsZero() {
		c.CreditLimit = DefaultCreditLimit
	}
	if c.CreditLimit.IsNegative() || c.CreditLimit.Cmp(ledger.MaxAmount) > 0 {
		return nil, fmt.Errorf("%w: credit limit %s", ErrInvalid, c.CreditLimit)
	}
	if c.Window <= 0 {
		c.Window = DefaultWindow
	}
	if c.Window > MaxWindow {
		return nil, fmt.Errorf("%w: window %s over %s", ErrInvalid, c.Window, MaxWindow)
	}
	if c.PeerTimeout <= 0 {
		c.PeerTimeout = DefaultPeerTimeout
	}
	if c.SweepAge <= 0 {
		c.SweepAge = DefaultSweepAge
	}
	if c.Log == nil {
		c.Log = slog.Default()
	}
	return &Settler{c: c, ensured: map[string]bool{}, slots: make(chan struct{}, maxBackground)}, nil
}

func (s *Settler) step(name string) error {
	if s.c.crashAt == nil {
		return nil
	}
	return s.c.crashAt(name)
}

func (s *Settler) now() time.Time { return s.c.Clock().UTC().Truncate(time.Millisecond) }

// peerHash names a peer in keys and account ids: 32 hex digits of SHA-256
// over its URL.
func peerHash(url string) string {
	h := sha256.Sum256([]byte("acquire-settlement-peer-v1\n" + url))
	return hex.EncodeToString(h[:16])
}

// PositionAccount is the ledger account of what this region owes peer.
func PositionAccount(peer string) string { return PositionPrefix + peerHash(peer) }

// EscrowAccount holds this region's payers' money in flight to peer.
func EscrowAccount(peer string) string { return EscrowPrefix + peerHash(peer) }

// IsSettlementAccount says whether an account id is one of the settlement
// accounts (nobody pays into them but the protocol).
func IsSettlementAccount(id string) bool {
	return strings.HasPrefix(id, PositionPrefix) || strings.HasPrefix(id, EscrowPrefix)
}

// prepareID, finishID: the sending side's two ledger transfers.
func prepareID(id string) string { return id + ":prep" }
func finishID(id string) string  { return id + ":fin" }

// returnID is the sending side's third ledger transfer, for a provisional
// transfer receipted in part only: escrow -> payer, the unreceipted rest.
func returnID(id string) string { return id + ":ret" }

// creditID is the receiving side's ledger transfer: scoped by the peer, so
// two peers' ids can never meet.
func creditID(peer, id string) string {
	h := sha256.Sum256([]byte("acquire-settlement-credit-v1\n" + peer + "\n" + id))
	return "xr-" + hex.EncodeToString(h[:16])
}

func outKey(id string) string { return outPre + store.EncodeName(id) }
func dueKey(created time.Time, id string) string {
	return fmt.Sprintf("%s%0*d/%s", duePre, stampLen, created.UnixMilli(), store.EncodeName(id))
}
func inKey(peer, id string) string { return inPre + peerHash(peer) + "/" + store.EncodeName(id) }

// CheckID checks a settlement id.
func CheckID(id string) error {
	if !idRE.MatchString(id) {
		return fmt.Errorf("%w: settlement id %q (want %s)", ErrInvalid, clip(id), idRE)
	}
	return nil
}

func checkAmount(a ledger.Amount) error {
	if !a.IsPositive() || a.Cmp(ledger.MaxAmount) > 0 {
		return fmt.Errorf("%w: amount %s not in (0, %s]", ErrInvalid, a, ledger.MaxAmount)
	}
	return nil
}

func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}

// ensure makes the peer's settlement accounts exist in this ledger.
func (s *Settler) ensure(ctx context.Context, peer string) error {
	s.mu.Lock()
	done := s.ensured[peer]
	s.mu.Unlock()
	if done {
		return nil
	}
	name := "peer " + peerHash(peer)
	for _, spec := range []ledger.AccountSpec{
		{ID: PositionAccount(peer), Owner: "settlement", Name: name, Overdraft: s.c.CreditLimit},
		{ID: EscrowAccount(peer), Owner: "settlement", Name: name},
	} {
		if _, err := s.c.Ledger.GetAccount(ctx, spec.ID); err == nil {
			continue
		} else if !errors.Is(err, ledger.ErrNoAccount) {
			return err
		}
		if _, err := s.c.Ledger.CreateAccount(ctx, spec); err != nil && !errors.Is(err, ledger.ErrAccountExists) {
			return err
		}
	}
	s.mu.Lock()
	s.ensured[peer] = true
	s.mu.Unlock()
	return nil
}
