package accounting_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openacquire/acquire/runtime/accounting"
	"github.com/openacquire/acquire/runtime/auth"
	"github.com/openacquire/acquire/runtime/call"
	"github.com/openacquire/acquire/runtime/identity"
	"github.com/openacquire/acquire/runtime/ledger"
	"github.com/openacquire/acquire/runtime/registry"
	"github.com/openacquire/acquire/runtime/service"
)

// invoicing is the fixture plus a service (the host's identity service,
// trusted like any of the host's own) with a payee account, and alice's
// account to invoice.
type invoicing struct {
	*fixture
	shop         *service.Service
	takings, due string // the service's account, alice's account
	dueAt        time.Time
	funded       string // the ledger id of the deposit into due, if any
}

func setupInvoicing(t *testing.T, aliceFunds string) *invoicing {
	t.Helper()
	return invoicingOn(t, setup(t), aliceFunds)
}

func invoicingOn(t *testing.T, f *fixture, aliceFunds string) *invoicing {
	t.Helper()
	shop := f.env.Host.Service(identity.Kind)
	acc, err := f.acc.CreateAccount(context.Background(), shop, "takings", amt("0"))
	if err != nil {
		t.Fatal(err)
	}
	in := &invoicing{fixture: f, shop: shop, takings: acc.ID, due: f.create(t, f.alice, "main", "0"),
		dueAt: f.env.Clock.Now().Add(24 * time.Hour)}
	if aliceFunds != "0" {
		in.funded = f.deposit(t, "dep-alice", in.due, aliceFunds)
	}
	return in
}

func (in *invoicing) issue(t *testing.T, ref, amount string) *accounting.Invoice {
	t.Helper()
	inv, err := in.acc.CreateInvoice(context.Background(), in.shop, in.newInvoice(ref, amount))
	if err != nil {
		t.Fatal(err)
	}
	if inv.State != accounting.InvoiceOpen || inv.ID != accounting.InvoiceID(in.shop.URL(), ref) || inv.Attempt != 1 {
		t.Fatalf("issued %+v", inv)
	}
	return inv
}

func (in *invoicing) newInvoice(ref, amount string) accounting.NewInvoice {
	return accounting.NewInvoice{Ref: ref, Payee: in.takings, Payer: in.due, Amount: amt(amount),
		Description: "order " + ref, Due: in.dueAt}
}

