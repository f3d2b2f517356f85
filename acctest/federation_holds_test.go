package acctest

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// fedHolds shows holds across regions following their own rules while a
// region is down (runtime/ledger/DESIGN.md, "Provisional cross-region
// transfers"): usroot pays alice from us's ledger into eu's with a short
// --receipt-by, held at eu; us's host is then SIGKILLed, and the hold
// expires at eu by eu's rules (its host sweeps every second) while us is
// down: alice's receivable goes, her receipt after that is refused. A
// transfer alice starts into us while it is down fails fast (exit 6),
// her money held. When us returns, both finish: usroot's money comes back
// (us learns the expiry), alice's is returned (us aborts it: its
// receipt_by passed before us heard of it), and the balances and the
// settlement positions are exact.
type fedHolds struct {
	t             *testing.T
	o             map[string]map[string]string
	alice, usroot *cli
	root          *cli // eu's admin
	vault         string
	hold, late    []string
	held          string // the hold's id at eu (xr-...)
	receiptBy     time.Time
	lateBy        time.Time // no later than the late transfer's receipt-by
}

// lateSeconds is the receipt-by of alice's transfer into the downed region.
const lateSeconds = 3

// holdSeconds is the hold's receipt-by: long enough for its first run
// under load, short enough to add little to the test.
const holdSeconds = 8

func startFedHolds(t *testing.T, o map[string]map[string]string, alice, root, usroot *cli, vault string) *fedHolds {
	t.Helper()
	var acc struct {
		Account string `json:"account"`
	}
	alice.mustJSON("", &acc, "account", "balance", "main")
	h := &fedHolds{t: t, o: o, alice: alice, root: root, usroot: usroot, vault: vault,
		hold: []string{"account", "transfer", "--from", "vault", "--to", acc.Account, "--to-service", o["eu"]["accounting_url"],
			"--amount", "2", "--id", "fed-hold-1", "--receipt-by", (holdSeconds * time.Second).String()},
		late: []string{"account", "transfer", "--from", "main", "--to", vault, "--to-service", o["us"]["accounting_url"],
			"--amount", "1", "--id", "fed-hold-2", "--receipt-by", (lateSeconds * time.Second).String()}}
	var st struct {
		State     string    `json:"state"`
		Peer      string    `json:"peer_transfer"`
		ReceiptBy time.Time `json:"receipt_by"`
	}
	usroot.mustJSON("", &st, h.hold...)
	if st.State != "held" || !strings.HasPrefix(st.Peer, "xr-") {
		t.Fatalf("the cross-region hold: %+v", st)
	}
	h.held, h.receiptBy = st.Peer, st.ReceiptBy
	h.balance(alice, "main", "35.000000", "2.000000")
	h.balance(usroot, "vault", "10.000000", "0.000000") // 2 in escrow at us
	return h
}

func (h *fedHolds) balance(c *cli, acc, balance, receivable string) {
	h.t.Helper()
	var b struct {
		Balance    string `json:"balance"`
		Receivable string `json:"receivable"`
		Liability  string `json:"liability"`
	}
	c.mustJSON("", &b, "account", "balance", acc)
	if b.Balance != balance || b.Receivable != receivable || b.Liability != "0.000000" {
		h.t.Fatalf("%s: %+v, want balance %s receivable %s", acc, b, balance, receivable)
	}
}

// whileDown runs with us's host killed.
func (h *fedHolds) whileDown() {
	t := h.t
	t.Helper()
	// The hold expires at eu by eu's rules: us is not needed for that.
	deadline := h.receiptBy.Add(30 * time.Second)
	for {
		var b struct {
			Receivable string `json:"receivable"`
		}
		h.alice.mustJSON("", &b, "account", "balance", "main")
		if b.Receivable == "0.000000" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the hold at eu did not expire by %s while us was down (receivable %s)", deadline, b.Receivable)
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Logf("the hold at eu expired %s after its receipt-by, with us down", time.Since(h.receiptBy).Round(100*time.Millisecond))
	h.balance(h.alice, "main", "35.000000", "0.000000")
	out, _, code := h.alice.run("", "account", "receipt", h.held, "--amount", "2", "-o", "json")
	assertError(t, out, code, 7, "TransferExpiredError")
	// Into the downed region: fails fast, the money held at eu.
	out, _, code = h.alice.run("", append(h.late, "-o", "json")...)
	// The CLI fixed the receipt-by when it started, before this instant.
	h.lateBy = time.Now().Add(lateSeconds * time.Second)
	assertError(t, out, code, 6, "PeerUnreachableError")
	h.balance(h.alice, "main", "34.000000", "0.000000")
}

// afterReturn runs once us's host is back.
func (h *fedHolds) afterReturn() {
	t := h.t
	t.Helper()
	// us learns the expiry at eu: all of usroot's 2 back.
	var st struct {
		State      string `json:"state"`
		Resolution string `json:"resolution"`
		Receipted  string `json:"receipted"`
	}
	h.usroot.mustJSON("", &st, h.hold...)
	if st.State != "returned" || st.Resolution != "expire" || st.Receipted != "0.000000" {
		t.Fatalf("the expired hold, from us once it returned: %+v", st)
	}
	// alice's transfer into us finishes: us hears of it after its
	// receipt-by, so it aborts it, and her 1 comes back. On a quiet machine
	// us can be back before that receipt-by: wait for it to pass, so the
	// retry tests the abort and not how fast the host restarts.
	time.Sleep(time.Until(h.lateBy.Add(500 * time.Millisecond)))
	out, _, code := h.alice.run("", append(h.late, "-o", "json")...)
	assertError(t, out, code, 7, "TransferAbortedError")
	h.balance(h.alice, "main", "35.000000", "0.000000")
	h.balance(h.usroot, "vault", "12.000000", "0.000000")
	// Both accounting services agree, nothing in flight: eu owes us the
	// 12 that crossed, us is owed it.
	position := func(c *cli, peer string) (string, string) {
		var ps struct {
			Positions []struct {
				Peer     string `json:"peer"`
				Owed     string `json:"owed"`
				InFlight string `json:"in_flight"`
			} `json:"positions"`
		}
		out, errs, code := c.run("", "account", "settlement", "-o", "json")
		if code != 0 || json.Unmarshal([]byte(out), &ps) != nil {
			t.Fatalf("settlement positions: exit %d %s %s", code, out, errs)
		}
		for _, p := range ps.Positions {
			if p.Peer == peer {
				return p.Owed, p.InFlight
			}
		}
		t.Fatalf("no position with %s: %s", peer, out)
		return "", ""
	}
	euOwed, euFlight := position(h.root, h.o["us"]["accounting_url"])
	usOwed, usFlight := position(h.usroot, h.o["eu"]["accounting_url"])
	if euOwed != "12.000000" || usOwed != "-12.000000" || euFlight != "0.000000" || usFlight != "0.000000" {
		t.Fatalf("settlement positions after the holds: eu owes %s (in flight %s), us owes %s (in flight %s)", euOwed, euFlight, usOwed, usFlight)
	}
}
