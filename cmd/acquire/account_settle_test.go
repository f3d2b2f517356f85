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

	"github.com/openacquire/acquire/runtime/accounting"
	"github.com/openacquire/acquire/runtime/host"
)

// regionCLI is one region's host and a CLI pointed at it.
type regionCLI struct {
	c    *cli
	h    *host.Host
	base string
	down atomic.Bool // the host drops every connection (cut off)
}

// twoRegionCLIs runs two hosts that settle with each other, each with
// its own store, clock and CLI.
func twoRegionCLIs(t *testing.T) (eu, us *regionCLI) {
	t.Helper()
	var lns [2]net.Listener
	for i := range lns {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		lns[i] = ln
	}
	rs := [2]*regionCLI{}
	for i, ln := range lns {
		other := "http://" + lns[1-i].Addr().String() + "/accounting"
		clock := newTestClock()
		r := &regionCLI{base: "http://" + ln.Addr().String()}
		h, err := host.NewWithClock(context.Background(), host.Config{StoreURL: "mem://cliregion-" + t.Name() + strconv.Itoa(ln.Addr().(*net.TCPAddr).Port), PublicURL: r.base,
			Secret: "Cli-Test-Service-Secret-123", Logger: slog.New(slog.DiscardHandler), SettlementPeers: []string{other}}, clock.Now)
		if err != nil {
			t.Fatal(err)
		}
		handler := h.Handler()
		srv := &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			if r.down.Load() {
				panic(http.ErrAbortHandler) // the connection drops: the caller cannot reach this region
			}
			handler.ServeHTTP(w, req)
		})}
		go func() { _ = srv.Serve(ln) }()
		t.Cleanup(func() { _ = srv.Close(); h.Close() })
		if err := h.Register(context.Background()); err != nil {
			t.Fatal(err)
		}
		r.h = h
		r.c = &cli{t: t, url: r.base + "/identity", dir: filepath.Join(t.TempDir(), "acquire"), clock: clock, env: map[string]string{}}
		rs[i] = r
	}
	// The regions peer: each accounting service checks the other's keys
	// through its home registry.
	ctx := context.Background()
	if _, err := rs[0].h.Registry.AddPeer(ctx, rs[1].base+"/registry", "us"); err != nil {
		t.Fatal(err)
	}
	if _, err := rs[1].h.Registry.AddPeer(ctx, rs[0].base+"/registry", "eu"); err != nil {
		t.Fatal(err)
	}
	return rs[0], rs[1]
}

func (r *regionCLI) login(t *testing.T, name string, admin bool) {
	t.Helper()
	secret, reg := r.c.register(name)
	r.c.mustJSON(testPassword+"\n", "user", "login", "-u", name, "--otp", r.c.code(secret), "--password-stdin")
	if admin {
		if err := r.h.Accounting.AddAdmin(context.Background(), r.c.url, reg["user_uid"].(string)); err != nil {
			t.Fatal(err)
		}
	}
}

func TestAccountTransferAcrossRegions(t *testing.T) {
	t.Parallel()
	eu, us := twoRegionCLIs(t)
	eu.login(t, "alice", true)
	us.login(t, "bob", true)
	alice := eu.c.mustJSON("", "account", "create", "main")["id"].(string)
	bob := us.c.mustJSON("", "account", "create", "main")["id"].(string)
	eu.c.mustJSON("", "account", "deposit", alice, "--amount", "100")
	usAcc := us.base + "/accounting"

	args := []string{"account", "transfer", "--from", "main", "--to", bob, "--to-service", usAcc, "--amount", "12.5", "--id", "order-1"}
	st := eu.c.mustJSON("", args...)
	if st["state"] != "committed" || st["amount"] != "12.500000" || st["to"] != bob || st["peer"] != usAcc {
		t.Fatalf("transfer: %v", st)
	}
	// The same --id pays once.
	if again := eu.c.mustJSON("", args...); again["id"] != st["id"] || again["state"] != "committed" {
		t.Fatalf("retry: %v", again)
	}
	for _, id := range []string{"order-1", st["id"].(string)} {
		if s := eu.c.mustJSON("", "account", "transfer-status", id); s["state"] != "committed" {
			t.Fatalf("status %s: %v", id, s)
		}
	}
	if b := us.c.mustJSON("", "account", "balance", "main"); b["balance"] != "12.500000" {
		t.Fatalf("bob: %v", b)
	}
	if b := eu.c.mustJSON("", "account", "balance", "main"); b["balance"] != "87.500000" {
		t.Fatalf("alice: %v", b)
	}
	pos := eu.c.mustJSON("", "account", "settlement")["positions"].([]any)[0].(map[string]any)
	if pos["owed"] != "12.500000" || pos["in_flight"] != "0.000000" || pos["peer"] != usAcc {
		t.Fatalf("positions: %v", pos)
	}

	// Typed refusals and their exit codes.
	eu.c.wantError(exitNotFound, "TransferConflictError", "", "account", "transfer", "--from", "main", "--to", bob,
		"--to-service", usAcc, "--amount", "13", "--id", "order-1")
	eu.c.wantError(exitAuth, "PeerNotTrustedError", "", "account", "transfer", "--from", "main", "--to", bob,
		"--to-service", "http://127.0.0.1:1/accounting", "--amount", "1")
	eu.c.wantError(exitRefused, "TransferAbortedError", "", "account", "transfer", "--from", "main", "--to", "acct-nobody",
		"--to-service", usAcc, "--amount", "1")
	eu.c.wantError(exitRefused, "InsufficientFundsError", "", "account", "transfer", "--from", "main", "--to", bob,
		"--to-service", usAcc, "--amount", "1000")
	eu.c.wantError(exitUsage, "BadArgumentsError", "", "account", "transfer", "--from", "main", "--to", bob,
		"--to-service", usAcc, "--amount", "1", "--receipt-by", "2000-01-01T00:00:00Z")

	// The other region cut off: exit 6 at once, the money held; the same
	// --id once it is back finishes the transfer.
	us.down.Store(true)
	held := []string{"account", "transfer", "--from", "main", "--to", bob, "--to-service", usAcc, "--amount", "2", "--id", "held-1"}
	eu.c.wantError(exitUnreachable, "PeerUnreachableError", "", held...)
	if s := eu.c.mustJSON("", "account", "transfer-status", "held-1"); s["state"] != "pending" {
		t.Fatalf("status while cut off: %v", s)
	}
	if b := eu.c.mustJSON("", "account", "balance", "main"); b["balance"] != "85.500000" {
		t.Fatalf("alice while held: %v", b)
	}
	us.down.Store(false)
	if s := eu.c.mustJSON("", held...); s["state"] != "committed" {
		t.Fatalf("after the peer returned: %v", s)
	}
	if b := us.c.mustJSON("", "account", "balance", "main"); b["balance"] != "14.500000" {
		t.Fatalf("bob: %v", b)
	}
}