func TestInvoicePaidOnce(t *testing.T) {
	in := setupInvoicing(t, "100")
	ctx := context.Background()
	inv := in.issue(t, "order-1", "30.5")

	// Issuing again answers the same invoice; another content is a conflict.
	again, err := in.acc.CreateInvoice(ctx, in.shop, in.newInvoice("order-1", "30.5"))
	if err != nil || again.ID != inv.ID || !again.Created.Equal(inv.Created) {
		t.Fatalf("repeated create: %+v, %v", again, err)
	}
	_, err = in.acc.CreateInvoice(ctx, in.shop, in.newInvoice("order-1", "31"))
	wantClass(t, err, accounting.ErrInvoiceConflict)
	// Users do not issue invoices; a service issues only to its own accounts.
	_, err = in.acc.CreateInvoice(ctx, in.bob, in.newInvoice("order-x", "1"))
	wantClass(t, err, call.ErrPermission)
	stolen := in.newInvoice("order-y", "1")
	stolen.Payee = in.create(t, in.bob, "main", "0")
	_, err = in.acc.CreateInvoice(ctx, in.shop, stolen)
	wantClass(t, err, call.ErrPermission)

	// Bad input is refused before anything is written.
	for name, mutate := range map[string]func(n *accounting.NewInvoice){
		"past due": func(n *accounting.NewInvoice) { n.Due = in.env.Clock.Now().Add(-time.Second) },
		"far due": func(n *accounting.NewInvoice) {
			n.Due = in.env.Clock.Now().Add(accounting.MaxInvoiceDueAhead + time.Hour)
		},
		"no due":      func(n *accounting.NewInvoice) { n.Due = time.Time{} },
		"zero amount": func(n *accounting.NewInvoice) { n.Amount = amt("0") },
		"long text": func(n *accounting.NewInvoice) {
			n.Description = strings.Repeat("x", accounting.MaxInvoiceDescriptionBytes+1)
		},
		"self payment": func(n *accounting.NewInvoice) { n.Payer = n.Payee },
		"bad ref":      func(n *accounting.NewInvoice) { n.Ref = "a/b" },
		"mint pays":    func(n *accounting.NewInvoice) { n.Payer = ledger.MintAccount },
		"nobody pays":  func(n *accounting.NewInvoice) { n.Payer = "acct-none" },
	} {
		n := in.newInvoice("bad-"+strings.ReplaceAll(name, " ", "-"), "1")
		mutate(&n)
		_, err := in.acc.CreateInvoice(ctx, in.shop, n)
		if name == "nobody pays" {
			wantClass(t, err, call.ErrNotFound)
		} else {
			wantClass(t, err, call.ErrBadArguments)
		}
	}
	if got := in.invoices(t, in.shop, in.takings, ""); len(got) != 1 {
		t.Fatalf("the shop's invoices after bad input: %+v", got)
	}

	// Only the payer's owners pay, and only the amount invoiced.
	_, err = in.acc.PayInvoice(ctx, in.bob, inv.ID, amt("30.5"))
	wantClass(t, err, call.ErrPermission)
	_, err = in.acc.PayInvoice(ctx, in.shop, inv.ID, amt("30.5"))
	wantClass(t, err, call.ErrPermission)
	_, err = in.acc.PayInvoice(ctx, in.alice, inv.ID, amt("30"))
	wantClass(t, err, call.ErrBadArguments)
	in.wantBalance(t, in.alice, in.due, "100", "0", "0")

	paid, err := in.acc.PayInvoice(ctx, in.alice, inv.ID, amt("30.5"))
	if err != nil || paid.Invoice.State != accounting.InvoicePaid || paid.Transfer.State != ledger.StateApplied ||
		paid.Invoice.Transfer != paid.Transfer.ID || !strings.HasPrefix(paid.Transfer.ID, "invpay-") {
		t.Fatalf("pay: %+v, %v", paid, err)
	}
	// Paying again, later, with a fresh authorisation, answers the first result.
	in.env.Clock.Advance(2 * time.Second)
	repeat, err := in.acc.PayInvoice(ctx, in.alice, inv.ID, amt("30.5"))
	if err != nil || *repeat.Transfer != *paid.Transfer || repeat.Invoice.Transfer != paid.Invoice.Transfer {
		t.Fatalf("repeated pay: %+v, %v; first %+v", repeat, err, paid)
	}
	in.wantBalance(t, in.alice, in.due, "69.5", "0", "0")
	in.wantBalance(t, in.shop, in.takings, "30.5", "0", "0")

	// A paid invoice cannot be cancelled.
	_, err = in.acc.CancelInvoice(ctx, in.shop, inv.ID)
	wantClass(t, err, accounting.ErrInvoiceState)

	// Many concurrent payments of one invoice move the money once.
	inv2 := in.issue(t, "order-2", "9.5")
	const n = 6
	results := make([]*accounting.InvoicePayment, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { results[i], errs[i] = in.acc.PayInvoice(ctx, in.alice, inv2.ID, amt("9.5")) })
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil || *results[i].Transfer != *results[0].Transfer {
			t.Fatalf("concurrent pay %d: %+v, %v; pay 0: %+v", i, results[i], errs[i], results[0])
		}
	}
	in.wantBalance(t, in.alice, in.due, "60", "0", "0")
	in.wantBalance(t, in.shop, in.takings, "40", "0", "0")
	rep := in.audit(t)
	if rep.Applied != 3 || rep.Refused != 0 { // the deposit and two invoices
		t.Fatalf("audit %+v", rep)
	}
}

