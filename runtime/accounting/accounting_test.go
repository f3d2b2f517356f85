package accounting_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/openacquire/acquire/runtime/accounting"
	"github.com/openacquire/acquire/runtime/auth"
	"github.com/openacquire/acquire/runtime/call"
	"github.com/openacquire/acquire/runtime/host"
	"github.com/openacquire/acquire/runtime/host/hosttest"
	"github.com/openacquire/acquire/runtime/identity"
	"github.com/openacquire/acquire/runtime/ledger"
)

const pw = "correct horse battery"

type fixture struct {
	env *hosttest.Env
	acc *accounting.Client
	// Three users: alice and bob, and carol, an admin of the accounting service.
	alice, bob, carol *identity.Session
}

func setup(t *testing.T) *fixture {
	t.Helper()
	return setupOn(t, "")
}

// setupOn is setup on the host store at storeURL ("" for a fresh mem://).
func setupOn(t *testing.T, storeURL string) *fixture {
	t.Helper()
	ctx := context.Background()
	env := hosttest.Start(t, hosttest.Options{Kinds: host.Kinds, StoreURL: storeURL})
	users := env.Users(t, pw, "alice", "bob", "carol")
	f := &fixture{env: env, acc: env.Accounting(), alice: users["alice"], bob: users["bob"], carol: users["carol"]}
	if err := env.Host.Accounting.AddAdmin(ctx, f.carol.IdentityURL, f.carol.UserUID); err != nil {
		t.Fatal(err)
	}
	return f
}

func amt(s string) ledger.Amount { return ledger.MustParse(s) }

func wantClass(t *testing.T, err error, class *call.Error) {
	t.Helper()
	if !errors.Is(err, class) {
		t.Fatalf("want %s, got %v", class.Class, err)
	}
}

func (f *fixture) create(t *testing.T, s *identity.Session, name, overdraft string) string {
	t.Helper()
	a, err := f.acc.CreateAccount(context.Background(), s, name, amt(overdraft))
	if err != nil {
		t.Fatal(err)
	}
	if a.Name != name || len(a.Owners) != 1 || a.Owners[0].UserUID != s.UserUID || a.Balance == nil || !a.Balance.Balance.IsZero() {
		t.Fatalf("created %+v", a)
	}
	return a.ID
}

// deposit has carol (an admin) deposit under her id and returns the
// ledger's id of the deposit.
func (f *fixture) deposit(t *testing.T, id, account, amount string) string {
	t.Helper()
	res, err := f.acc.Deposit(context.Background(), f.carol, id, account, amt(amount), "opening deposit")
	if err != nil {
		t.Fatal(err)
	}
	if res.State != ledger.StateApplied {
		t.Fatalf("deposit %+v", res)
	}
	return res.ID
}

