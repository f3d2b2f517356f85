package accounting

import (
	"context"
	"time"

	"github.com/openacquire/acquire/runtime/auth"
	"github.com/openacquire/acquire/runtime/ledger"
)

// NewInvoice is what a service asks a payer account to pay.
type NewInvoice struct {
	Ref          string // the service's own id for it (idempotency key)
	Payee, Payer string
	Amount       ledger.Amount
	Description  string
	Due          time.Time
}

// CreateInvoice issues an invoice in the calling service's name (s is the
// *service.Service). Calling it again with the same n answers the same
// invoice, in its current state.
func (c *Client) CreateInvoice(ctx context.Context, s auth.Signer, n NewInvoice) (*Invoice, error) {
	args := &CreateInvoiceArgs{Ref: n.Ref, Payee: n.Payee, Payer: n.Payer, Amount: n.Amount, Description: n.Description,
		Due: receiptBy(n.Due)}
	var out Invoice
	return &out, c.authCall(ctx, s, "create_invoice", CreateInvoiceResource(args), func(a auth.Credentials) any {
		args.Credentials = a
		return args
	}, &out, true)
}

// InvoiceQuery selects a page of invoices: State "" for all.
type InvoiceQuery struct {
	State     InvoiceState
	PageToken string
	PageSize  int
}

// ListInvoices lists the invoices of one of the caller's accounts, as
// payer or payee, oldest first.
func (c *Client) ListInvoices(ctx context.Context, s auth.Signer, account string, q InvoiceQuery) (*InvoiceList, error) {
	var out InvoiceList
	return &out, c.authCall(ctx, s, "list_invoices", ListInvoicesResource(account), func(a auth.Credentials) any {
		return &ListInvoicesArgs{Credentials: a, Account: account, State: q.State, PageToken: q.PageToken, PageSize: q.PageSize}
	}, &out, false)
}

// PayInvoice pays invoice id, whose amount must be amount, from its payer
// account (the caller must own it). Paying again returns the first result.
func (c *Client) PayInvoice(ctx context.Context, s auth.Signer, id string, amount ledger.Amount) (*InvoicePayment, error) {
	var out InvoicePayment
	return &out, c.authCall(ctx, s, "pay_invoice", PayInvoiceResource(id, amount), func(a auth.Credentials) any {
		return &PayInvoiceArgs{Credentials: a, ID: id, Amount: amount}
	}, &out, true)
}

// CancelInvoice cancels an open invoice the calling service issued.
func (c *Client) CancelInvoice(ctx context.Context, s auth.Signer, id string) (*Invoice, error) {
	var out Invoice
	return &out, c.authCall(ctx, s, "cancel_invoice", CancelInvoiceResource(id), func(a auth.Credentials) any {
		return &InvoiceIDArgs{Credentials: a, ID: id}
	}, &out, true)
}
