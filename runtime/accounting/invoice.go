package accounting

// Invoices: a trusted service asks a payer account for money; the payer's
// owners pay it; the issuer may cancel it while it is open. See
// docs/design/accounting.md ("Invoices") for the decisions.
//
// Store layout (beside the ledger's own records):
//
//	accounting/invoices/<id>                               the invoice record (state changes by compare-and-swap)
//	accounting/invoice-index/<account>/<created µs>.<id>   one per side (payer, payee), written before the record
//
// States: open → paying → paid, paying → open (refused for insufficient
// funds: the next attempt gets a new transfer id), open → cancelled.
// "paying" means the payer committed to pay attempt n under the transfer
// id payTransferID(id, n); from then on the ledger decides: whoever touches
// the invoice next (a pay retry, a cancel, a listing) sends the identical
// ledger request, which the ledger answers with its first result, and
// moves the record to paid or back to open. So an invoice whose derived
// transfer was applied is paid, even if a crash stopped its record at
// "paying", and a cancel can never overtake a committed payment.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/openacquire/acquire/runtime/call"
	"github.com/openacquire/acquire/runtime/ledger"
	"github.com/openacquire/acquire/runtime/service"
	"github.com/openacquire/acquire/runtime/store"
	"github.com/openacquire/acquire/runtime/textsafe"
)

const (
	invoicesPre     = "accounting/invoices/"
	invoiceIndexPre = "accounting/invoice-index/"
	// stampDigits: microseconds since 1970 fit in 17 digits until 5138.
	stampDigits = 20
	// maxInvoiceUpdates bounds one compare-and-swap loop on a record.
	maxInvoiceUpdates = 50
	// maxInvoiceRounds bounds how often cancel re-reads a changing record.
	maxInvoiceRounds = 4
)

