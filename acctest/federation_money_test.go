package acctest

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// fedMoney moves money from alice's account at eu's ledger to usroot's at
// us's with the CLI's cross-region transfer: once with both regions up, and
// once with us's host SIGKILLed while the transfer is in flight and then
// restarted, the same --id retried until it is decided. Then it checks the
// exact balances in both ledgers, and that the two accounting services'
// settlement positions mirror each other with nothing in flight. It
// answers usroot's CLI (us's admin, logged in) and usroot's vault account.
func fedMoney(t *testing.T, o map[string]map[string]string, alice, root *cli, us *fedHost) (usroot *cli, vault string) {
	t.Helper()
	euO, usO := o["eu"], o["us"]
	usroot = &cli{t: t, config: t.TempDir(), env: []string{"ACQUIRE_IDENTITY_URL=" + usO["identity_url"],
		"ACQUIRE_ACCOUNTING_URL=" + usO["accounting_url"]}}
	waitFreshStep()
	usroot.mustJSON(examplePassword+"\n", nil, "user", "login", "-u", "usroot", "--password-stdin", "--otp", otpNow(t, enrolmentURI(t, o["us_admin_enrolment_file"]["value"])))
	var va struct {
		ID string `json:"id"`
	}
	usroot.mustJSON("", &va, "account", "create", "vault")
	vault = va.ID
	transfer := func(id, amount string) []string {
		return []string{"account", "transfer", "--from", "main", "--to", vault, "--to-service", usO["accounting_url"],
			"--amount", amount, "--id", id}
	}
	var st struct {
		State string `json:"state"`
	}
	alice.mustJSON("", &st, transfer("fed-x1", "5")...)
	if st.State != "committed" {
		t.Fatalf("the first cross-region transfer: %+v", st)
	}

	// The second: us's host is SIGKILLed while it is in flight.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, append(transfer("fed-x2", "7"), "-o", "json")...)
	cmd.Env = append(append(os.Environ(), "ACQUIRE_CONFIG_DIR="+alice.config), alice.env...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(20 * time.Millisecond)
	us.kill()
	err := cmd.Wait()
	t.Logf("the transfer in flight when us was killed ended with %v", err)
	us.start()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		out, errs, code := alice.run("", append(transfer("fed-x2", "7"), "-o", "json")...)
		if code == 0 {
			if json.Unmarshal([]byte(out), &st) != nil || st.State != "committed" {
				t.Fatalf("the retried transfer: %s", out)
			}
			break
		}
		if code != 6 || time.Now().After(deadline) {
			t.Fatalf("retrying the transfer after us restarted: exit %d\n%s\n%s", code, out, errs)
		}
		time.Sleep(500 * time.Millisecond)
	}
	// The same --id once more pays nothing more.
	alice.mustJSON("", &st, transfer("fed-x2", "7")...)

	var bal struct {
		Balance   string `json:"balance"`
		Liability string `json:"liability"`
	}
	alice.mustJSON("", &bal, "account", "balance", "main")
	if bal.Balance != "35.000000" || bal.Liability != "0.000000" {
		t.Fatalf("alice's eu account after 47 - 5 - 7 sent to us: %+v", bal)
	}
	usroot.mustJSON("", &bal, "account", "balance", "vault")
	if bal.Balance != "12.000000" {
		t.Fatalf("usroot's us account after 5 + 7 from eu: %+v", bal)
	}
	// Both accounting services agree: eu owes us nothing and us owes eu
	// nothing beyond the 12 that crossed, mirrored, with nothing in flight.
	positions := func(c *cli, peer string) (owed, inFlight string) {
		var ps struct {
			Positions []struct {
				Peer     string `json:"peer"`
				Owed     string `json:"owed"`
				InFlight string `json:"in_flight"`
			} `json:"positions"`
		}
		c.mustJSON("", &ps, "account", "settlement")
		for _, p := range ps.Positions {
			if p.Peer == peer {
				return p.Owed, p.InFlight
			}
		}
		t.Fatalf("no settlement position with %s: %+v", peer, ps)
		return "", ""
	}
	euOwed, euFlight := positions(root, usO["accounting_url"])
	usOwed, usFlight := positions(usroot, euO["accounting_url"])
	if strings.TrimPrefix(euOwed, "-") != strings.TrimPrefix(usOwed, "-") || euOwed == usOwed ||
		strings.Trim(euOwed, "-0.") == "" || euFlight != "0.000000" || usFlight != "0.000000" {
		t.Fatalf("settlement positions: eu owes %s (in flight %s), us owes %s (in flight %s)", euOwed, euFlight, usOwed, usFlight)
	}
	return usroot, vault
}