func TestInvoiceInsufficientFundsThenRetry(t *testing.T) {
	in := setupInvoicing(t, "10")
	ctx := context.Background()
	inv := in.issue(t, "big", "25")
	_, err := in.acc.PayInvoice(ctx, in.alice, inv.ID, amt("25"))
	wantClass(t, err, accounting.ErrInsufficientFunds)
	in.wantBalance(t, in.alice, in.due, "10", "0", "0")
	in.wantBalance(t, in.shop, in.takings, "0", "0", "0")
	got := in.invoices(t, in.alice, in.due, "")
	if len(got) != 1 || got[0].State != accounting.InvoiceOpen || got[0].Attempt != 2 {
		t.Fatalf("after a refusal: %+v", got)
	}
	// After topping up, paying again takes the next attempt's transfer id.
	in.deposit(t, "dep-more", in.due, "20")
	paid, err := in.acc.PayInvoice(ctx, in.alice, inv.ID, amt("25"))
	if err != nil || paid.Invoice.State != accounting.InvoicePaid || paid.Invoice.Attempt != 2 {
		t.Fatalf("pay after top-up: %+v, %v", paid, err)
	}
	in.wantBalance(t, in.alice, in.due, "5", "0", "0")
	in.wantBalance(t, in.shop, in.takings, "25", "0", "0")

	// Refusals are bounded: after MaxPayAttempts the invoice cannot be paid.
	inv2 := in.issue(t, "huge", "1000")
	for range accounting.MaxPayAttempts {
		_, err := in.acc.PayInvoice(ctx, in.alice, inv2.ID, amt("1000"))
		wantClass(t, err, accounting.ErrInsufficientFunds)
	}
	_, err = in.acc.PayInvoice(ctx, in.alice, inv2.ID, amt("1000"))
	wantClass(t, err, accounting.ErrPayAttempts)
	in.wantBalance(t, in.alice, in.due, "5", "0", "0")
	if _, err := in.acc.CancelInvoice(ctx, in.shop, inv2.ID); err != nil {
		t.Fatal(err)
	}
	rep := in.audit(t)
	if rep.Refused != 1+accounting.MaxPayAttempts {
		t.Fatalf("audit %+v", rep)
	}
}

func TestInvoiceCancel(t *testing.T) {
	in := setupInvoicing(t, "10")
	ctx := context.Background()
	inv := in.issue(t, "c-1", "4")
	// Neither the payer nor another service may cancel.
	_, err := in.acc.CancelInvoice(ctx, in.alice, inv.ID)
	wantClass(t, err, call.ErrPermission)
	_, err = in.acc.CancelInvoice(ctx, in.env.Host.Service(registry.Kind), inv.ID)
	wantClass(t, err, call.ErrPermission)
	c1, err := in.acc.CancelInvoice(ctx, in.shop, inv.ID)
	if err != nil || c1.State != accounting.InvoiceCancelled || c1.Cancelled.IsZero() {
		t.Fatalf("cancel: %+v, %v", c1, err)
	}
	c2, err := in.acc.CancelInvoice(ctx, in.shop, inv.ID)
	if err != nil || c2.State != accounting.InvoiceCancelled || !c2.Cancelled.Equal(c1.Cancelled) {
		t.Fatalf("repeated cancel: %+v, %v", c2, err)
	}
	_, err = in.acc.PayInvoice(ctx, in.alice, inv.ID, amt("4"))
	wantClass(t, err, accounting.ErrInvoiceState)
	in.wantBalance(t, in.alice, in.due, "10", "0", "0")
	// Re-issuing the same ref answers the cancelled invoice, not a new one.
	again, err := in.acc.CreateInvoice(ctx, in.shop, in.newInvoice("c-1", "4"))
	if err != nil || again.State != accounting.InvoiceCancelled {
		t.Fatalf("re-issue: %+v, %v", again, err)
	}
	_, err = in.acc.CancelInvoice(ctx, in.shop, "inv-nonsense")
	wantClass(t, err, call.ErrBadArguments)
	_, err = in.acc.CancelInvoice(ctx, in.shop, accounting.InvoiceID(in.shop.URL(), "never"))
	wantClass(t, err, call.ErrNotFound)
	in.audit(t)
}