// 'acquire account audit' on both regions: clean (exit 0) with positions
// that mirror each other; a user who is not an admin is refused; a ledger
// tampered with behind the service's back exits 8 with the anomalies
// listed in one JSON document.
func TestAccountAuditAcrossRegions(t *testing.T) {
	t.Parallel()
	eu, us := twoRegionCLIs(t)
	eu.login(t, "alice", true)
	us.login(t, "bob", true)
	alice := eu.c.mustJSON("", "account", "create", "main")["id"].(string)
	bob := us.c.mustJSON("", "account", "create", "main")["id"].(string)
	eu.c.mustJSON("", "account", "deposit", alice, "--amount", "100")
	eu.c.mustJSON("", "account", "transfer", "--from", "main", "--to", bob, "--to-service", us.base+"/accounting", "--amount", "30")
	us.c.mustJSON("", "account", "transfer", "--from", "main", "--to", alice, "--to-service", eu.base+"/accounting", "--amount", "4")

	owed := map[string]string{}
	for name, r := range map[string]*regionCLI{"eu": eu, "us": us} {
		rep := r.c.mustJSON("", "account", "audit", "-u", map[string]string{"eu": "alice", "us": "bob"}[name])
		l := rep["ledger"].(map[string]any)
		ps := rep["positions"].([]any)
		if rep["clean"] != true || l["total"] != "0.000000" || l["anomalies"] != nil || len(ps) != 1 {
			t.Fatalf("%s audit: %v", name, rep)
		}
		p := ps[0].(map[string]any)
		if p["in_flight"] != "0.000000" {
			t.Fatalf("%s in flight: %v", name, p)
		}
		owed[name] = p["owed"].(string)
		text := r.c.run("", "account", "audit", "-u", map[string]string{"eu": "alice", "us": "bob"}[name])
		if text.code != 0 || !strings.Contains(text.stdout, "Audit: clean") || !strings.Contains(text.stdout, owed[name]) {
			t.Fatalf("%s text audit: exit %d\n%s%s", name, text.code, text.stdout, text.stderr)
		}
	}
	if owed["eu"] != "26.000000" || owed["us"] != "-26.000000" {
		t.Fatalf("positions do not mirror: %v", owed)
	}

	// Not an admin: refused, nothing audited.
	eu.login(t, "mallory", false)
	eu.c.wantError(exitError, "PermissionError", "", "account", "audit", "-u", "mallory")

	// A transfer record deleted behind the ledger's back: every entry of
	// it now names an unrecorded transfer.
	ctx := context.Background()
	b := eu.h.Service(accounting.Kind).Bucket()
	page, err := b.List(ctx, "ledger/transfers/", "", 1)
	if err != nil || len(page.Items) == 0 {
		t.Fatalf("no transfer record to tamper with: %v", err)
	}
	if err := b.Delete(ctx, page.Items[0].Key); err != nil {
		t.Fatal(err)
	}
	code, rep := eu.c.runJSON("", "account", "audit", "-u", "alice")
	if code != exitAnomalies || rep["clean"] != false || len(rep["ledger"].(map[string]any)["anomalies"].([]any)) == 0 {
		t.Fatalf("tampered audit: exit %d %v", code, rep)
	}
	text := eu.c.run("", "account", "audit", "-u", "alice")
	if text.code != exitAnomalies || !strings.Contains(text.stdout, "anomaly: ") || !strings.Contains(text.stderr, "AuditAnomaliesError") {
		t.Fatalf("tampered text audit: exit %d\n%s%s", text.code, text.stdout, text.stderr)
	}
}

