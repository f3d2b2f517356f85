package accounting

import (
	"crypto/sha256"
	"encoding/hex"
	"time"

	"github.com/openacquire/acquire/runtime/auth"
	"github.com/openacquire/acquire/runtime/call"
	"github.com/openacquire/acquire/runtime/ledger"
)

// Invoice limits.
const (
	// MaxInvoiceDescriptionBytes bounds an invoice's description; it is
	// copied into the paying transfer's description, which the ledger
	// bounds at ledger.MaxDescriptionBytes, with room for the invoice id.
	MaxInvoiceDescriptionBytes = 512
	// MaxInvoiceDueAhead bounds how far ahead an invoice may fall due.
	MaxInvoiceDueAhead = 366 * 24 * time.Hour
	// MaxInvoicePage bounds one list_invoices page.
	MaxInvoicePage = 100
	// DefaultInvoicePage is the page size when none is asked for.
	DefaultInvoicePage = 50
	// MaxPayAttempts bounds how often an invoice's payment may be refused
	// for insufficient funds (each refusal is final for its transfer id, so
	// every attempt has its own); after that the issuer cancels and
	// re-issues it.
	MaxPayAttempts = 16
)

// Error classes of invoices (protocol names: they never change).
var (
	// ErrInvoiceConflict: an invoice id reused with other content.
	ErrInvoiceConflict = call.NewClass("InvoiceConflictError")
	// ErrInvoiceState: the invoice is not in a state that allows this
	// (paying a cancelled invoice, cancelling a paid one).
	ErrInvoiceState = call.NewClass("InvoiceStateError")
	// ErrPayAttempts: the invoice's payment was refused MaxPayAttempts times.
	ErrPayAttempts = call.NewClass("PayAttemptLimitError")
)

// InvoiceState is where an invoice is in its life.
type InvoiceState string

// The states. Paying is transient: the payer committed to pay attempt
// Attempt and the ledger transfer may or may not exist yet; any later call
// that touches the invoice finishes it to paid or back to open.
const (
	InvoiceOpen      InvoiceState = "open"
	InvoicePaying    InvoiceState = "paying"
	InvoicePaid      InvoiceState = "paid"
	InvoiceCancelled InvoiceState = "cancelled"
)

// InvoiceID is the id of the invoice a service issued under its own id
// ref: invoice ids are scoped to their issuer, so no service can take (or
// block) another's.
func InvoiceID(serviceURL, ref string) string {
	h := sha256.Sum256([]byte("acquire-invoice-v1\n" + serviceURL + "\n" + ref))
	return "inv-" + hex.EncodeToString(h[:16])
}

// Invoice is a request for payment from a payer account to a service's
// payee account.
type Invoice struct {
	ID          string        `json:"id"`  // InvoiceID(Issuer, Ref)
	Ref         string        `json:"ref"` // the issuer's own id
	Issuer      string        `json:"issuer"`
	Payee       string        `json:"payee"`
	Payer       string        `json:"payer"`
	Amount      ledger.Amount `json:"amount"`
	Description string        `json:"description,omitempty"`
	Due         time.Time     `json:"due"`
	Created     time.Time     `json:"created"`
	State       InvoiceState  `json:"state"`
	// Attempt is the pay attempt the next (or running) payment uses.
	Attempt   int       `json:"attempt"`
	Transfer  string    `json:"transfer,omitempty"` // paid: the transfer that paid it
	Paid      time.Time `json:"paid,omitzero"`
	Cancelled time.Time `json:"cancelled,omitzero"`
}

// CreateInvoiceArgs issues an invoice (services only, from their own
// payee account). Ref is the service's id for it: creating the same Ref
// again with the same content answers the same invoice.
type CreateInvoiceArgs struct {
	auth.Credentials
	Ref         string        `json:"ref"`
	Payee       string        `json:"payee"`
	Payer       string        `json:"payer"`
	Amount      ledger.Amount `json:"amount"`
	Description string        `json:"description,omitempty"`
	Due         time.Time     `json:"due"`
}

// ListInvoicesArgs asks one page of the invoices of an account of the
// caller's (as payer or as payee), oldest first, optionally of one state.
type ListInvoicesArgs struct {
	auth.Credentials
	Account   string       `json:"account"`
	State     InvoiceState `json:"state,omitempty"`
	PageToken string       `json:"page_token,omitempty"`
	PageSize  int          `json:"page_size,omitempty"`
}

// InvoiceList is one page of invoices. A filtered page may hold fewer
// than page_size invoices (even none) with more to follow: Next is ""
// only on the last page.
type InvoiceList struct {
	Invoices []*Invoice `json:"invoices"`
	Next     string     `json:"next,omitempty"`
}

// PayInvoiceArgs pays an invoice from its payer account. Amount must be
// the invoice's: the payer authorises paying exactly what they saw.
type PayInvoiceArgs struct {
	auth.Credentials
	ID     string        `json:"id"`
	Amount ledger.Amount `json:"amount"`
}

// InvoiceIDArgs names an invoice.
type InvoiceIDArgs struct {
	auth.Credentials
	ID string `json:"id"`
}

// InvoicePayment is a paid invoice and the transfer that paid it.
type InvoicePayment struct {
	Invoice  *Invoice               `json:"invoice"`
	Transfer *ledger.TransferResult `json:"transfer"`
}

// CreateInvoiceResource is "create_invoice <ref> payee <payee> payer
// <payer> amount <amount> due <RFC 3339, ms, UTC>", then " description
// <digest>" when there is one.
func CreateInvoiceResource(a *CreateInvoiceArgs) string {
	s := "create_invoice " + a.Ref + " payee " + a.Payee + " payer " + a.Payer + " amount " + a.Amount.String() +
		" due " + receiptBy(a.Due).Format(time.RFC3339Nano)
	if a.Description != "" {
		s += " description " + digest(a.Description)
	}
	return s
}

// ListInvoicesResource is "list_invoices <account>".
func ListInvoicesResource(account string) string { return "list_invoices " + account }

// PayInvoiceResource is "pay_invoice <id> amount <amount>".
func PayInvoiceResource(id string, amount ledger.Amount) string {
	return "pay_invoice " + id + " amount " + amount.String()
}

// CancelInvoiceResource is "cancel_invoice <id>".
func CancelInvoiceResource(id string) string { return "cancel_invoice " + id }
