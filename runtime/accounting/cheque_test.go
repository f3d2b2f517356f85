package accounting_test

import (
	"context"
	"strings"
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

// chequeFixture: alice holds 100 in "main"; a trusted service (the host's
// identity service stands in for any) owns "takings".
type chequeFixture struct {
	*fixture
	svc           *service.Service
	main, takings string
}

func setupCheques(t *testing.T) *chequeFixture {
	t.Helper()
	f := setup(t)
	svc := f.env.Host.Service(identity.Kind)
	acc, err := f.acc.CreateAccount(context.Background(), svc, "takings", amt("0"))
	if err != nil {
		t.Fatal(err)
	}
	cf := &chequeFixture{fixture: f, svc: svc, main: f.create(t, f.alice, "main", "0"), takings: acc.ID}
	f.deposit(t, "dep-1", cf.main, "100")
	return cf
}

func (f *chequeFixture) write(t *testing.T, max string, life time.Duration) *accounting.Cheque {
	t.Helper()
	now := f.env.Clock.Now()
	ch, err := accounting.WriteCheque(f.alice, accounting.ChequeSpec{Bank: f.bank(), Account: f.main, Recipient: f.svc.URL(),
		Max: amt(max), Expires: now.Add(life), For: "job run-42 on cluster a"}, now)
	if err != nil {
		t.Fatal(err)
	}
	return ch
}

func (f *chequeFixture) cash(ch *accounting.Cheque, amount string) (*ledger.TransferResult, error) {
	return f.acc.CashCheque(context.Background(), f.svc, ch, amt(amount), f.takings, f.env.Clock.Now().Add(time.Hour))
}

// unchanged checks that alice and the service hold what they held before
// any cashing.
func (f *chequeFixture) unchanged(t *testing.T) {
	t.Helper()
	f.wantBalance(t, f.alice, f.main, "100", "0", "0")
	f.wantBalance(t, f.svc, f.takings, "0", "0", "0")
}

func TestChequeCashedOnceThenReceipted(t *testing.T) {
	f := setupCheques(t)
	ctx := context.Background()
	ch := f.write(t, "30", time.Hour)
	res, err := f.cash(ch, "25.5")
	if err != nil || res.State != ledger.StatePending || !strings.HasPrefix(res.ID, "cheque-") {
		t.Fatalf("cash: %+v, %v", res, err)
	}
	f.wantBalance(t, f.alice, f.main, "100", "25.5", "0")
	f.wantBalance(t, f.svc, f.takings, "0", "0", "25.5")

	// A second cashing changes nothing: the same one by its casher is
	// answered with the first transfer, another one is refused.
	f.env.Clock.Advance(time.Second)
	if again, err := f.cash(ch, "25.5"); err != nil || *again != *res {
		t.Fatalf("the same cashing again: %+v %v, want %+v", again, err, res)
	}
	_, err = f.cash(ch, "1")
	wantClass(t, err, accounting.ErrChequeAlreadyCashed)
	f.wantBalance(t, f.alice, f.main, "100", "25.5", "0")

	// The service receipts part of it with its own credentials; the rest returns.
	if _, err := f.acc.Receipt(ctx, f.svc, res.ID, amt("20.25")); err != nil {
		t.Fatal(err)
	}
	f.wantBalance(t, f.alice, f.main, "79.75", "0", "0")
	f.wantBalance(t, f.svc, f.takings, "20.25", "0", "0")
	_, err = f.cash(ch, "1")
	wantClass(t, err, accounting.ErrChequeAlreadyCashed)
	f.audit(t)
}

func TestChequeRefusalsChangeNothing(t *testing.T) {
	f := setupCheques(t)
	ctx := context.Background()
	ch := f.write(t, "10", time.Hour)

	_, err := f.cash(ch, "10.000001")
	wantClass(t, err, accounting.ErrChequeOverMax)

	// Written to another service: that one's cashing is refused.
	other := f.env.Host.Service(registry.Kind)
	_, err = f.acc.CashCheque(ctx, other, ch, amt("1"), f.takings, f.env.Clock.Now().Add(time.Hour))
	wantClass(t, err, accounting.ErrChequeRecipient)

	// Paid into an account the service does not own.
	bobs := f.create(t, f.bob, "main", "0")
	_, err = f.acc.CashCheque(ctx, f.svc, ch, amt("1"), bobs, f.env.Clock.Now().Add(time.Hour))
	wantClass(t, err, call.ErrPermission)

	// A user cannot cash a cheque, even one of their own.
	err = f.env.Client.Call(ctx, f.acc.URL, "cash_cheque", &accounting.CashChequeArgs{Cheque: ch, Amount: amt("1"),
		Account: f.takings, ReceiptBy: f.env.Clock.Now().Add(time.Hour)}, nil)
	wantClass(t, err, call.ErrPermission)

	// Tampered: any changed field voids the signature.
	for _, tamper := range []func(c *accounting.Cheque){
		func(c *accounting.Cheque) { c.Max = amt("1000") },
		func(c *accounting.Cheque) { c.Expires = c.Expires.Add(time.Hour) },
		func(c *accounting.Cheque) { c.For = "something else" },
		func(c *accounting.Cheque) { c.UID = "chq-0123456789abcdef" },
	} {
		bad := *ch
		tamper(&bad)
		_, err = f.cash(&bad, "1")
		wantClass(t, err, accounting.ErrChequeInvalid)
	}
	// A cheque drawn on someone else's account, signed by alice.
	now := f.env.Clock.Now()
	theft, err := accounting.WriteCheque(f.alice, accounting.ChequeSpec{Bank: f.bank(), Account: bobs, Recipient: f.svc.URL(),
		Max: amt("1"), Expires: now.Add(time.Hour)}, now)
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.cash(theft, "1")
	wantClass(t, err, call.ErrPermission)

	// A life over the bound is refused when written and when cashed.
	_, err = accounting.WriteCheque(f.alice, accounting.ChequeSpec{Bank: f.bank(), Account: f.main, Recipient: f.svc.URL(),
		Max: amt("1"), Expires: now.Add(accounting.MaxChequeLife + time.Minute)}, now)
	wantClass(t, err, accounting.ErrChequeInvalid)
	long := &accounting.Cheque{UID: "chq-long-life-cheque-1", Account: f.main, Recipient: f.svc.URL(), Max: amt("1"),
		Expires: now.Add(accounting.MaxChequeLife + time.Minute).UTC().Truncate(time.Millisecond)}
	if long.Authorisation, err = f.alice.Authorise(f.bank(), accounting.ChequeResource(long), now); err != nil {
		t.Fatal(err)
	}
	_, err = f.cash(long, "1")
	wantClass(t, err, accounting.ErrChequeInvalid)

	// Expired.
	short := f.write(t, "5", time.Minute)
	f.env.Clock.Advance(time.Minute)
	_, err = f.cash(short, "1")
	wantClass(t, err, accounting.ErrChequeExpired)

	f.unchanged(t)
	// After all those refusals the cheque is still good, once.
	if _, err := f.cash(ch, "10"); err != nil {
		t.Fatal(err)
	}
	f.wantBalance(t, f.alice, f.main, "100", "10", "0")
	f.audit(t)
}

// A cheque of a session that has ended is refused at once: the session is
// looked up afresh for every cashing, not taken from a cache.
func TestChequeOfClosedSessionRefused(t *testing.T) {
	f := setupCheques(t)
	ctx := context.Background()
	ch := f.write(t, "10", time.Hour)
	// Warm every cache a cached verifier would use.
	if _, err := f.acc.Balance(ctx, f.alice, f.main, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.env.Identity().Logout(ctx, f.alice); err != nil {
		t.Fatal(err)
	}
	_, err := f.cash(ch, "1")
	wantClass(t, err, auth.ErrSessionClosed)
	// (alice's session is closed, so the service's side and the audit speak for her account)
	f.wantBalance(t, f.svc, f.takings, "0", "0", "0")
	if rep := f.audit(t); rep.Applied != 1 || rep.Provisional != 0 || rep.Liabilities != "0.000000" {
		t.Fatalf("audit %+v", rep)
	}
}

// A cashing that stopped after its record (a crash before the ledger
// transfer) is finished by the service's retry, once.
func TestChequeCashingFinishesAfterCrash(t *testing.T) {
	f := setupCheques(t)
	ctx := context.Background()
	ch := f.write(t, "10", time.Hour)
	rb := f.env.Clock.Now().Add(time.Hour)
	args := &accounting.CashChequeArgs{Cheque: ch, Amount: amt("7"), Account: f.takings, ReceiptBy: rb}
	cr, err := f.svc.Credentials(ctx, f.bank(), accounting.CashChequeResource(args), time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	args.Credentials = cr
	if err := f.env.Host.Accounting.RecordChequeOnlyForTest(ctx, args); err != nil {
		t.Fatal(err)
	}
	f.unchanged(t)
	// Another cashing than the recorded one does not finish it.
	_, err = f.acc.CashCheque(ctx, f.svc, ch, amt("8"), f.takings, rb)
	wantClass(t, err, accounting.ErrChequeAlreadyCashed)
	f.unchanged(t)
	res, err := f.acc.CashCheque(ctx, f.svc, ch, amt("7"), f.takings, rb)
	if err != nil || res.State != ledger.StatePending || !strings.HasPrefix(res.ID, "cheque-") {
		t.Fatalf("finishing: %+v, %v", res, err)
	}
	if again, err := f.acc.CashCheque(ctx, f.svc, ch, amt("7"), f.takings, rb); err != nil || *again != *res {
		t.Fatalf("the same cashing again: %+v %v, want %+v", again, err, res)
	}
	f.wantBalance(t, f.alice, f.main, "100", "7", "0")
	if _, err := f.acc.Refund(ctx, f.svc, res.ID); err != nil {
		t.Fatal(err)
	}
	f.unchanged(t)
	f.audit(t)
}

// bank is the accounting service the fixture's cheques draw on.
func (f *chequeFixture) bank() string { return f.env.Host.ServiceURL(accounting.Kind) }