// Each side lists only what it may see, filtered by state and paged.
func TestInvoiceListing(t *testing.T) {
	in := setupInvoicing(t, "10")
	ctx := context.Background()
	in.issue(t, "l-1", "1")
	paid := in.issue(t, "l-2", "2")
	gone := in.issue(t, "l-3", "3")
	if _, err := in.acc.PayInvoice(ctx, in.alice, paid.ID, amt("2")); err != nil {
		t.Fatal(err)
	}
	if _, err := in.acc.CancelInvoice(ctx, in.shop, gone.ID); err != nil {
		t.Fatal(err)
	}
	// An invoice to bob from the same service is not in alice's listing.
	bobs := in.create(t, in.bob, "main", "0")
	other := in.newInvoice("l-4", "1")
	other.Payer = bobs
	if _, err := in.acc.CreateInvoice(ctx, in.shop, other); err != nil {
		t.Fatal(err)
	}
	ids := func(list []*accounting.Invoice) string {
		var s []string
		for _, inv := range list {
			s = append(s, inv.Ref+":"+string(inv.State))
		}
		return strings.Join(s, " ")
	}
	if got := ids(in.invoices(t, in.alice, in.due, "")); got != "l-1:open l-2:paid l-3:cancelled" {
		t.Fatalf("alice sees %s", got)
	}
	if got := ids(in.invoices(t, in.shop, in.takings, "")); got != "l-1:open l-2:paid l-3:cancelled l-4:open" {
		t.Fatalf("the shop sees %s", got)
	}
	if got := ids(in.invoices(t, in.bob, bobs, "")); got != "l-4:open" {
		t.Fatalf("bob sees %s", got)
	}
	for state, want := range map[accounting.InvoiceState]string{accounting.InvoiceOpen: "l-1:open",
		accounting.InvoicePaid: "l-2:paid", accounting.InvoiceCancelled: "l-3:cancelled"} {
		if got := ids(in.invoices(t, in.alice, in.due, state)); got != want {
			t.Fatalf("alice's %s invoices: %s", state, got)
		}
	}
	// Nobody lists an account that is not theirs.
	_, err := in.acc.ListInvoices(ctx, in.bob, in.due, accounting.InvoiceQuery{})
	wantClass(t, err, call.ErrPermission)
	_, err = in.acc.ListInvoices(ctx, in.shop, in.due, accounting.InvoiceQuery{})
	wantClass(t, err, call.ErrPermission)
	_, err = in.acc.ListInvoices(ctx, in.alice, in.due, accounting.InvoiceQuery{State: "paying"})
	wantClass(t, err, call.ErrBadArguments)
	_, err = in.acc.ListInvoices(ctx, in.alice, in.due, accounting.InvoiceQuery{PageSize: accounting.MaxInvoicePage + 1})
	wantClass(t, err, call.ErrBadArguments)
	in.audit(t)
}

