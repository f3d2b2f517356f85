package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/openacquire/acquire/runtime/call"
	"github.com/openacquire/acquire/runtime/compute"
	"github.com/openacquire/acquire/runtime/compute/agent"
	"github.com/openacquire/acquire/runtime/host"
)

// loggedInAdmin registers alice on a whole host, logs her in, and makes
// her an admin of accounting and access, with an account "main" holding 100.
func loggedInAdmin(t *testing.T, wrap func(http.Handler) http.Handler) (*cli, *host.Host) {
	t.Helper()
	alice, h := newHostCLIWith(t, hostOptions{wrap: wrap})
	secret, reg := alice.register("alice")
	alice.mustJSON(testPassword+"\n", "user", "login", "-u", "alice", "--otp", alice.code(secret), "--password-stdin")
	uid := reg["user_uid"].(string)
	ctx := context.Background()
	for _, add := range []func(context.Context, string, string) error{h.Accounting.AddAdmin, h.Access.AddAdmin, h.Compute.AddAdmin} {
		if err := add(ctx, alice.url, uid); err != nil {
			t.Fatal(err)
		}
	}
	alice.mustJSON("", "account", "create", "main")
	alice.mustJSON("", "account", "deposit", "main", "--amount", "100", "--id", "dep-0")
	return alice, h
}

// TestInputErrorsExitUsage: every input the CLI or a service rejects as
// malformed exits 2 (UsageError or the service's own input class), with a
// message that names what was wrong, and nothing else (no raw Go errors).
func TestInputErrorsExitUsage(t *testing.T) {
	t.Parallel()
	alice, _ := loggedInAdmin(t, nil)
	alice.mustJSON("", "account", "create", "other")
	alice.mustJSON("", "drive", "create", "docs")
	src := filepath.Join(t.TempDir(), "f.txt")
	writeFile(t, src, "hello")
	alice.mustJSON("", "file", "upload", src, "docs", "f.txt")
	link := alice.mustJSON("", "par", "create", "docs", "f.txt", "--mode", "read", "--expires", "1h")["link"].(string)
	missing := filepath.Join(t.TempDir(), "no-such-folder", "x")
	cases := []struct {
		name, stdin, class, says string
		args                     []string
	}{
		{"deposit -5", "", "BadArgumentsError", "amount", []string{"account", "deposit", "main", "--amount", "-5"}},
		{"deposit 0", "", "BadArgumentsError", "amount", []string{"account", "deposit", "main", "--amount", "0"}},
		{"transfer -5", "", "BadArgumentsError", "amount", []string{"account", "transfer", "--from", "main", "--to", "other", "--amount", "-5"}},
		{"transfer 0", "", "BadArgumentsError", "amount", []string{"account", "transfer", "--from", "main", "--to", "other", "--amount", "0"}},
		{"bad username", testPassword + "\n", "UsernameError", "username", []string{"user", "register", "--username", "no spaces allowed!", "--password-stdin"}},
		{"weak password", "short\n", "WeakPasswordError", "password", []string{"user", "register", "--username", "carol", "--password-stdin"}},
		{"bad drive name", "", "InvalidNameError", "name", []string{"drive", "create", "../up"}},
		{"download -O missing folder", "", classUsage, "no-such-folder", []string{"file", "download", "docs", "f.txt", "-O", missing}},
		{"par get -O missing folder", "", classUsage, "no-such-folder", []string{"par", "get", link, "-O", missing}},
	}
	for _, tc := range cases {
		code, m := alice.runJSON(tc.stdin, tc.args...)
		e, _ := m["error"].(map[string]any)
		msg, _ := e["message"].(string)
		if code != exitUsage || e["class"] != tc.class || !strings.Contains(msg, tc.says) || strings.Contains(msg, ".part-") {
			t.Errorf("%s: exit %d %v; want exit %d class %s saying %q", tc.name, code, m, exitUsage, tc.class, tc.says)
		}
	}
	if b := alice.mustJSON("", "account", "balance", "main"); b["balance"] != "100.000000" {
		t.Fatalf("bad input moved money: %v", b)
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestLogoutTwice: logging out a session that is already over succeeds
// and says so, in JSON and in text.
func TestLogoutTwice(t *testing.T) {
	t.Parallel()
	c := newCLI(t)
	secret, _ := c.register("alice")
	c.mustJSON(testPassword+"\n", "user", "login", "-u", "alice", "--otp", c.code(secret), "--password-stdin")
	first := c.mustJSON("", "user", "logout")
	again := c.mustJSON("", "user", "logout")
	if again["session_uid"] != first["session_uid"] || again["status"] == "approved" {
		t.Fatalf("logout %v, again %v", first, again)
	}
	if r := c.run("", "user", "logout"); r.code != 0 || r.stderr != "" || !strings.Contains(r.stdout, "not logged in") {
		t.Fatalf("third logout, text: %+v", r)
	}
	// Still not logged in afterwards: whoami refuses.
	c.wantError(exitAuth, "SessionClosedError", "", "user", "whoami")
}

// replyDropper loses the replies to encrypted calls (the real ones, not
// key fetches) to one service path while on: the service does the work,
// the client never hears of it, as when a connection drops on the way back.
type replyDropper struct {
	path string
	on   atomic.Bool
}

func (d *replyDropper) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !d.on.Load() || r.Method != http.MethodPost || r.URL.Path != d.path {
			next.ServeHTTP(w, r)
			return
		}
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(strings.NewReader(string(body)))
		var env struct {
			Encrypted bool `json:"encrypted"`
		}
		if json.Unmarshal(body, &env) != nil || !env.Encrypted {
			next.ServeHTTP(w, r)
			return
		}
		next.ServeHTTP(httptest.NewRecorder(), r) // done, answer thrown away
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				_ = conn.Close()
				return
			}
		}
		panic(http.ErrAbortHandler)
	})
}

