package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/openacquire/acquire/runtime/accounting"
	"github.com/openacquire/acquire/runtime/identity"
	"github.com/openacquire/acquire/runtime/ledger"
)

// A service (the host's identity service, trusted like all the host's own)
// invoices alice; she lists and pays from the command line.
func TestInvoiceAndDepositCommands(t *testing.T) {
	t.Parallel()
	alice, h := newHostCLI(t)
	bob := alice.other()
	aSecret, aReg := alice.register("alice")
	bSecret, _ := bob.register("bob")
	alice.mustJSON(testPassword+"\n", "user", "login", "-u", "alice", "--otp", alice.code(aSecret), "--password-stdin")
	bob.mustJSON(testPassword+"\n", "user", "login", "-u", "bob", "--otp", bob.code(bSecret), "--password-stdin")
	ctx := context.Background()
	if err := h.Accounting.AddAdmin(ctx, alice.url, aReg["user_uid"].(string)); err != nil {
		t.Fatal(err)
	}
	aID, _ := alice.mustJSON("", "account", "create", "main")["id"].(string)
	bob.mustJSON("", "account", "create", "main")
	alice.mustJSON("", "account", "deposit", "main", "--amount", "10", "--id", "dep-1")

	shop := h.Service(identity.Kind)
	acc := &accounting.Client{C: h.Client, URL: h.ServiceURL(accounting.Kind)}
	takings, err := acc.CreateAccount(ctx, shop, "takings", ledger.Zero)
	if err != nil {
		t.Fatal(err)
	}
	issue := func(ref, amount string) string {
		inv, err := acc.CreateInvoice(ctx, shop, accounting.NewInvoice{Ref: ref, Payee: takings.ID, Payer: aID,
			Amount: ledger.MustParse(amount), Description: "order " + ref, Due: alice.clock.Now().Add(time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		return inv.ID
	}
	small, big, gone := issue("o-1", "4"), issue("o-2", "20"), issue("o-3", "1")
	if _, err := acc.CancelInvoice(ctx, shop, gone); err != nil {
		t.Fatal(err)
	}

	list := alice.mustJSON("", "invoice", "list", "main", "--state", "open")
	if invs, _ := list["invoices"].([]any); len(invs) != 2 || invs[0].(map[string]any)["id"] != small {
		t.Fatalf("open invoices %v", list)
	}
	bob.wantError(exitError, "PermissionError", "", "invoice", "list", aID)
	bob.wantError(exitError, "PermissionError", "", "invoice", "pay", small, "--amount", "4")
	alice.wantError(exitUsage, "UsageError", "", "invoice", "list", "main", "--state", "paying")
	alice.wantError(exitUsage, "UsageError", "", "invoice", "pay", small)

	paid := alice.mustJSON("", "invoice", "pay", small, "--amount", "4")
	again := alice.mustJSON("", "invoice", "pay", small, "--amount", "4")
	pt, _ := paid["transfer"].(map[string]any)
	at, _ := again["transfer"].(map[string]any)
	if pt["state"] != "applied" || at["id"] != pt["id"] || at["debit_item"] != pt["debit_item"] {
		t.Fatalf("pay %v, again %v", paid, again)
	}
	alice.wantError(exitRefused, "InsufficientFundsError", "", "invoice", "pay", big, "--amount", "20")
	alice.wantError(exitRefused, "InvoiceStateError", "", "invoice", "pay", gone, "--amount", "1")
	alice.wantError(exitNotFound, "NotFoundError", "", "invoice", "pay", accounting.InvoiceID(shop.URL(), "none"), "--amount", "1")
	if bal := alice.mustJSON("", "account", "balance", "main"); bal["balance"] != "6.000000" {
		t.Fatalf("alice after paying %v", bal)
	}
	dep2, _ := alice.mustJSON("", "account", "deposit", "main", "--amount", "14", "--id", "dep-2")["id"].(string)
	alice.mustJSON("", "invoice", "pay", big, "--amount", "20")
	if bal := alice.mustJSON("", "account", "balance", "main"); bal["balance"] != "0.000000" {
		t.Fatalf("alice after paying both %v", bal)
	}
	if l := alice.mustJSON("", "invoice", "list", "main", "--state", "paid"); len(l["invoices"].([]any)) != 2 {
		t.Fatalf("paid invoices %v", l)
	}

	deps := alice.mustJSON("", "deposit", "list", "main")
	if ds, _ := deps["deposits"].([]any); len(ds) != 2 || ds[1].(map[string]any)["transfer"] != dep2 || dep2 == "" {
		t.Fatalf("deposits %v", deps)
	}
	if ds := alice.mustJSON("", "deposit", "list", "--all")["deposits"].([]any); len(ds) != 2 {
		t.Fatalf("all deposits %v", ds)
	}
	bob.wantError(exitError, "PermissionError", "", "deposit", "list", "--all")
	bob.wantError(exitUsage, "UsageError", "", "deposit", "list")
	// Text output and help work too.
	for _, args := range [][]string{{"invoice", "list", "main"}, {"deposit", "list", "main"}, {"invoice", "--help"}, {"invoice", "pay", "--help"}} {
		if res := alice.run("", args...); res.code != 0 || res.stdout == "" {
			t.Fatalf("%v: %+v", args, res)
		}
	}
	if res := alice.run("", "invoice", "list", "main"); !strings.Contains(res.stdout, big) {
		t.Fatalf("text list: %s", res.stdout)
	}
	rep, err := h.Accounting.Ledger().Audit(ctx)
	if err != nil || rep.Total != "0.000000" || len(rep.Anomalies) != 0 {
		t.Fatalf("audit %v %+v", err, rep)
	}
}
