package main

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/openacquire/acquire/runtime/host"
)

// newHostCLI runs a whole host (registry, identity, accounting) on a
// loopback server, with the CLI's clock, and returns a CLI pointed at its
// identity service; the accounting URL is derived from it.
func newHostCLI(t *testing.T) (*cli, *host.Host) {
	t.Helper()
	return newHostCLIWith(t, hostOptions{})
}

// hostOptions change the host newHostCLIWith runs.
type hostOptions struct {
	wrap        func(http.Handler) http.Handler // wraps the host's handler (tests that tamper with traffic)
	sessionLife time.Duration
}

// hostStores numbers newHostCLIWith's stores.
var hostStores atomic.Int64

// newHostCLIWith is newHostCLI with options.
func newHostCLIWith(t *testing.T, o hostOptions) (*cli, *host.Host) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	clock := newTestClock()
	base := "http://" + ln.Addr().String()
	ctx := context.Background()
	// A store of its own per call: mem:// stores live as long as the
	// process, so a name from the test's alone would hand a second run
	// (go test -count=2) the first one's users.
	storeURL := "mem://clihost-" + t.Name() + "-" + strconv.FormatInt(hostStores.Add(1), 10)
	h, err := host.NewWithClock(ctx, host.Config{StoreURL: storeURL, PublicURL: base,
		Secret: "Cli-Test-Service-Secret-123", Logger: slog.New(slog.DiscardHandler), SessionLife: o.sessionLife}, clock.Now)
	if err != nil {
		t.Fatal(err)
	}
	handler := h.Handler()
	if o.wrap != nil {
		handler = o.wrap(handler)
	}
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close(); h.Close() })
	if err := h.Register(ctx); err != nil {
		t.Fatal(err)
	}
	return &cli{t: t, url: base + "/identity", dir: filepath.Join(t.TempDir(), "acquire"), clock: clock,
		env: map[string]string{}}, h
}

