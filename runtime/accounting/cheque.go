package accounting

// Cheques: a user's signed promise to pay a named service up to a maximum
// before an expiry, for a resource. Writing one is client-side (the user's
// session signs it; no call is made); the named service cashes it once
// with cash_cheque, which makes a provisional transfer from the user's
// account to the service's that the service then receipts or refunds.
// docs/design/access.md gives the reasons for each rule below.

import (
	"crypto/sha256"
	"encoding/hex"
	"regexp"
	"strings"
	"time"
	"unicode"

	"github.com/openacquire/acquire/runtime/auth"
	"github.com/openacquire/acquire/runtime/call"
	"github.com/openacquire/acquire/runtime/ledger"
	"github.com/openacquire/acquire/runtime/service"
)

// Limits on cheques.
const (
	// MaxChequeLife bounds expires - signing time. It equals the identity
	// service's session life (24 h): a cheque is cashable only while its
	// session is approved, so a longer life would promise what the
	// session cannot keep.
	MaxChequeLife = 24 * time.Hour
	// MaxChequeForBytes bounds the resource a cheque pays for.
	MaxChequeForBytes = 256
	// MaxRecipientBytes bounds the recipient service URL.
	MaxRecipientBytes = 512
)

var chequeUIDPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{16,64}$`)

// Error classes of cheques. The names are part of the protocol.
var (
	ErrChequeAlreadyCashed = call.NewClass("ChequeAlreadyCashedError")
	ErrChequeExpired       = call.NewClass("ChequeExpiredError")
	ErrChequeOverMax       = call.NewClass("ChequeOverMaxError")
	ErrChequeRecipient     = call.NewClass("ChequeRecipientError") // cashed by a service it is not written to
	ErrChequeInvalid       = call.NewClass("ChequeInvalidError")   // malformed, or its signature does not verify
)

// Cheque is a user's signed promise: pay the service at Recipient at most
// Max from Account, before Expires, for For. Authorisation is the user's
// session signature over ChequeResource(c); every other field is checked
// against it, so changing any of them voids the cheque.
type Cheque struct {
	UID           string              `json:"uid"`
	Account       string              `json:"account"`
	Recipient     string              `json:"recipient"`
	Max           ledger.Amount       `json:"max"`
	Expires       time.Time           `json:"expires"`
	For           string              `json:"for"`
	Authorisation *auth.Authorisation `json:"authorisation"`
}

// ChequeResource is the resource a cheque's authorisation signs:
// "cheque <uid> account <acc> to <recipient> max <amount> expires <RFC 3339
// ms UTC> for <resource>". For is last, so spaces in it are unambiguous.
func ChequeResource(c *Cheque) string {
	return "cheque " + c.UID + " account " + c.Account + " to " + c.Recipient + " max " + c.Max.String() +
		" expires " + chequeTime(c.Expires).Format(time.RFC3339Nano) + " for " + c.For
}

// chequeTime is the precision a cheque keeps (milliseconds, UTC).
func chequeTime(t time.Time) time.Time { return t.UTC().Truncate(time.Millisecond) }

// ChequeSigner signs a user authorisation (*identity.Session does). A
// service cannot write cheques: it pays from its own accounts directly.
type ChequeSigner interface {
	Authorise(audience, resource string, now time.Time) (*auth.Authorisation, error)
}

// ChequeSpec is what a user writes on a cheque. A zero UID gets a random
// one. Bank is the URL of the accounting service holding Account: the
// cheque's authorisation is for it alone.
type ChequeSpec struct {
	Bank      string
	UID       string
	Account   string
	Recipient string
	Max       ledger.Amount
	Expires   time.Time
	For       string
}

// WriteCheque signs a cheque with the user's session at now. It makes no
// call: the cheque is handed to the recipient, who cashes it.
func WriteCheque(s ChequeSigner, spec ChequeSpec, now time.Time) (*Cheque, error) {
	c := &Cheque{UID: spec.UID, Account: spec.Account, Recipient: spec.Recipient, Max: spec.Max,
		Expires: chequeTime(spec.Expires), For: spec.For}
	if c.UID == "" {
		c.UID = "chq-" + service.NewID()
	}
	if err := c.checkFields(); err != nil {
		return nil, err
	}
	if err := checkChequeLife(now, c.Expires); err != nil {
		return nil, err
	}
	a, err := s.Authorise(spec.Bank, ChequeResource(c), now)
	if err != nil {
		return nil, err
	}
	c.Authorisation = a
	return c, nil
}

// checkFields checks what a cheque says, not who signed it.
func (c *Cheque) checkFields() error {
	bad := func(format string, args ...any) error { return call.Errorf(ErrChequeInvalid, format, args...) }
	switch {
	case !chequeUIDPattern.MatchString(c.UID):
		return bad("cheque uid %q must match %s", clip(c.UID), chequeUIDPattern)
	case ledgerID(c.Account) != nil:
		return bad("cheque account %q is malformed", clip(c.Account))
	case len(c.Recipient) > MaxRecipientBytes || strings.ContainsFunc(c.Recipient, unicode.IsSpace) ||
		!strings.HasPrefix(c.Recipient, "http://") && !strings.HasPrefix(c.Recipient, "https://"):
		return bad("cheque recipient %q must be a service URL (http or https, at most %d bytes)", clip(c.Recipient), MaxRecipientBytes)
	case !c.Max.IsPositive() || c.Max.Cmp(ledger.MaxAmount) > 0:
		return bad("cheque maximum %s is not in (0, %s]", c.Max, ledger.MaxAmount)
	case len(c.For) > MaxChequeForBytes || strings.ContainsFunc(c.For, unicode.IsControl):
		return bad("cheque resource must be at most %d bytes without control characters", MaxChequeForBytes)
	case c.Expires.IsZero():
		return bad("cheque has no expiry")
	}
	return nil
}

// checkChequeLife bounds a cheque's life from its signing time.
func checkChequeLife(signed, expires time.Time) error {
	if !expires.After(signed) {
		return call.Errorf(ErrChequeInvalid, "cheque expires before it is signed")
	}
	if expires.Sub(signed) > MaxChequeLife {
		return call.Errorf(ErrChequeInvalid, "cheque life %s is over the limit of %s", expires.Sub(signed).Round(time.Second), MaxChequeLife)
	}
	return nil
}

// ChequeKey names a cheque uniquely: its uid is the user's choice, so it
// is scoped by the identity service and user that signed it.
func ChequeKey(identityURL, userUID, chequeUID string) string {
	h := sha256.Sum256([]byte("acquire-cheque-v1\n" + identityURL + "\n" + userUID + "\n" + chequeUID))
	return hex.EncodeToString(h[:16])
}

// chequeTransferID is the id of the provisional transfer cashing a cheque
// makes. It is derived from the cheque, so a retried cashing meets the
// first one in the ledger instead of paying twice; and it is keyed with
// the service's secret, so nobody (the cheque's writer above all) can
// predict it and take it first. The recipient learns it from cash_cheque's
// answer, which a repeated cashing by it gives again.
func (a *Accounting) chequeTransferID(c *Cheque) string {
	au := c.Authorisation
	return a.keyedID("cheque-", "acquire-cheque-transfer-v1", au.IdentityURL, au.UserUID, c.UID)
}

// CashChequeArgs cash a cheque: Amount (at most its maximum) moves
// provisionally from the cheque's account to Account, an account of the
// calling service, until ReceiptBy.
type CashChequeArgs struct {
	auth.Credentials
	Cheque    *Cheque       `json:"cheque"`
	Amount    ledger.Amount `json:"amount"`
	Account   string        `json:"account"`
	ReceiptBy time.Time     `json:"receipt_by"`
}

// CashChequeResource is "cash_cheque <cheque uid> of <user uid> amount
// <amount> to <account> receipt_by <RFC 3339 ms UTC>".
func CashChequeResource(a *CashChequeArgs) string {
	uid, user := "", ""
	if a.Cheque != nil {
		uid = a.Cheque.UID
		if a.Cheque.Authorisation != nil {
			user = a.Cheque.Authorisation.UserUID
		}
	}
	return "cash_cheque " + uid + " of " + user + " amount " + a.Amount.String() + " to " + a.Account +
		" receipt_by " + receiptBy(a.ReceiptBy).Format(time.RFC3339Nano)
}
