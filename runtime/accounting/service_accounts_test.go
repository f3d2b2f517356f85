package accounting_test

import (
	"context"
	"testing"
	"time"

	"github.com/openacquire/acquire/runtime/accounting"
	"github.com/openacquire/acquire/runtime/auth"
	"github.com/openacquire/acquire/runtime/call"
	"github.com/openacquire/acquire/runtime/identity"
	"github.com/openacquire/acquire/runtime/service"
	"github.com/openacquire/acquire/runtime/store"
)

// A trusted service owns accounts in its own name: a user pays it
// provisionally, and the service, not the user, receipts the payment.
func TestServiceOwnsAccountsAndReceipts(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	svc := f.env.Host.Service(identity.Kind) // any service on the host is trusted
	acc, err := f.acc.CreateAccount(ctx, svc, "takings", amt("0"))
	if err != nil {
		t.Fatal(err)
	}
	if len(acc.Owners) != 1 || acc.Owners[0].ServiceURL != svc.URL() || acc.Owners[0].UserUID != "" {
		t.Fatalf("service account owners %+v", acc.Owners)
	}
	if acc.ID != accounting.AccountID(accounting.Owner{ServiceURL: svc.URL()}, "takings") {
		t.Fatalf("service account id %s", acc.ID)
	}
	// A user and a service naming an account alike get different accounts.
	mine := f.create(t, f.alice, "takings", "0")
	if mine == acc.ID {
		t.Fatal("a user's account and a service's share an id")
	}
	f.deposit(t, "d1", mine, "10")
	p1, err := f.acc.Transfer(ctx, f.alice, accounting.Transfer{ID: "p1", From: mine, To: acc.ID, Amount: amt("4"),
		ReceiptBy: f.env.Clock.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	// The payer cannot receipt it; the service can, in part.
	_, err = f.acc.Receipt(ctx, f.alice, p1.ID, amt("4"))
	wantClass(t, err, call.ErrPermission)
	if _, err := f.acc.Receipt(ctx, svc, p1.ID, amt("2.5")); err != nil {
		t.Fatal(err)
	}
	f.wantBalance(t, svc, acc.ID, "2.5", "0", "0")
	f.wantBalance(t, f.alice, mine, "7.5", "0", "0")
	list, err := f.acc.ListAccounts(ctx, svc)
	if err != nil || len(list.Accounts) != 1 || list.Accounts[0].ID != acc.ID {
		t.Fatalf("service's accounts: %+v, %v", list, err)
	}
	// A service is no admin: it cannot mint money.
	_, err = f.acc.Deposit(ctx, svc, "d2", acc.ID, amt("1"), "")
	wantClass(t, err, call.ErrPermission)
	f.audit(t)
}

func TestUntrustedServiceRefused(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	b, err := store.Open(ctx, "mem://untrusted-"+time.Now().Format("150405.000000000"))
	if err != nil {
		t.Fatal(err)
	}
	stranger, err := service.New(ctx, service.Config{Kind: "stranger", URL: "http://127.0.0.1:1/stranger", Bucket: b,
		Secret: "Stranger-Service-Secret-1", Clock: f.env.Clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.acc.CreateAccount(ctx, stranger, "takings", amt("0"))
	wantClass(t, err, auth.ErrServiceNotTrusted)
	// Both kinds of authorisation at once are refused too.
	both, err := stranger.Credentials(ctx, f.acc.URL, accounting.ListAccountsResource, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	user, err := f.alice.Credentials(ctx, f.acc.URL, accounting.ListAccountsResource, f.env.Clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	both.Authorisation = user.Authorisation
	err = f.env.Client.Call(ctx, f.acc.URL, "list_accounts", &accounting.AuthArgs{Credentials: both}, nil)
	wantClass(t, err, auth.ErrAuthorisation)
}