var (
	refPattern       = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$`)
	invoiceIDPattern = regexp.MustCompile(`^inv-[0-9a-f]{32}$`)
)

func invoiceKey(id string) string { return invoicesPre + store.EncodeName(id) }
func invoiceIndexPrefix(account string) string {
	return invoiceIndexPre + store.EncodeName(account) + "/"
}
func invoiceIndexKey(account string, created time.Time, id string) string {
	return fmt.Sprintf("%s%0*d.%s", invoiceIndexPrefix(account), stampDigits, created.UnixMicro(), store.EncodeName(id))
}

// invoiceRecord is the stored invoice: the public part and the
// authorisation summaries it keeps for the audit trail and for finishing a
// committed payment with the identical ledger request.
type invoiceRecord struct {
	Invoice
	IssueAuthorisation  string `json:"issue_authorisation"`
	PayAuthorisation    string `json:"pay_authorisation,omitempty"` // paying and paid
	CancelAuthorisation string `json:"cancel_authorisation,omitempty"`
}

func (r *invoiceRecord) public() *Invoice {
	inv := r.Invoice
	return &inv
}

func (a *Accounting) registerInvoices() {
	s := a.svc
	service.Handle(s, "create_invoice", service.Options{Idempotent: true}, a.handleCreateInvoice)
	service.Handle(s, "list_invoices", service.Options{}, a.handleListInvoices)
	service.Handle(s, "pay_invoice", service.Options{Idempotent: true}, a.handlePayInvoice)
	service.Handle(s, "cancel_invoice", service.Options{Idempotent: true}, a.handleCancelInvoice)
}

// ---- create ----

func checkInvoiceArgs(args *CreateInvoiceArgs) error {
	switch {
	case !refPattern.MatchString(args.Ref):
		return call.Errorf(call.ErrBadArguments, "invoice ref %q must match %s", clip(args.Ref), refPattern)
	case args.Payee == args.Payer:
		return call.Errorf(call.ErrBadArguments, "an invoice's payer and payee must differ")
	case args.Payer == ledger.MintAccount || args.Payee == ledger.MintAccount:
		return call.Errorf(call.ErrBadArguments, "the mint neither pays nor is paid invoices")
	case !args.Amount.IsPositive() || args.Amount.Cmp(ledger.MaxAmount) > 0:
		return call.Errorf(call.ErrBadArguments, "invoice amount %s not in (0, %s]", args.Amount, ledger.MaxAmount)
	case len(args.Description) > MaxInvoiceDescriptionBytes || !utf8.ValidString(args.Description):
		return call.Errorf(call.ErrBadArguments, "description must be UTF-8 of at most %d bytes", MaxInvoiceDescriptionBytes)
	case !textsafe.Safe(args.Description):
		return call.Errorf(call.ErrBadArguments, "description must not hold control or format characters (the payer's terminal would act on them)")
	case args.Due.IsZero():
		return call.Errorf(call.ErrBadArguments, "an invoice needs a due time")
	}
	return nil
}

func (a *Accounting) handleCreateInvoice(ctx context.Context, args *CreateInvoiceArgs) (*Invoice, error) {
	if err := checkInvoiceArgs(args); err != nil {
		return nil, err
	}
	c, err := a.authorise(ctx, args.Credentials, CreateInvoiceResource(args))
	if err != nil {
		return nil, err
	}
	issuer, err := a.issuer(ctx, c)
	if err != nil {
		return nil, err
	}
	if _, err := a.owned(ctx, c, args.Payee); err != nil {
		return nil, err
	}
	if _, err := a.account(ctx, args.Payer); err != nil {
		return nil, err
	}
	rec := &invoiceRecord{Invoice: Invoice{
		ID: InvoiceID(issuer, args.Ref), Ref: args.Ref, Issuer: issuer, Payee: args.Payee, Payer: args.Payer,
		Amount: args.Amount, Description: args.Description, Due: receiptBy(args.Due),
		Created: a.svc.Now().UTC().Truncate(time.Microsecond), State: InvoiceOpen, Attempt: 1,
	}, IssueAuthorisation: c.summary}
	return a.recordInvoice(ctx, rec)
}

// issuer is whom an invoice c asks for is issued by: a service in its own
// name, or an admin of this accounting service in this service's name (the
// operator billing directly, e.g. for what a local host provides). A plain
// user issues none: an invoice is a demand for money.
func (a *Accounting) issuer(ctx context.Context, c *caller) (string, error) {
	if c.ServiceURL != "" {
		return c.ServiceURL, nil
	}
	if err := a.admin(ctx, c, "issue invoices (services and admins do)"); err != nil {
		return "", err
	}
	return a.svc.URL(), nil
}

// recordInvoice writes a new invoice with put-if-absent; an existing one
// with the same content is the answer (with its current state), another
// content is a conflict.
func (a *Accounting) recordInvoice(ctx context.Context, rec *invoiceRecord) (*Invoice, error) {
	old, err := a.invoice(ctx, rec.ID)
	if err == nil {
		return sameInvoice(old, rec)
	}
	if !errors.Is(err, call.ErrNotFound) {
		return nil, err
	}
	now := a.svc.Now()
	if !rec.Due.After(now) || rec.Due.After(now.Add(MaxInvoiceDueAhead)) {
		return nil, call.Errorf(call.ErrBadArguments, "due must be in the future and at most %s ahead", MaxInvoiceDueAhead)
	}
	// Both sides are indexed before the record exists, so no recorded
	// invoice is ever missing from a listing; an entry whose record never
	// came (or came from a concurrent attempt) is skipped when listing.
	for _, acc := range []string{rec.Payer, rec.Payee} {
		_, err := a.b.PutJSONIfAbsent(ctx, invoiceIndexKey(acc, rec.Created, rec.ID), struct {
			ID string `json:"id"`
		}{rec.ID})
		if err != nil && !errors.Is(err, store.ErrPrecondition) {
			return nil, err
		}
	}
	_, err = a.b.PutJSONIfAbsent(ctx, invoiceKey(rec.ID), rec)
	if errors.Is(err, store.ErrPrecondition) { // a concurrent first attempt
		if old, err = a.invoice(ctx, rec.ID); err != nil {
			return nil, err
		}
		return sameInvoice(old, rec)
	}
	if err != nil {
		return nil, err
	}
	return rec.public(), nil
}

func sameInvoice(old, rec *invoiceRecord) (*Invoice, error) {
	if old.Issuer != rec.Issuer || old.Ref != rec.Ref || old.Payee != rec.Payee || old.Payer != rec.Payer ||
		old.Amount != rec.Amount || old.Description != rec.Description || !old.Due.Equal(rec.Due) {
		return nil, call.Errorf(ErrInvoiceConflict, "invoice ref %s was issued with other content", rec.Ref)
	}
	return old.public(), nil
}

// ---- records ----

func (a *Accounting) invoice(ctx context.Context, id string) (*invoiceRecord, error) {
	if !invoiceIDPattern.MatchString(id) {
		return nil, call.Errorf(call.ErrBadArguments, "invoice id %q is malformed (want inv- and 32 hex digits)", clip(id))
	}
	var r invoiceRecord
	if _, err := a.b.GetJSON(ctx, invoiceKey(id), &r); errors.Is(err, store.ErrNotFound) {
		return nil, call.Errorf(call.ErrNotFound, "no invoice %q", id)
	} else if err != nil {
		return nil, err
	}
	return &r, nil
}

var errUnchanged = errors.New("accounting: invoice unchanged")

// updateInvoice applies change to an invoice record by compare-and-swap
// and returns the record as it then is. change returns false, without
// touching the record, to leave it as it is; it may run several times.
func (a *Accounting) updateInvoice(ctx context.Context, id string, change func(r *invoiceRecord) bool) (*invoiceRecord, error) {
	var cur *invoiceRecord
	_, err := a.b.Update(ctx, invoiceKey(id), maxInvoiceUpdates, func(old []byte, exists bool) ([]byte, error) {
		if !exists {
			return nil, call.Errorf(call.ErrNotFound, "no invoice %q", id)
		}
		var r invoiceRecord
		if err := json.Unmarshal(old, &r); err != nil {
			return nil, err
		}
		cur = &r
		if !change(&r) {
			return nil, errUnchanged
		}
		return json.Marshal(&r)
	})
	switch {
	case errors.Is(err, errUnchanged):
		return cur, nil
	case errors.Is(err, store.ErrPrecondition):
		return nil, call.Errorf(call.ErrBusy, "invoice %s is changing too often; try again", id)
	case err != nil:
		return nil, err
	}
	return cur, nil
}

// ---- pay ----

// payTransferID is the ledger transfer id of pay attempt n of an invoice.
// It is keyed with the service's secret so that nobody else can predict
// it: a payer who could would pre-empt it with a transfer of their own and
// block the payment (or, with the same content, pay it outside the
// invoice). Every attempt has its own id because the ledger's refusal of
// a transfer id for insufficient funds is final.
func (a *Accounting) payTransferID(id string, attempt int) string {
	return a.keyedID("invpay-", "acquire-invoice-payment-v1", id, strconv.Itoa(attempt))
}

// payRequest is the one ledger request of the record's current attempt:
// built only from the record, so every finisher sends the same.
func (a *Accounting) payRequest(r *invoiceRecord) ledger.TransferRequest {
	desc := "invoice " + r.ID + " " + r.Ref
	if r.Description != "" {
		desc += ": " + r.Description
	}
	return ledger.TransferRequest{ID: a.payTransferID(r.ID, r.Attempt), From: r.Payer, To: r.Payee, Amount: r.Amount,
		Description: desc, Authorisation: r.PayAuthorisation}
}

func (a *Accounting) handlePayInvoice(ctx context.Context, args *PayInvoiceArgs) (*InvoicePayment, error) {
	c, err := a.authorise(ctx, args.Credentials, PayInvoiceResource(args.ID, args.Amount))
	if err != nil {
		return nil, err
	}
	rec, err := a.invoice(ctx, args.ID)
	if err != nil {
		return nil, err
	}
	if _, err := a.owned(ctx, c, rec.Payer); err != nil {
		return nil, call.Errorf(call.ErrPermission, "only the owners of the payer account may pay invoice %s", args.ID)
	}
	if args.Amount != rec.Amount {
		return nil, call.Errorf(call.ErrBadArguments, "invoice %s is for %s, not %s", args.ID, rec.Amount, args.Amount)
	}
	if rec.State == InvoiceOpen {
		if rec, err = a.commitPayment(ctx, rec, c.summary); err != nil {
			return nil, err
		}
	}
	switch rec.State {
	case InvoiceCancelled:
		return nil, call.Errorf(ErrInvoiceState, "invoice %s was cancelled", args.ID)
	case InvoiceOpen: // the attempts ran out
		return nil, call.Errorf(ErrPayAttempts, "invoice %s was refused %d times; ask its issuer for a new one", args.ID, MaxPayAttempts)
	case InvoicePaying:
		return a.finishPayment(ctx, rec)
	}
	return a.paidAnswer(ctx, rec)
}

// commitPayment moves an open invoice to paying, recording who pays, and
// returns the record as it then is (another state if someone overtook).
func (a *Accounting) commitPayment(ctx context.Context, rec *invoiceRecord, summary string) (*invoiceRecord, error) {
	if rec.Attempt > MaxPayAttempts {
		return rec, nil
	}
	return a.updateInvoice(ctx, rec.ID, func(r *invoiceRecord) bool {
		if r.State != InvoiceOpen || r.Attempt > MaxPayAttempts {
			return false
		}
		r.State, r.PayAuthorisation = InvoicePaying, summary
		return true
	})
}

// finishPayment sends the committed attempt's transfer to the ledger (a
// retry of it is answered with the first result) and records the outcome:
// paid, or open again with the next attempt when the ledger refused it.
func (a *Accounting) finishPayment(ctx context.Context, rec *invoiceRecord) (*InvoicePayment, error) {
	req := a.payRequest(rec)
	res, terr := a.l.Transfer(ctx, req)
	refused := ledger.Refused(terr)
	if terr != nil && !refused {
		return nil, typed(terr)
	}
	if !refused && (res.State != ledger.StateApplied || res.Amount != rec.Amount) {
		return nil, fmt.Errorf("accounting: invoice %s: transfer %s is %s of %s, want applied %s",
			rec.ID, req.ID, res.State, res.Amount, rec.Amount)
	}
	n, now := rec.Attempt, a.svc.Now().UTC().Truncate(time.Microsecond)
	rec, err := a.updateInvoice(ctx, rec.ID, func(r *invoiceRecord) bool {
		if r.State != InvoicePaying || r.Attempt != n {
			return false // another finisher recorded this outcome already
		}
		if refused {
			r.State, r.Attempt, r.PayAuthorisation = InvoiceOpen, n+1, ""
		} else {
			r.State, r.Transfer, r.Paid = InvoicePaid, req.ID, now
		}
		return true
	})
	if err != nil {
		return nil, err
	}
	if refused {
		return nil, typed(terr)
	}
	// An applied attempt can only ever lead to paid by that attempt.
	if rec.State != InvoicePaid || rec.Transfer != req.ID {
		return nil, fmt.Errorf("accounting: invoice %s: transfer %s applied but the record is %s by %q",
			rec.ID, req.ID, rec.State, rec.Transfer)
	}
	return &InvoicePayment{Invoice: rec.public(), Transfer: &res}, nil
}

// paidAnswer answers a paid invoice with its transfer's result, read back
// from the ledger, so a retry of a payment gets the first result.
func (a *Accounting) paidAnswer(ctx context.Context, rec *invoiceRecord) (*InvoicePayment, error) {
	res, err := a.l.Complete(ctx, rec.Transfer)
	if err != nil {
		return nil, typed(err)
	}
	if res.State != ledger.StateApplied || res.Amount != rec.Amount {
		return nil, fmt.Errorf("accounting: paid invoice %s: transfer %s is %s of %s", rec.ID, rec.Transfer, res.State, res.Amount)
	}
	return &InvoicePayment{Invoice: rec.public(), Transfer: &res}, nil
}

// ---- cancel ----

func (a *Accounting) handleCancelInvoice(ctx context.Context, args *InvoiceIDArgs) (*Invoice, error) {
	c, err := a.authorise(ctx, args.Credentials, CancelInvoiceResource(args.ID))
	if err != nil {
		return nil, err
	}
	rec, err := a.invoice(ctx, args.ID)
	if err != nil {
		return nil, err
	}
	if issuer, err := a.issuer(ctx, c); err != nil || issuer != rec.Issuer {
		return nil, call.Errorf(call.ErrPermission, "only the issuing service may cancel invoice %s", args.ID)
	}
	now := a.svc.Now().UTC().Truncate(time.Microsecond)
	for range maxInvoiceRounds {
		switch rec.State {
		case InvoiceCancelled:
			return rec.public(), nil // a repeated cancel
		case InvoicePaid:
			return nil, call.Errorf(ErrInvoiceState, "invoice %s was paid", args.ID)
		case InvoicePaying:
			// A committed payment decides before any cancel.
			if _, err := a.finishPayment(ctx, rec); err != nil && !refusal(err) {
				return nil, err
			}
			rec, err = a.invoice(ctx, args.ID)
		default:
			rec, err = a.updateInvoice(ctx, args.ID, func(r *invoiceRecord) bool {
				if r.State != InvoiceOpen {
					return false
				}
				r.State, r.Cancelled, r.CancelAuthorisation = InvoiceCancelled, now, c.summary
				return true
			})
		}
		if err != nil {
			return nil, err
		}
	}
	return nil, call.Errorf(call.ErrBusy, "invoice %s keeps changing; try again", args.ID)
}

// ---- list ----

func checkInvoicePage(args *ListInvoicesArgs) error {
	switch args.State {
	case "", InvoiceOpen, InvoicePaid, InvoiceCancelled:
	default:
		return call.Errorf(call.ErrBadArguments, "state must be open, paid or cancelled, not %q", clip(string(args.State)))
	}
	if args.PageSize < 0 || args.PageSize > MaxInvoicePage {
		return call.Errorf(call.ErrBadArguments, "page_size must be 1..%d", MaxInvoicePage)
	}
	if args.PageSize == 0 {
		args.PageSize = DefaultInvoicePage
	}
	return nil
}

func (a *Accounting) handleListInvoices(ctx context.Context, args *ListInvoicesArgs) (*InvoiceList, error) {
	if err := checkInvoicePage(args); err != nil {
		return nil, err
	}
	c, err := a.authorise(ctx, args.Credentials, ListInvoicesResource(args.Account))
	if err != nil {
		return nil, err
	}
	if _, err := a.owned(ctx, c, args.Account); err != nil {
		return nil, err
	}
	pre := invoiceIndexPrefix(args.Account)
	page, err := a.b.List(ctx, pre, args.PageToken, args.PageSize)
	if errors.Is(err, store.ErrInvalidArgument) {
		return nil, call.Errorf(call.ErrBadArguments, "bad page token")
	}
	if err != nil {
		return nil, err
	}
	out := &InvoiceList{Invoices: []*Invoice{}, Next: page.Next}
	for _, it := range page.Items {
		rec, err := a.indexed(ctx, args.Account, it.Key[len(pre):])
		if err != nil {
			return nil, err
		}
		if rec != nil && (args.State == "" || rec.State == args.State) {
			out.Invoices = append(out.Invoices, rec.public())
		}
	}
	return out, nil
}

// indexed reads the invoice an index entry names, or nil if the entry has
// no matching record (its creation stopped, or lost to a concurrent one).
// A committed payment is finished first, so the listing tells the truth.
func (a *Accounting) indexed(ctx context.Context, account, name string) (*invoiceRecord, error) {
	stamp, enc, ok := strings.Cut(name, ".")
	micros, err := strconv.ParseInt(stamp, 10, 64)
	if !ok || err != nil {
		return nil, nil // not an entry of ours
	}
	id, err := store.DecodeName(enc)
	if err != nil {
		return nil, nil
	}
	rec, err := a.invoice(ctx, id)
	if errors.Is(err, call.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if (rec.Payer != account && rec.Payee != account) || rec.Created.UnixMicro() != micros {
		return nil, nil
	}
	if rec.State != InvoicePaying {
		return rec, nil
	}
	if _, err := a.finishPayment(ctx, rec); err != nil && !refusal(err) {
		return nil, err
	}
	return a.invoice(ctx, id)
}
