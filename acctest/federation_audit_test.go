package acctest

import (
	"math/big"
	"testing"
)

// fedAudits runs `acquire account audit` on both regions' accounting
// services as their admins would, at the end of the federation story:
// both must be clean (exit 0, no anomaly, balances summing to zero), at
// rest (nothing in flight) and mirrored: eu's position with us is exactly
// minus us's position with eu. A user who is not an admin is refused.
func fedAudits(t *testing.T, o map[string]map[string]string, alice, euRoot, usroot *cli) {
	t.Helper()
	euO, usO := o["eu"], o["us"]
	// A user who is no admin of eu's accounting is refused.
	out, _, code := alice.run("", "account", "audit", "-o", "json")
	assertError(t, out, code, 1, "PermissionError")
	type audit struct {
		Clean  bool `json:"clean"`
		Ledger struct {
			Accounts  int      `json:"accounts"`
			Transfers int      `json:"transfers"`
			Total     string   `json:"total"`
			Anomalies []string `json:"anomalies"`
		} `json:"ledger"`
		Positions []struct {
			Peer     string `json:"peer"`
			Owed     string `json:"owed"`
			InFlight string `json:"in_flight"`
		} `json:"positions"`
	}
	owed := map[string]*big.Rat{}
	for _, side := range []struct {
		name, peer string
		c          *cli
	}{{"eu", usO["accounting_url"], euRoot}, {"us", euO["accounting_url"], usroot}} {
		var a audit
		side.c.mustJSON("", &a, "account", "audit") // exit 0: clean
		if !a.Clean || len(a.Ledger.Anomalies) != 0 || a.Ledger.Total != "0.000000" || a.Ledger.Transfers == 0 {
			t.Fatalf("%s's audit: %+v", side.name, a)
		}
		for _, p := range a.Positions {
			if p.Peer != side.peer {
				continue
			}
			if p.InFlight != "0.000000" {
				t.Fatalf("%s has %s in flight to %s after the story", side.name, p.InFlight, p.Peer)
			}
			if owed[side.name], _ = new(big.Rat).SetString(p.Owed); owed[side.name] == nil {
				t.Fatalf("%s's position %q", side.name, p.Owed)
			}
		}
		if owed[side.name] == nil {
			t.Fatalf("%s's audit shows no position with %s: %+v", side.name, side.peer, a.Positions)
		}
		t.Logf("%s's audit: clean, %d accounts, %d transfers, owes %s", side.name, a.Ledger.Accounts, a.Ledger.Transfers, owed[side.name].FloatString(6))
	}
	if owed["eu"].Sign() == 0 || new(big.Rat).Add(owed["eu"], owed["us"]).Sign() != 0 {
		t.Fatalf("positions do not mirror: eu owes us %s, us owes eu %s", owed["eu"].FloatString(6), owed["us"].FloatString(6))
	}
}
