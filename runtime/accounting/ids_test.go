package accounting_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/openacquire/acquire/runtime/accounting"
	"github.com/openacquire/acquire/runtime/ledger"
)

// Issue 17 finding 8: transfer ids were one namespace chosen by clients,
// so a user could take another user's or an admin's id first and make
// their transfer fail with TransferConflictError. Ids are now scoped to
// their caller.
func TestTransferIDsCannotBeTakenByAnotherCaller(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	aMain := f.create(t, f.alice, "main", "0")
	bMain := f.create(t, f.bob, "main", "0")
	f.deposit(t, "dep-a", aMain, "10")
	f.deposit(t, "dep-b", bMain, "10")

	// Bob uses the id alice is about to use, and the id of the admin's next deposit.
	for _, id := range []string{"rent-may", "dep-next"} {
		if _, err := f.acc.Transfer(ctx, f.bob, accounting.Transfer{ID: id, From: bMain, To: aMain, Amount: amt("1")}); err != nil {
			t.Fatal(err)
		}
	}
	mine, err := f.acc.Transfer(ctx, f.alice, accounting.Transfer{ID: "rent-may", From: aMain, To: bMain, Amount: amt("3")})
	if err != nil || mine.State != ledger.StateApplied {
		t.Fatalf("alice's transfer after bob took its id: %+v %v", mine, err)
	}
	dep, err := f.acc.Deposit(ctx, f.carol, "dep-next", aMain, amt("5"), "")
	if err != nil || dep.State != ledger.StateApplied || dep.ID == mine.ID {
		t.Fatalf("admin's deposit after bob took its id: %+v %v", dep, err)
	}
	f.wantBalance(t, f.alice, aMain, "14", "0", "0")
	f.wantBalance(t, f.bob, bMain, "11", "0", "0")
	// Within one caller's scope an id still means one transfer.
	_, err = f.acc.Transfer(ctx, f.alice, accounting.Transfer{ID: "rent-may", From: aMain, To: bMain, Amount: amt("4")})
	wantClass(t, err, accounting.ErrTransferConflict)
	f.audit(t)
}

// The transfer that cashes a cheque had an id anyone could compute from
// the cheque, so its writer could take it first (with other content the
// cashing then failed; with the same, they paid outside the cheque). It is
// now keyed with the service's secret.
func TestChequeTransferIDCannotBeTakenFirst(t *testing.T) {
	f := setupCheques(t)
	ctx := context.Background()
	ch := f.write(t, "30", time.Hour)
	au := ch.Authorisation
	predicted := "cheque-" + accounting.ChequeKey(au.IdentityURL, au.UserUID, ch.UID)
	if _, err := f.acc.Transfer(ctx, f.alice, accounting.Transfer{ID: predicted, From: f.main, To: f.takings, Amount: amt("1")}); err != nil {
		t.Fatal(err)
	}
	res, err := f.cash(ch, "25")
	if err != nil || res.State != ledger.StatePending {
		t.Fatalf("cashing after its writer used the predictable id: %+v %v", res, err)
	}
	if res.ID == predicted || !strings.HasPrefix(res.ID, "cheque-") {
		t.Fatalf("cheque transfer id %s is computable from the cheque", res.ID)
	}
	f.wantBalance(t, f.alice, f.main, "99", "25", "0")
	f.audit(t)
}