// wantBalance checks balance, liability and receivable exactly.
func (f *fixture) wantBalance(t *testing.T, s auth.Signer, account, balance, liability, receivable string) *ledger.Balance {
	t.Helper()
	b, err := f.acc.Balance(context.Background(), s, account, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if b.Balance != amt(balance) || b.Liability != amt(liability) || b.Receivable != amt(receivable) {
		t.Fatalf("%s: balance %s liability %s receivable %s; want %s %s %s", account, b.Balance, b.Liability, b.Receivable,
			balance, liability, receivable)
	}
	return b
}

// audit checks the whole ledger: total conserved, every transfer applied
// once on both sides, no account beyond its overdraft.
func (f *fixture) audit(t *testing.T) ledger.AuditReport {
	t.Helper()
	rep, err := f.env.Host.Accounting.Ledger().Audit(context.Background())
	if err != nil || rep.Total != "0.000000" || len(rep.Anomalies) != 0 {
		t.Fatalf("audit: %v %+v", err, rep)
	}
	return rep
}

func TestTransfersAndRules(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	aMain := f.create(t, f.alice, "main", "0")
	bMain := f.create(t, f.bob, "main", "0")
	if aMain == bMain {
		t.Fatal("two users' accounts of one name share an id")
	}
	_, err := f.acc.CreateAccount(ctx, f.alice, "main", amt("0"))
	wantClass(t, err, call.ErrExists)

	// Deposits are for admins only.
	_, err = f.acc.Deposit(ctx, f.alice, "dep-x", aMain, amt("5"), "")
	wantClass(t, err, call.ErrPermission)
	f.deposit(t, "dep-1", aMain, "100")
	f.wantBalance(t, f.alice, aMain, "100", "0", "0")

	tr := accounting.Transfer{ID: "t-1", From: aMain, To: bMain, Amount: amt("30.250001"), Description: "rent"}
	res, err := f.acc.Transfer(ctx, f.alice, tr)
	if err != nil || res.State != ledger.StateApplied {
		t.Fatalf("transfer: %+v, %v", res, err)
	}
	f.wantBalance(t, f.alice, aMain, "69.749999", "0", "0")
	f.wantBalance(t, f.bob, bMain, "30.250001", "0", "0")

	// Insufficient funds: a typed error and no change.
	_, err = f.acc.Transfer(ctx, f.alice, accounting.Transfer{ID: "t-big", From: aMain, To: bMain, Amount: amt("69.75")})
	wantClass(t, err, accounting.ErrInsufficientFunds)
	f.wantBalance(t, f.alice, aMain, "69.749999", "0", "0")
	f.wantBalance(t, f.bob, bMain, "30.250001", "0", "0")

	// A retry (new call, freshly signed authorisation) gives the first
	// result and moves nothing more.
	f.env.Clock.Advance(2 * time.Second)
	again, err := f.acc.Transfer(ctx, f.alice, tr)
	if err != nil || *again != *res {
		t.Fatalf("retry: %+v, %v; first %+v", again, err, res)
	}
	f.wantBalance(t, f.alice, aMain, "69.749999", "0", "0")
	page, err := f.acc.Statement(ctx, f.bob, bMain, accounting.StatementQuery{})
	if err != nil {
		t.Fatal(err)
	}
	credits := 0
	for _, l := range page.Lines {
		if l.Transfer == res.ID {
			credits++
			if l.Leg != ledger.LegCredit || l.Counterparty != aMain || l.Description != "rent" || l.Authorisation == "" {
				t.Fatalf("statement line %+v", l)
			}
		}
	}
	if credits != 1 {
		t.Fatalf("t-1 appears %d times in bob's statement: %+v", credits, page.Lines)
	}
	// The same id with other content is refused.
	other := tr
	other.Amount = amt("1")
	_, err = f.acc.Transfer(ctx, f.alice, other)
	wantClass(t, err, accounting.ErrTransferConflict)

	// Bob can neither debit nor read alice's account.
	_, err = f.acc.Transfer(ctx, f.bob, accounting.Transfer{ID: "t-steal", From: aMain, To: bMain, Amount: amt("1")})
	wantClass(t, err, call.ErrPermission)
	_, err = f.acc.Balance(ctx, f.bob, aMain, time.Time{})
	wantClass(t, err, call.ErrPermission)
	_, err = f.acc.Statement(ctx, f.bob, aMain, accounting.StatementQuery{})
	wantClass(t, err, call.ErrPermission)
	// Paying into an account that does not exist is refused before anything is recorded.
	_, err = f.acc.Transfer(ctx, f.alice, accounting.Transfer{ID: "t-nowhere", From: aMain, To: "acct-none", Amount: amt("1")})
	wantClass(t, err, call.ErrNotFound)

	list, err := f.acc.ListAccounts(ctx, f.alice)
	if err != nil || len(list.Accounts) != 1 || list.Accounts[0].ID != aMain || list.Accounts[0].Balance.Balance != amt("69.749999") {
		t.Fatalf("list: %+v, %v", list, err)
	}
	f.wantBalance(t, f.alice, aMain, "69.749999", "0", "0")
	f.wantBalance(t, f.bob, bMain, "30.250001", "0", "0")
	rep := f.audit(t)
	if rep.Applied != 2 || rep.Refused != 1 {
		t.Fatalf("audit counts %+v", rep)
	}
}

// Issue 17 finding 1: any user could give their own accounts an overdraft
// (up to 10^12) and with it fill other accounts to the ledger's bound.
// Only an admin grants one: at creation, or later with set_overdraft.
func TestOverdraftIsGrantedByAdminsOnly(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	_, err := f.acc.CreateAccount(ctx, f.alice, "credit", amt("10"))
	wantClass(t, err, call.ErrPermission)
	if list, err := f.acc.ListAccounts(ctx, f.alice); err != nil || len(list.Accounts) != 0 {
		t.Fatalf("a refused create left %+v, %v", list, err)
	}
	svc := f.env.Host.Service(identity.Kind)
	_, err = f.acc.CreateAccount(ctx, svc, "credit", amt("10"))
	wantClass(t, err, call.ErrPermission)

	a := f.create(t, f.alice, "credit", "0")
	_, err = f.acc.SetOverdraft(ctx, f.alice, a, amt("10"))
	wantClass(t, err, call.ErrPermission)
	f.wantBalance(t, f.alice, a, "0", "0", "0")
	_, err = f.acc.SetOverdraft(ctx, svc, a, amt("10"))
	wantClass(t, err, call.ErrPermission)
	if b, err := f.acc.SetOverdraft(ctx, f.carol, a, amt("10")); err != nil || b.Overdraft != amt("10") || b.Available != amt("10") {
		t.Fatalf("admin's set_overdraft: %+v %v", b, err)
	}
	// Even an admin cannot set a negative limit, one below what the balance
	// already uses, or one on the mint.
	bob := f.create(t, f.bob, "main", "0")
	if _, err := f.acc.Transfer(ctx, f.alice, accounting.Transfer{ID: "use-it", From: a, To: bob, Amount: amt("4")}); err != nil {
		t.Fatal(err)
	}
	for _, limit := range []string{"-1", "3.999999"} {
		_, err = f.acc.SetOverdraft(ctx, f.carol, a, amt(limit))
		if !errors.Is(err, accounting.ErrOverdraft) && !errors.Is(err, call.ErrBadArguments) {
			t.Fatalf("set_overdraft %s: %v, want OverdraftError or BadArgumentsError", limit, err)
		}
	}
	_, err = f.acc.SetOverdraft(ctx, f.carol, ledger.MintAccount, amt("1"))
	wantClass(t, err, call.ErrPermission)
	f.wantBalance(t, f.alice, a, "-4", "0", "0")
	// An admin may also create an account of their own with one.
	if c := f.create(t, f.carol, "float", "5"); f.wantBalance(t, f.carol, c, "0", "0", "0").Overdraft != amt("5") {
		t.Fatal("admin's account has no overdraft")
	}
	f.audit(t)
}

func TestOverdraft(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	a := f.create(t, f.alice, "credit", "0")
	if _, err := f.acc.SetOverdraft(ctx, f.carol, a, amt("10")); err != nil {
		t.Fatal(err)
	}
	b := f.create(t, f.bob, "main", "0")
	if _, err := f.acc.Transfer(ctx, f.alice, accounting.Transfer{ID: "od-1", From: a, To: b, Amount: amt("10")}); err != nil {
		t.Fatal(err)
	}
	bal := f.wantBalance(t, f.alice, a, "-10", "0", "0")
	if !bal.Available.IsZero() {
		t.Fatalf("available %s", bal.Available)
	}
	_, err := f.acc.Transfer(ctx, f.alice, accounting.Transfer{ID: "od-2", From: a, To: b, Amount: amt("0.000001")})
	wantClass(t, err, accounting.ErrInsufficientFunds)
	f.audit(t)
}

func TestAuthorisationBoundToOperation(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	aMain := f.create(t, f.alice, "main", "0")
	f.deposit(t, "dep-1", aMain, "10")
	url := f.env.Host.ServiceURL(accounting.Kind)
	args := &accounting.TransferArgs{ID: "t-old", From: aMain, To: aMain + "x", Amount: amt("1")}

	// Expired: signed longer ago than the verifier accepts.
	bMain := f.create(t, f.bob, "main", "0")
	args.To = bMain
	old, err := f.alice.Authorise(url, accounting.TransferResource(args), f.env.Clock.Now().Add(-auth.DefaultMaxAge-time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	args.Authorisation = old
	err = f.env.Client.Call(ctx, url, "transfer", args, nil)
	wantClass(t, err, auth.ErrExpired)

	// An authorisation for another operation (a balance read, or another
	// amount) cannot be used for this one.
	for _, res := range []string{accounting.BalanceResource(aMain), "transfer t-old"} {
		a, err := f.alice.Authorise(url, res, f.env.Clock.Now())
		if err != nil {
			t.Fatal(err)
		}
		args.Authorisation = a
		err = f.env.Client.Call(ctx, url, "transfer", args, nil)
		wantClass(t, err, auth.ErrAuthorisation)
	}
	// No authorisation at all.
	args.Authorisation = nil
	err = f.env.Client.Call(ctx, url, "transfer", args, nil)
	wantClass(t, err, auth.ErrAuthorisation)
	f.wantBalance(t, f.alice, aMain, "10", "0", "0")

	// A closed session is refused (after the verifier's staleness limit).
	if _, err := f.env.Identity().Logout(ctx, f.alice); err != nil {
		t.Fatal(err)
	}
	f.env.Clock.Advance(auth.DefaultStaleness + time.Second)
	_, err = f.acc.Balance(ctx, f.alice, aMain, time.Time{})
	wantClass(t, err, auth.ErrSessionClosed)
}

func TestProvisionalReceiptAndRefund(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	aMain := f.create(t, f.alice, "main", "0")
	bShop := f.create(t, f.bob, "shop", "0")
	f.deposit(t, "dep-1", aMain, "100")

	by := f.env.Clock.Now().Add(time.Hour)
	p1 := accounting.Transfer{ID: "p-1", From: aMain, To: bShop, Amount: amt("40"), ReceiptBy: by}
	res, err := f.acc.Transfer(ctx, f.alice, p1)
	if err != nil || res.State != ledger.StatePending || !res.Provisional {
		t.Fatalf("provisional: %+v, %v", res, err)
	}
	b := f.wantBalance(t, f.alice, aMain, "100", "40", "0")
	if b.Available != amt("60") {
		t.Fatalf("available %s", b.Available)
	}
	f.wantBalance(t, f.bob, bShop, "0", "0", "40")

	// Only the payee may receipt or refund; never above the amount.
	p1ID := res.ID
	_, err = f.acc.Receipt(ctx, f.alice, p1ID, amt("40"))
	wantClass(t, err, call.ErrPermission)
	_, err = f.acc.Refund(ctx, f.alice, p1ID)
	wantClass(t, err, call.ErrPermission)
	_, err = f.acc.Receipt(ctx, f.bob, p1ID, amt("40.000001"))
	wantClass(t, err, accounting.ErrOverReceipt)
	f.wantBalance(t, f.alice, aMain, "100", "40", "0")
	f.wantBalance(t, f.bob, bShop, "0", "0", "40")

	// A partial receipt moves exactly that; the rest returns to the payer.
	res, err = f.acc.Receipt(ctx, f.bob, p1ID, amt("25.5"))
	if err != nil || res.State != ledger.StateReceipted || res.Resolution == nil || res.Resolution.Receipted != amt("25.5") {
		t.Fatalf("receipt: %+v, %v", res, err)
	}
	f.wantBalance(t, f.alice, aMain, "74.5", "0", "0")
	f.wantBalance(t, f.bob, bShop, "25.5", "0", "0")
	again, err := f.acc.Receipt(ctx, f.bob, p1ID, amt("25.5"))
	if err != nil || again.State != ledger.StateReceipted {
		t.Fatalf("repeated receipt: %+v, %v", again, err)
	}
	_, err = f.acc.Receipt(ctx, f.bob, p1ID, amt("1"))
	wantClass(t, err, accounting.ErrAlreadyResolved)
	_, err = f.acc.Refund(ctx, f.bob, p1ID)
	wantClass(t, err, accounting.ErrAlreadyResolved)

	// A refund restores exact balances.
	p2 := accounting.Transfer{ID: "p-2", From: aMain, To: bShop, Amount: amt("10.000003"), ReceiptBy: by}
	res, err = f.acc.Transfer(ctx, f.alice, p2)
	if err != nil {
		t.Fatal(err)
	}
	f.wantBalance(t, f.alice, aMain, "74.5", "10.000003", "0")
	res, err = f.acc.Refund(ctx, f.bob, res.ID)
	if err != nil || res.State != ledger.StateRefunded {
		t.Fatalf("refund: %+v, %v", res, err)
	}
	f.wantBalance(t, f.alice, aMain, "74.5", "0", "0")
	f.wantBalance(t, f.bob, bShop, "25.5", "0", "0")

	// Receipting a direct transfer, or an unknown one.
	d1, err := f.acc.Transfer(ctx, f.alice, accounting.Transfer{ID: "d-1", From: aMain, To: bShop, Amount: amt("1")})
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.acc.Receipt(ctx, f.bob, d1.ID, amt("1"))
	wantClass(t, err, call.ErrNotFound)
	f.audit(t)
}

func TestProvisionalExpiry(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	aMain := f.create(t, f.alice, "main", "0")
	bShop := f.create(t, f.bob, "shop", "0")
	f.deposit(t, "dep-1", aMain, "5")
	p := accounting.Transfer{ID: "p-exp", From: aMain, To: bShop, Amount: amt("5"), ReceiptBy: f.env.Clock.Now().Add(time.Minute)}
	pRes, err := f.acc.Transfer(ctx, f.alice, p)
	if err != nil {
		t.Fatal(err)
	}
	f.wantBalance(t, f.alice, aMain, "5", "5", "0")
	// receipt_by more than the limit ahead is refused.
	far := accounting.Transfer{ID: "p-far", From: aMain, To: bShop, Amount: amt("1"),
		ReceiptBy: f.env.Clock.Now().Add(accounting.MaxReceiptByAhead + time.Hour)}
	_, err = f.acc.Transfer(ctx, f.alice, far)
	wantClass(t, err, call.ErrBadArguments)

	f.env.Clock.Advance(2 * time.Minute)
	f.env.Host.Sweep(ctx)
	f.wantBalance(t, f.alice, aMain, "5", "0", "0")
	f.wantBalance(t, f.bob, bShop, "0", "0", "0")
	_, err = f.acc.Receipt(ctx, f.bob, pRes.ID, amt("5"))
	wantClass(t, err, accounting.ErrTransferExpired)
	f.audit(t)
}

// Many concurrent calls with one transfer id move the money once, and all
// answer the same; an envelope retry (same idempotency key, same payload)
// is answered by the framework without running again.
func TestConcurrentRetriesMoveOnce(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	aMain := f.create(t, f.alice, "main", "0")
	bMain := f.create(t, f.bob, "main", "0")
	f.deposit(t, "dep-1", aMain, "10")
	tr := accounting.Transfer{ID: "t-race", From: aMain, To: bMain, Amount: amt("3.333333")}
	const n = 8
	results := make([]*ledger.TransferResult, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { results[i], errs[i] = f.acc.Transfer(ctx, f.alice, tr) })
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil || *results[i] != *results[0] {
			t.Fatalf("call %d: %+v, %v; call 0: %+v", i, results[i], errs[i], results[0])
		}
	}
	f.wantBalance(t, f.alice, aMain, "6.666667", "0", "0")
	f.wantBalance(t, f.bob, bMain, "3.333333", "0", "0")

	args := &accounting.TransferArgs{ID: "t-env", From: aMain, To: bMain, Amount: amt("1")}
	url := f.env.Host.ServiceURL(accounting.Kind)
	a, err := f.alice.Authorise(url, accounting.TransferResource(args), f.env.Clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	args.Authorisation = a
	var r1, r2 ledger.TransferResult
	if err := f.env.Client.Call(ctx, url, "transfer", args, &r1, call.WithIdempotencyKey("k-1")); err != nil {
		t.Fatal(err)
	}
	if err := f.env.Client.Call(ctx, url, "transfer", args, &r2, call.WithIdempotencyKey("k-1")); err != nil || r1 != r2 {
		t.Fatalf("envelope retry: %+v, %v; first %+v", r2, err, r1)
	}
	f.wantBalance(t, f.alice, aMain, "5.666667", "0", "0")
	rep := f.audit(t)
	if rep.Applied != 3 {
		t.Fatalf("audit %+v", rep)
	}
}