// TestRetryByIDPaysOnce: every command that offers --id, run twice with
// the same id, answers the first outcome and moves money once; and so
// does a run after one whose reply was lost.
func TestRetryByIDPaysOnce(t *testing.T) {
	t.Parallel()
	drops := map[string]*replyDropper{"/access": {path: "/access"}, "/accounting": {path: "/accounting"}}
	alice, h := loggedInAdmin(t, func(next http.Handler) http.Handler {
		return drops["/access"].wrap(drops["/accounting"].wrap(next))
	})
	jobs := startJobs(t, alice)
	main := alice.mustJSON("", "account", "create", "spend")["id"].(string)
	other := alice.mustJSON("", "account", "create", "other")["id"].(string)
	alice.mustJSON("", "account", "deposit", main, "--amount", "100", "--id", "fund-spend")
	alice.mustJSON("", "access", "resource", "set", "job/ok", "--price", "2.5", "--service", jobs, "--function", "run_job")
	alice.mustJSON("", "access", "resource", "set", "job", "--price", "3", "--service", "compute", "--function", "submit_job", "--hold-s", "21600")
	alice.mustJSON("", "cluster", "register", "lab")

	commands := []struct {
		name    string
		service string
		args    func(id string) []string
		key     string // the output field that must repeat
		spent   string // what one run takes from main (balance + liability)
	}{
		{"access request", "/access", func(id string) []string {
			return []string{"access", "request", "job/ok", "--account", main, "--max", "2.5", "--id", id}
		}, "transfer", "2.500000"},
		{"job submit", "/access", func(id string) []string {
			return []string{"job", "submit", "-o", "json", "--account", main, "--max", "3", "--cluster", "lab", "--id", id, "--", "/bin/true"}
		}, "job_id", "3.000000"},
		{"account transfer", "/accounting", func(id string) []string {
			return []string{"account", "transfer", "--from", main, "--to", other, "--amount", "1.5", "--id", id}
		}, "id", "1.500000"},
		{"account transfer --receipt-by", "/accounting", func(id string) []string {
			return []string{"account", "transfer", "--from", main, "--to", other, "--amount", "0.5", "--receipt-by", "1h", "--id", id}
		}, "id", "0.500000"},
		{"account deposit", "/accounting", func(id string) []string {
			return []string{"account", "deposit", other, "--amount", "4", "--id", id}
		}, "id", "0.000000"},
	}
	for _, tc := range commands {
		for _, lost := range []bool{false, true} {
			id := fmt.Sprintf("%s-%v", strings.ReplaceAll(tc.name, " ", "-"), lost)
			id = strings.ReplaceAll(id, "--", "")
			before := spentFrom(t, alice, main)
			var first map[string]any
			if lost {
				drops[tc.service].on.Store(true)
				code, m := alice.runJSON("", tc.args(id)...)
				drops[tc.service].on.Store(false)
				if code != exitUnreachable {
					t.Fatalf("%s with its reply lost: exit %d %v", tc.name, code, m)
				}
			} else {
				first = alice.mustJSON("", tc.args(id)...)
			}
			again := alice.mustJSON("", tc.args(id)...)
			if first != nil && (again[tc.key] != first[tc.key] || again[tc.key] == nil) {
				t.Fatalf("%s twice with --id %s: %v then %v", tc.name, id, first, again)
			}
			third := alice.mustJSON("", tc.args(id)...)
			if third[tc.key] != again[tc.key] {
				t.Fatalf("%s a third time: %v then %v", tc.name, again, third)
			}
			if got := spentFrom(t, alice, main) - before; fmt.Sprintf("%.6f", got) != tc.spent {
				t.Fatalf("%s (reply lost: %v) took %.6f from the account, want %s", tc.name, lost, got, tc.spent)
			}
		}
	}
	if b := alice.mustJSON("", "account", "balance", other); b["balance"] != "11.000000" {
		t.Fatalf("the payee's balance %v, want 11 (two transfers of 1.5, two deposits of 4)", b)
	}
	rep, err := h.Accounting.Ledger().Audit(context.Background())
	if err != nil || rep.Total != "0.000000" || len(rep.Anomalies) != 0 {
		t.Fatalf("audit %v %+v", err, rep)
	}
}

