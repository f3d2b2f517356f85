package accounting_test

import (
	"context"
	"testing"

	"github.com/openacquire/acquire/runtime/accounting"
	"github.com/openacquire/acquire/runtime/auth"
	"github.com/openacquire/acquire/runtime/host/hosttest"
)

// A user's authorisation names the service it is for. A service that
// receives one (here: accounting A) cannot replay it to a second
// deployment that trusts the same identity service (accounting B).
func TestAuthorisationReplayedToAnotherDeploymentIsRefused(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	b := hosttest.Start(t, hosttest.Options{Kinds: []string{accounting.Kind}})
	b.Clock.Advance(f.env.Clock.Now().Sub(b.Clock.Now()))
	bank := b.Accounting()
	if _, err := bank.CreateAccount(ctx, f.alice, "main", amt("0")); err != nil {
		t.Fatalf("alice at the second deployment: %v", err)
	}

	forA, err := f.alice.Credentials(ctx, f.acc.URL, accounting.ListAccountsResource, f.env.Clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	err = b.Client.Call(ctx, bank.URL, "list_accounts", &accounting.AuthArgs{Credentials: forA}, nil)
	wantClass(t, err, auth.ErrAudience)
	// The same call signed for B passes, so the refusal was the audience.
	if _, err := bank.ListAccounts(ctx, f.alice); err != nil {
		t.Fatal(err)
	}
}
