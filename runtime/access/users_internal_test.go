package access

import (
	"testing"

	"github.com/openacquire/acquire/runtime/ledger"
)

// A catalogue entry lists users as (identity service, UID) pairs: a user
// of another identity service with the same UID is not the listed user.
func TestCatalogueMatchesUsersAsPairs(t *testing.T) {
	const a, b = "https://id-a.example/identity", "https://id-b.example/identity"
	r := &Resource{Users: []string{UserRef(a, "u1")}}
	if !r.allows(a, "u1") {
		t.Fatal("the listed user is refused")
	}
	if r.allows(b, "u1") {
		t.Fatal("another identity service's user with the same UID is allowed")
	}
	entry := Resource{Name: "x", Price: ledger.MustParse("1"), ServiceURL: "https://svc.example/x", Function: "f",
		Users: []string{UserRef(a, "u1")}}
	if err := checkResource(&entry); err != nil {
		t.Fatalf("a paired user is refused: %v", err)
	}
	entry.Users = []string{"u1"}
	if err := checkResource(&entry); err == nil {
		t.Fatal("a bare UID, which any identity service could claim, is accepted")
	}
}