// A crash may leave a committed payment at "paying", before or after its
// ledger transfer. The ledger transfer decides: the next call that touches
// the invoice finishes it, exactly once, and a cancel cannot overtake it.
func TestInvoiceCommittedPaymentFinishes(t *testing.T) {
	in := setupInvoicing(t, "10")
	ctx := context.Background()
	b := in.env.Host.Accounting.Service().Bucket()
	setState := func(id string, mutate func(m map[string]any)) {
		t.Helper()
		key := "accounting/invoices/" + id
		var m map[string]any
		if _, err := b.GetJSON(ctx, key, &m); err != nil {
			t.Fatal(err)
		}
		mutate(m)
		if _, err := b.PutJSON(ctx, key, m); err != nil {
			t.Fatal(err)
		}
	}

	// Crash after the transfer, before the record said paid.
	inv := in.issue(t, "k-1", "3")
	first, err := in.acc.PayInvoice(ctx, in.alice, inv.ID, amt("3"))
	if err != nil {
		t.Fatal(err)
	}
	setState(inv.ID, func(m map[string]any) {
		m["state"] = "paying"
		delete(m, "transfer")
		delete(m, "paid")
	})
	if got := in.invoices(t, in.shop, in.takings, accounting.InvoicePaid); len(got) != 1 || got[0].Transfer != first.Transfer.ID {
		t.Fatalf("listing did not finish the payment: %+v", got)
	}
	in.wantBalance(t, in.alice, in.due, "7", "0", "0")

	// Crash after the commit, before the transfer: a cancel finishes the
	// payment instead of cancelling.
	inv2 := in.issue(t, "k-2", "2")
	setState(inv2.ID, func(m map[string]any) {
		m["state"] = "paying"
		m["pay_authorisation"] = "identity=test user=alice session=crashed"
	})
	_, err = in.acc.CancelInvoice(ctx, in.shop, inv2.ID)
	wantClass(t, err, accounting.ErrInvoiceState)
	paid, err := in.acc.PayInvoice(ctx, in.alice, inv2.ID, amt("2"))
	if err != nil || paid.Invoice.State != accounting.InvoicePaid {
		t.Fatalf("pay after crash: %+v, %v", paid, err)
	}
	in.wantBalance(t, in.alice, in.due, "5", "0", "0")
	in.wantBalance(t, in.shop, in.takings, "5", "0", "0")
	in.audit(t)
}

// invoices lists all of an account's invoices of a state, two per page,
// so that paging is exercised.
func (in *invoicing) invoices(t *testing.T, s auth.Signer, account string, state accounting.InvoiceState) []*accounting.Invoice {
	t.Helper()
	var all []*accounting.Invoice
	q := accounting.InvoiceQuery{State: state, PageSize: 2}
	for range 100 {
		page, err := in.acc.ListInvoices(context.Background(), s, account, q)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, page.Invoices...)
		if page.Next == "" {
			return all
		}
		q.PageToken = page.Next
	}
	t.Fatal("listing does not end")
	return nil
}

// TestAdminIssuesInvoice: an admin of the accounting service issues an
// invoice in the service's own name, payable to an account the admin owns;
// the payer pays it once; only that service's admins cancel such invoices;
// a plain user still issues none.
func TestAdminIssuesInvoice(t *testing.T) {
	in := setupInvoicing(t, "100")
	ctx := context.Background()
	billing := in.create(t, in.carol, "billing", "0")
	n := accounting.NewInvoice{Ref: "hosting-2026-12", Payee: billing, Payer: in.due, Amount: amt("2.5"),
		Description: "hosting, December", Due: in.dueAt}
	inv, err := in.acc.CreateInvoice(ctx, in.carol, n)
	if err != nil {
		t.Fatal(err)
	}
	if inv.Issuer != in.env.Host.Accounting.Service().URL() || inv.ID != accounting.InvoiceID(inv.Issuer, n.Ref) || inv.State != accounting.InvoiceOpen {
		t.Fatalf("issued %+v", inv)
	}
	// Not an admin: bob may neither issue nor cancel.
	n2 := n
	n2.Ref, n2.Payee = "bob-bills", in.create(t, in.bob, "till", "0")
	_, err = in.acc.CreateInvoice(ctx, in.bob, n2)
	wantClass(t, err, call.ErrPermission)
	_, err = in.acc.CancelInvoice(ctx, in.bob, inv.ID)
	wantClass(t, err, call.ErrPermission)
	// Nor may another service cancel the operator's invoice.
	_, err = in.acc.CancelInvoice(ctx, in.shop, inv.ID)
	wantClass(t, err, call.ErrPermission)

	pay, err := in.acc.PayInvoice(ctx, in.alice, inv.ID, amt("2.5"))
	if err != nil {
		t.Fatal(err)
	}
	again, err := in.acc.PayInvoice(ctx, in.alice, inv.ID, amt("2.5"))
	if err != nil || again.Transfer.ID != pay.Transfer.ID {
		t.Fatalf("second payment: %+v, %v (first %+v)", again, err, pay)
	}
	in.wantBalance(t, in.carol, billing, "2.5", "0", "0")
	in.wantBalance(t, in.alice, in.due, "97.5", "0", "0")
}