// A provisional cross-region transfer through the CLI: held at the
// payee's region, receipted there in part by the payee with the same
// receipt command as any provisional payment (someone else, more than
// held, a changed receipt and one after expiry refused, typed), and the
// payer's retry of the same --id learning the outcome.
func TestAccountTransferAcrossRegionsProvisional(t *testing.T) {
	t.Parallel()
	eu, us := twoRegionCLIs(t)
	eu.login(t, "alice", true)
	us.login(t, "bob", true)
	carl := &regionCLI{c: &cli{t: t, url: us.c.url, dir: filepath.Join(t.TempDir(), "carl"), clock: us.c.clock, env: map[string]string{}}}
	carl.login(t, "carl", false)
	alice := eu.c.mustJSON("", "account", "create", "main")["id"].(string)
	bob := us.c.mustJSON("", "account", "create", "main")["id"].(string)
	eu.c.mustJSON("", "account", "deposit", alice, "--amount", "100")
	usAcc := us.base + "/accounting"
	hold := func(id, amount string) []string {
		return []string{"account", "transfer", "--from", "main", "--to", bob, "--to-service", usAcc, "--amount", amount,
			"--id", id, "--receipt-by", "1m"}
	}
	st := eu.c.mustJSON("", hold("h-1", "10")...)
	xr, _ := st["peer_transfer"].(string)
	if st["state"] != "held" || !strings.HasPrefix(xr, "xr-") || st["receipt_by"] == nil {
		t.Fatalf("hold: %v", st)
	}
	if b := us.c.mustJSON("", "account", "balance", "main"); b["receivable"] != "10.000000" || b["balance"] != "0.000000" {
		t.Fatalf("bob while held: %v", b)
	}
	// Its status says it is held there, until when, and who decides.
	if s := eu.c.mustJSON("", "account", "transfer-status", "h-1"); s["state"] != "held" || s["peer_transfer"] != xr ||
		s["decided_by"] != "payee" || s["receipt_by"] != st["receipt_by"] {
		t.Fatalf("status while held: %v", s)
	}
	if text := eu.c.run("", "account", "transfer-status", "h-1"); text.code != 0 || !strings.Contains(text.stdout, ": held ") ||
		!strings.Contains(text.stdout, xr) || !strings.Contains(text.stdout, "the payee there receipts") {
		t.Fatalf("text status while held: exit %d\n%s%s", text.code, text.stdout, text.stderr)
	}
	carl.c.wantError(exitError, "PermissionError", "", "account", "receipt", xr, "--amount", "1")
	carl.c.wantError(exitError, "PermissionError", "", "account", "refund", xr)
	us.c.wantError(exitRefused, "OverReceiptError", "", "account", "receipt", xr, "--amount", "10.000001")
	for range 2 { // replaying the receipt answers the same and moves nothing more
		if r := us.c.mustJSON("", "account", "receipt", xr, "--amount", "4"); r["state"] != "receipted" {
			t.Fatalf("receipt: %v", r)
		}
	}
	us.c.wantError(exitRefused, "AlreadyResolvedError", "", "account", "receipt", xr, "--amount", "5")
	// The payer's retry (the same --id, its receipt-by the first run's
	// instant) learns it: 4 paid, 6 back.
	eu.c.clock.advance(5 * time.Second)
	if st := eu.c.mustJSON("", hold("h-1", "10")...); st["state"] != "committed" || st["receipted"] != "4.000000" {
		t.Fatalf("after the receipt: %v", st)
	}
	// A hold left to expire at the payee's region.
	xr2, _ := eu.c.mustJSON("", hold("h-2", "7")...)["peer_transfer"].(string)
	us.c.clock.advance(2 * time.Minute)
	eu.c.clock.advance(2 * time.Minute)
	us.c.wantError(exitRefused, "TransferExpiredError", "", "account", "receipt", xr2, "--amount", "7")
	if st := eu.c.mustJSON("", hold("h-2", "7")...); st["state"] != "returned" || st["resolution"] != "expire" {
		t.Fatalf("after expiry: %v", st)
	}
	if b := eu.c.mustJSON("", "account", "balance", "main"); b["balance"] != "96.000000" || b["liability"] != "0.000000" {
		t.Fatalf("alice: %v", b)
	}
	if b := us.c.mustJSON("", "account", "balance", "main"); b["balance"] != "4.000000" || b["receivable"] != "0.000000" {
		t.Fatalf("bob: %v", b)
	}
	pos := eu.c.mustJSON("", "account", "settlement")["positions"].([]any)[0].(map[string]any)
	if pos["owed"] != "4.000000" || pos["in_flight"] != "0.000000" {
		t.Fatalf("positions: %v", pos)
	}
}