// spentFrom is what has left an account for good or on hold: minus its
// balance, plus its liability.
func spentFrom(t *testing.T, c *cli, account string) float64 {
	t.Helper()
	b := c.mustJSON("", "account", "balance", account)
	var bal, liab float64
	if _, err := fmt.Sscan(b["balance"].(string), &bal); err != nil {
		t.Fatal(err)
	}
	if _, err := fmt.Sscan(b["liability"].(string), &liab); err != nil {
		t.Fatal(err)
	}
	return liab - bal
}

// TestUnreachableFulfiller: a fulfilling service that cannot be reached is
// a typed error naming it, exit 6; when nothing was sent the payment comes
// back at once, and when it may have run the message says when it does.
func TestUnreachableFulfiller(t *testing.T) {
	t.Parallel()
	alice, _ := loggedInAdmin(t, nil)
	closed := httptest.NewServer(http.NotFoundHandler())
	refused := closed.URL + "/jobs"
	closed.Close()
	hangup := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if conn, _, err := w.(http.Hijacker).Hijack(); err == nil {
			_ = conn.Close()
		}
	}))
	t.Cleanup(hangup.Close)
	for _, tc := range []struct{ name, url string }{{"refused", refused}, {"nohost", "http://jobs.invalid/jobs"}} {
		alice.mustJSON("", "access", "resource", "set", "job/"+tc.name, "--price", "2.5", "--service", tc.url, "--function", "run_job")
		for range 2 { // a retry under the same id answers the same
			code, m := alice.runJSON("", "access", "request", "job/"+tc.name, "--account", "main", "--id", "r-"+tc.name)
			e, _ := m["error"].(map[string]any)
			msg, _ := e["message"].(string)
			if code != exitUnreachable || e["class"] != "FulfillerUnreachableError" || !strings.Contains(msg, tc.url) || !strings.Contains(msg, "refunded") {
				t.Fatalf("%s: exit %d %v", tc.name, code, m)
			}
		}
		if b := alice.mustJSON("", "account", "balance", "main"); b["balance"] != "100.000000" || b["liability"] != "0.000000" {
			t.Fatalf("%s: the payment was not refunded at once: %v", tc.name, b)
		}
	}
	alice.mustJSON("", "access", "resource", "set", "job/hangup", "--price", "2.5", "--service", hangup.URL+"/jobs", "--function", "run_job")
	code, m := alice.runJSON("", "--timeout", "5s", "access", "request", "job/hangup", "--account", "main", "--id", "r-hangup")
	e, _ := m["error"].(map[string]any)
	msg, _ := e["message"].(string)
	if code != exitUnreachable || e["class"] != "ServiceUnavailableError" || !strings.Contains(msg, hangup.URL) || !strings.Contains(msg, "returns to your account at") {
		t.Fatalf("hang-up: exit %d %v", code, m)
	}
}

// TestSessionLifeSetting: a host's session life is what its sessions last,
// so expiry can be tried in minutes; out of bounds, the host refuses it.
func TestSessionLifeSetting(t *testing.T) {
	t.Parallel()
	c, _ := newHostCLIWith(t, hostOptions{sessionLife: 2 * time.Minute})
	secret, _ := c.register("alice")
	c.mustJSON(testPassword+"\n", "user", "login", "-u", "alice", "--otp", c.code(secret), "--password-stdin")
	s := c.mustJSON("", "user", "sessions")["sessions"].([]any)[0].(map[string]any)
	approved, _ := time.Parse(time.RFC3339Nano, s["approved"].(string))
	expires, _ := time.Parse(time.RFC3339Nano, s["expires"].(string))
	if life := expires.Sub(approved); life < 119*time.Second || life > 121*time.Second {
		t.Fatalf("session from %v to %v: %v, want 2m", approved, expires, life)
	}
	c.mustJSON("", "user", "whoami")
	c.clock.advance(3 * time.Minute)
	if code, m := c.runJSON("", "user", "whoami"); code != exitAuth {
		t.Fatalf("whoami after the session's life: exit %d %v", code, m)
	}
	for _, bad := range []string{"59", "86401"} {
		c.wantError(exitUsage, classUsage, "", "host", "--session-life-s", bad)
	}
}

