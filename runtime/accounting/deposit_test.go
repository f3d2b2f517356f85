package accounting_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/openacquire/acquire/runtime/accounting"
	"github.com/openacquire/acquire/runtime/auth"
	"github.com/openacquire/acquire/runtime/call"
	"github.com/openacquire/acquire/runtime/ledger"
)

func (f *fixture) deposits(t *testing.T, s auth.Signer, account string, size int) []*accounting.Deposit {
	t.Helper()
	var all []*accounting.Deposit
	q := accounting.DepositQuery{PageSize: size}
	for range 100 {
		page, err := f.acc.ListDeposits(context.Background(), s, account, q)
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Deposits) > size {
			t.Fatalf("page of %d deposits for page size %d", len(page.Deposits), size)
		}
		all = append(all, page.Deposits...)
		if page.Next == "" {
			return all
		}
		q.PageToken = page.Next
	}
	t.Fatal("listing does not end")
	return nil
}

func transfers(ds []*accounting.Deposit) string {
	var s []string
	for _, d := range ds {
		s = append(s, d.Transfer+"="+d.Amount.String())
	}
	return strings.Join(s, " ")
}

func TestListDeposits(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	aMain := f.create(t, f.alice, "main", "0")
	bMain := f.create(t, f.bob, "main", "0")
	d1, d2 := f.deposit(t, "d-1", aMain, "10"), f.deposit(t, "d-2", bMain, "20")
	// Transfers between deposits are skipped, not listed.
	for _, id := range []string{"t-1", "t-2", "t-3"} {
		if _, err := f.acc.Transfer(ctx, f.alice, accounting.Transfer{ID: id, From: aMain, To: bMain, Amount: amt("1")}); err != nil {
			t.Fatal(err)
		}
	}
	d3 := f.deposit(t, "d-3", aMain, "0.000001")

	for _, size := range []int{1, 2, 100} {
		if got := transfers(f.deposits(t, f.alice, aMain, size)); got != d1+"=10.000000 "+d3+"=0.000001" {
			t.Fatalf("alice's deposits (page size %d): %s", size, got)
		}
	}
	all := f.deposits(t, f.carol, "", 2)
	if got := transfers(all); got != d1+"=10.000000 "+d2+"=20.000000 "+d3+"=0.000001" {
		t.Fatalf("all deposits: %s", got)
	}
	if all[1].Account != bMain || !strings.Contains(all[1].Authorisation, "user="+f.carol.UserUID) ||
		all[1].Description != "opening deposit" {
		t.Fatalf("deposit %+v", all[1])
	}
	// An admin may list any account's; nobody else lists others' or all.
	if got := transfers(f.deposits(t, f.carol, bMain, 10)); got != d2+"=20.000000" {
		t.Fatalf("bob's deposits as the admin sees them: %s", got)
	}
	_, err := f.acc.ListDeposits(ctx, f.bob, aMain, accounting.DepositQuery{})
	wantClass(t, err, call.ErrPermission)
	_, err = f.acc.ListDeposits(ctx, f.alice, "", accounting.DepositQuery{})
	wantClass(t, err, call.ErrPermission)
	_, err = f.acc.ListDeposits(ctx, f.alice, aMain, accounting.DepositQuery{PageSize: accounting.MaxDepositPage + 1})
	wantClass(t, err, call.ErrBadArguments)
	f.audit(t)
}

// Every statement entry but an account's opening names the transfer and
// the authorisation that caused it: a deposit, a transfer, a provisional
// transfer and its receipt, an invoice payment. Balances at past times
// come from the log.
func TestStatementsNameTransferAndAuthorisation(t *testing.T) {
	in := setupInvoicing(t, "100")
	f := in.fixture
	ctx := context.Background()
	t0 := f.env.Clock.Now()
	f.env.Clock.Advance(time.Minute)
	t1Res, err := f.acc.Transfer(ctx, f.alice, accounting.Transfer{ID: "t-1", From: in.due, To: in.takings, Amount: amt("10")})
	if err != nil {
		t.Fatal(err)
	}
	p1, err := f.acc.Transfer(ctx, f.alice, accounting.Transfer{ID: "p-1", From: in.due, To: in.takings, Amount: amt("5"),
		ReceiptBy: f.env.Clock.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.acc.Receipt(ctx, in.shop, p1.ID, amt("4")); err != nil {
		t.Fatal(err)
	}
	t1 := f.env.Clock.Now()
	f.env.Clock.Advance(time.Minute)
	inv := in.issue(t, "s-1", "20")
	paid, err := f.acc.PayInvoice(ctx, f.alice, inv.ID, amt("20"))
	if err != nil {
		t.Fatal(err)
	}

	aliceAuth := "user=" + f.alice.UserUID + " session=" + f.alice.SessionUID
	want := map[string]string{ // transfer/leg -> part of its authorisation
		in.funded + "/credit": "user=" + f.carol.UserUID, t1Res.ID + "/debit": aliceAuth, p1.ID + "/debit": aliceAuth,
		p1.ID + "/settle-debit": "service=" + in.shop.URL(), paid.Transfer.ID + "/debit": aliceAuth,
	}
	lines := statement(t, f, f.alice, in.due, time.Time{}, time.Time{})
	seen := 0
	for _, l := range lines {
		if l.Leg == ledger.LegOpen {
			continue
		}
		part, ok := want[l.Transfer+"/"+string(l.Leg)]
		if !ok || !strings.Contains(l.Authorisation, part) {
			t.Fatalf("line %s/%s authorised by %q, want %q", l.Transfer, l.Leg, l.Authorisation, part)
		}
		seen++
	}
	if seen != len(want) {
		t.Fatalf("%d lines, want %d: %+v", seen, len(want), lines)
	}
	// The payee's side of the invoice payment says who paid, and what for.
	for _, l := range statement(t, f, in.shop, in.takings, t1, time.Time{}) {
		if l.Transfer != paid.Transfer.ID || l.Leg != ledger.LegCredit || !strings.Contains(l.Authorisation, aliceAuth) ||
			!strings.Contains(l.Description, inv.ID) {
			t.Fatalf("shop's line after t1: %+v", l)
		}
	}
	// Between two times: only the transfer, the provisional one and its settlement.
	if got := len(statement(t, f, f.alice, in.due, t0, t1.Add(time.Nanosecond))); got != 3 {
		t.Fatalf("%d lines in [t0, t1]", got)
	}
	// Balances at past times.
	for at, want := range map[time.Time]string{t0: "100", t1: "86", f.env.Clock.Now(): "66"} {
		b, err := f.acc.Balance(ctx, f.alice, in.due, at)
		if err != nil || b.Balance != amt(want) {
			t.Fatalf("balance at %v: %+v, %v; want %s", at, b, err, want)
		}
	}
	f.audit(t)
}

// statement reads all lines in [from, to), one per page.
func statement(t *testing.T, f *fixture, s auth.Signer, account string, from, to time.Time) []ledger.Line {
	t.Helper()
	var all []ledger.Line
	q := accounting.StatementQuery{From: from, To: to, PageSize: 1}
	for range 100 {
		page, err := f.acc.Statement(context.Background(), s, account, q)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, page.Lines...)
		if page.Next == "" {
			return all
		}
		q.PageToken = page.Next
	}
	t.Fatal("statement does not end")
	return nil
}