func TestAccountCommands(t *testing.T) {
	t.Parallel()
	alice, h := newHostCLI(t)
	bob := alice.other()
	aSecret, aReg := alice.register("alice")
	bSecret, _ := bob.register("bob")
	alice.mustJSON(testPassword+"\n", "user", "login", "-u", "alice", "--otp", alice.code(aSecret), "--password-stdin")
	bob.mustJSON(testPassword+"\n", "user", "login", "-u", "bob", "--otp", bob.code(bSecret), "--password-stdin")
	if err := h.Accounting.AddAdmin(context.Background(), alice.url, aReg["user_uid"].(string)); err != nil {
		t.Fatal(err)
	}

	a := alice.mustJSON("", "account", "create", "main")
	aID, _ := a["id"].(string)
	b := bob.mustJSON("", "account", "create", "shop")
	bID, _ := b["id"].(string)
	if aID == "" || bID == "" || a["name"] != "main" {
		t.Fatalf("create: %v %v", a, b)
	}
	alice.wantError(exitNotFound, "AlreadyExistsError", "", "account", "create", "main")
	bob.wantError(exitError, "PermissionError", "", "account", "deposit", bID, "--amount", "5")
	// Overdrafts: users cannot grant them, an admin sets one on anyone's account.
	bob.wantError(exitError, "PermissionError", "", "account", "set-overdraft", "shop", "--limit", "5")
	if od := alice.mustJSON("", "account", "set-overdraft", bID, "--limit", "5"); od["overdraft"] != "5.000000" || od["available"] != "5.000000" {
		t.Fatalf("set-overdraft: %v", od)
	}
	alice.mustJSON("", "account", "set-overdraft", bID, "--limit", "0")
	dep := alice.mustJSON("", "account", "deposit", "main", "--amount", "100", "--id", "dep-1")
	if dep["state"] != "applied" || dep["amount"] != "100.000000" {
		t.Fatalf("deposit: %v", dep)
	}

	tr := []string{"account", "transfer", "--from", "main", "--to", bID, "--amount", "30.5", "--id", "t-1", "--description", "rent"}
	first := alice.mustJSON("", tr...)
	again := alice.mustJSON("", tr...)
	if first["state"] != "applied" || again["debit_item"] != first["debit_item"] || again["credit_item"] != first["credit_item"] {
		t.Fatalf("transfer %v, retry %v", first, again)
	}
	alice.wantError(exitNotFound, "TransferConflictError", "", "account", "transfer", "--from", "main", "--to", bID,
		"--amount", "1", "--id", "t-1")
	alice.wantError(exitRefused, "InsufficientFundsError", "", "account", "transfer", "--from", "main", "--to", bID,
		"--amount", "1000")
	bob.wantError(exitError, "PermissionError", "", "account", "balance", aID)
	alice.wantError(exitUsage, "UsageError", "", "account", "transfer", "--from", "main", "--to", bID, "--amount", "1.0000001")

	bal := alice.mustJSON("", "account", "balance", "main")
	if bal["balance"] != "69.500000" || bal["available"] != "69.500000" {
		t.Fatalf("alice balance %v", bal)
	}
	list := bob.mustJSON("", "account", "list")
	accs, _ := list["accounts"].([]any)
	if len(accs) != 1 {
		t.Fatalf("bob's list %v", list)
	}
	if got := accs[0].(map[string]any)["balance"].(map[string]any)["balance"]; got != "30.500000" {
		t.Fatalf("bob's balance %v", got)
	}

	// Provisional: partial receipt by the payee, exact balances after.
	// The payee receipts or refunds by the ledger's id of the transfer (the
	// answer's), not by the payer's own --id.
	p := alice.mustJSON("", "account", "transfer", "--from", "main", "--to", bID, "--amount", "20", "--id", "p-1", "--receipt-by", "1h")
	p1, _ := p["id"].(string)
	if p["state"] != "pending" || !strings.HasPrefix(p1, "tx-") {
		t.Fatalf("provisional %v", p)
	}
	alice.wantError(exitError, "PermissionError", "", "account", "receipt", p1, "--amount", "20")
	bob.wantError(exitRefused, "OverReceiptError", "", "account", "receipt", p1, "--amount", "20.000001")
	r := bob.mustJSON("", "account", "receipt", p1, "--amount", "7.25")
	if r["state"] != "receipted" {
		t.Fatalf("receipt %v", r)
	}
	bob.wantError(exitRefused, "AlreadyResolvedError", "", "account", "refund", p1)
	p2, _ := alice.mustJSON("", "account", "transfer", "--from", "main", "--to", bID, "--amount", "3", "--id", "p-2", "--receipt-by", "1h")["id"].(string)
	if r := bob.mustJSON("", "account", "refund", p2); r["state"] != "refunded" {
		t.Fatalf("refund %v", r)
	}
	if bal := alice.mustJSON("", "account", "balance", "main"); bal["balance"] != "62.250000" || bal["liability"] != "0.000000" {
		t.Fatalf("alice after receipt and refund %v", bal)
	}
	if bal := bob.mustJSON("", "account", "balance", "shop"); bal["balance"] != "37.750000" || bal["receivable"] != "0.000000" {
		t.Fatalf("bob after receipt and refund %v", bal)
	}
	st := bob.mustJSON("", "account", "statement", "shop")
	lines, _ := st["lines"].([]any)
	if len(lines) < 5 { // open, credit t-1, credit p-1, settle p-1, credit p-2, settle p-2 (some may share an item)
		t.Fatalf("statement %v", st)
	}
	// Newest first by default; --oldest-first reads the same lines forwards.
	oldest, _ := bob.mustJSON("", "account", "statement", "shop", "--oldest-first")["lines"].([]any)
	if len(oldest) != len(lines) {
		t.Fatalf("%d lines oldest first, %d newest first", len(oldest), len(lines))
	}
	for i := range lines {
		n, o := lines[i].(map[string]any), oldest[len(oldest)-1-i].(map[string]any)
		if n["item"] != o["item"] || n["index"] != o["index"] {
			t.Fatalf("line %d newest first is %v.%v, want %v.%v", i, n["item"], n["index"], o["item"], o["index"])
		}
	}
	if first := oldest[0].(map[string]any); first["item"] != float64(0) {
		t.Fatalf("oldest first starts at %v", first)
	}
	// Text output works too.
	if res := alice.run("", "account", "list"); res.code != 0 || res.stdout == "" {
		t.Fatalf("text list: %+v", res)
	}
}

func TestAccountingURL(t *testing.T) {
	for in, want := range map[string]string{
		"http://h:8080/identity":     "http://h:8080/accounting",
		"https://x.example/a/b/id/":  "https://x.example/a/b/accounting",
		"http://h/identity?x=1#frag": "http://h/accounting",
	} {
		got, err := siblingURL(in, "accounting")
		if err != nil || got != want {
			t.Errorf("siblingURL(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}