// TestJobCancelIsPrompt: a running job's cancel reaches its agent within
// agent.CancelCheck, not a third of the lease, and the output says what
// happens and when.
func TestJobCancelIsPrompt(t *testing.T) {
	t.Parallel()
	alice, h := loggedInAdmin(t, nil)
	alice.mustJSON("", "access", "resource", "set", "job", "--price", "3", "--service", "compute", "--function", "submit_job", "--hold-s", "21600")
	keyFile := alice.mustJSON("", "cluster", "register", "lab")["key_file"].(string)
	key, err := clusterKey("lab", keyFile, false)
	if err != nil {
		t.Fatal(err)
	}
	c := call.NewClient(&call.MemoryPins{})
	c.Clock = alice.clock.Now
	actx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- agent.Run(actx, agent.Config{Client: &compute.AgentClient{C: c, URL: h.ServiceURL(compute.Kind), Key: key, Agent: "t"},
			WorkDir: t.TempDir(), PollMin: 20 * time.Millisecond, PollMax: 50 * time.Millisecond,
			UnsandboxedSingleTenant: true}) // no launcher in this test: no sandbox, and one user's jobs
	}()
	t.Cleanup(func() { stop(); <-done })
	id := submitJSON(t, alice, 0, "job", "submit", "--account", "main", "--cluster", "lab", "--", "/bin/sleep", "120")["job_id"].(string)
	waitState := func(want string, within time.Duration) {
		t.Helper()
		deadline := time.Now().Add(within)
		for alice.mustJSON("", "job", "status", id)["state"] != want {
			if time.Now().After(deadline) {
				t.Fatalf("job %s not %s within %v", id, want, within)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	waitState(compute.StateRunning, 20*time.Second)
	time.Sleep(200 * time.Millisecond) // its first heartbeat timer is running
	r := alice.run("", "job", "cancel", id)
	if r.code != 0 || !strings.Contains(r.stdout, agent.CancelCheck.String()) || !strings.Contains(r.stdout, "refunded") {
		t.Fatalf("cancel output: %+v", r)
	}
	asked := time.Now()
	waitState(compute.StateCancelled, agent.CancelCheck+5*time.Second)
	t.Logf("cancelled %v after the request", time.Since(asked).Round(100*time.Millisecond))
	if b := alice.mustJSON("", "account", "balance", "main"); b["balance"] != "100.000000" || b["liability"] != "0.000000" {
		t.Fatalf("after the cancel: %v", b)
	}
}

// TestUserSwitch: switch makes another logged-in user of the wallet
// current; a user without a session, or with an ended one, is refused.
func TestUserSwitch(t *testing.T) {
	t.Parallel()
	c := newCLI(t)
	aSecret, _ := c.register("alice")
	bSecret, _ := c.register("bob")
	c.mustJSON(testPassword+"\n", "user", "login", "-u", "alice", "--otp", c.code(aSecret), "--password-stdin")
	c.mustJSON(testPassword+"\n", "user", "login", "-u", "bob", "--otp", c.code(bSecret), "--password-stdin")
	if w := c.mustJSON("", "user", "whoami"); w["username"] != "bob" {
		t.Fatalf("the last login is current: %v", w)
	}
	if s := c.mustJSON("", "user", "switch", "alice"); s["username"] != "alice" || s["current"] != true {
		t.Fatalf("switch %v", s)
	}
	if w := c.mustJSON("", "user", "whoami"); w["username"] != "alice" {
		t.Fatalf("after switch: %v", w)
	}
	c.wantError(exitAuth, classNotLoggedIn, "", "user", "switch", "carol")
	c.mustJSON("", "user", "logout", "-u", "bob")
	c.wantError(exitAuth, "SessionClosedError", "", "user", "switch", "bob")
	if w := c.mustJSON("", "user", "whoami"); w["username"] != "alice" {
		t.Fatalf("a refused switch changed the current user: %v", w)
	}
}
