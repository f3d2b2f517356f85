package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"

	"github.com/openacquire/acquire/runtime/call"
	"github.com/openacquire/acquire/runtime/compute"
	"github.com/openacquire/acquire/runtime/compute/agent"
	"github.com/openacquire/acquire/runtime/crypto"
	"github.com/openacquire/acquire/runtime/identity"
	"github.com/openacquire/acquire/runtime/web/browsertest"
)

func TestMain(m *testing.M) {
	webPollInterval = 100 * time.Millisecond
	os.Exit(browsertest.Main(m))
}

// lockedBuffer is a buffer a running command writes while the test reads.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// start runs the CLI in the background; the result arrives on the channel.
func (c *cli) start(args ...string) (stdout, stderr *lockedBuffer, done <-chan int) {
	stdout, stderr = &lockedBuffer{}, &lockedBuffer{}
	ch := make(chan int, 1)
	getenv := func(k string) string { return c.env[k] }
	g := newGlobals(strings.NewReader(""), stdout, stderr, getenv, c.clock.Now)
	full := append([]string{"--config-dir", c.dir, "--identity", c.url}, args...)
	go func() { ch <- execute(g, full) }()
	return stdout, stderr, ch
}

var loginURLPattern = regexp.MustCompile(`http://\S+/identity/web/login#session=([0-9a-f]+)`)

// waitForURL reads the login page's URL from what the CLI prints.
func waitForURL(t *testing.T, out *lockedBuffer) (string, string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if m := loginURLPattern.FindStringSubmatch(out.String()); m != nil {
			return m[0], m[1]
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("the CLI printed no login URL: %q", out.String())
	return "", ""
}

// waitForOutput reports whether out comes to hold want within 30 s: the
// CLI writes its prompt in several writes (URL, QR code, short code), so a
// reader that found the first may be ahead of the rest.
func waitForOutput(out *lockedBuffer, want string) bool {
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if strings.Contains(out.String(), want) {
			return true
		}
	}
	return false
}

// pageText waits until the element's text contains want and returns it.
func pageText(t *testing.T, ctx context.Context, sel, want string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	var got string
	for {
		txt, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		if err == nil {
			got = txt
			if strings.Contains(txt, want) {
				return txt
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s never showed %q; it shows %q", sel, want, got)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func do(t *testing.T, ctx context.Context, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatal(err)
	}
}

// fill types the login form's fields and submits it.
func fillLogin(t *testing.T, ctx context.Context, username, password, otp, recovery string) {
	t.Helper()
	steps := []chromedp.Action[chromedp.Void]{chromedp.WaitEnabled(chromedp.CSS("#submit"))}
	fields := map[string]string{"#username": username, "#password": password, "#otp": otp, "#recovery": recovery}
	if username == "" {
		delete(fields, "#username") // the page filled it in from the request
	}
	for sel, v := range fields {
		steps = append(steps, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := chromedp.Evaluate[bool](`(document.querySelector("`+sel+`").value = "") === ""`)(ctx, tg)
			return err
		}))
		if v != "" {
			steps = append(steps, chromedp.SendKeys(chromedp.CSS(sel), v))
		}
	}
	steps = append(steps, chromedp.Click(chromedp.CSS("#submit")))
	do(t, ctx, steps...)
}

// waitJS waits until a page expression is true.
func waitJS(t *testing.T, ctx context.Context, expr, what string) {
	t.Helper()
	for deadline := time.Now().Add(60 * time.Second); !evalJS[bool](t, ctx, expr); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("never: %s", what)
		}
	}
}

func evalJS[T any](t *testing.T, ctx context.Context, expr string) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("%s: %v", expr, err)
	}
	return v
}

// TestWebLoginFromCLI: 'user login --web' prints a URL and a short code
// and waits; a real browser opens the page, shows the code, and approves
// with the password and a one-time code; the CLI saves the session and its
// next call works. The password never passes through the CLI.
func TestWebLoginFromCLI(t *testing.T) {
	t.Parallel()
	c, _ := newHostCLIWith(t, hostOptions{})
	secret, _ := c.register("alice")
	tab := browsertest.Tab(t)

	stdout, stderr, done := c.start("user", "login", "-u", "alice", "--web", "--label", "laptop-cli", "-o", "json")
	link, sessionUID := waitForURL(t, stderr)
	if !waitForOutput(stderr, "Short code: "+sessionUID[:8]) {
		t.Fatalf("no short code in %q", stderr.String())
	}
	if !strings.Contains(stderr.String(), "█") && !strings.Contains(stderr.String(), "▀") {
		t.Fatalf("no QR code drawn: %q", stderr.String())
	}

	start := time.Now()
	do(t, tab, chromedp.Navigate(link))
	pageText(t, tab, "#req-code", sessionUID[:8])
	pageText(t, tab, "#req-label", "laptop-cli")
	pageText(t, tab, "#req-status", "pending")
	browsertest.Screenshot(t, tab, "login-approve")
	fillLogin(t, tab, "", testPassword, c.code(secret), "")
	pageText(t, tab, "#message", "Approved")
	approved := time.Since(start)
	browsertest.Screenshot(t, tab, "login-approved")

	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("login --web exit %d: %s %s", code, stdout, stderr)
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("the CLI did not notice the approval: %s", stderr)
	}
	var login map[string]any
	if err := json.Unmarshal([]byte(stdout.String()), &login); err != nil || login["session_uid"] != sessionUID {
		t.Fatalf("login JSON %q: %v", stdout, err)
	}
	who := c.mustJSON("", "user", "whoami")
	if who["session_uid"] != sessionUID || who["username"] != "alice" || who["label"] != "laptop-cli" {
		t.Fatalf("whoami after web login: %v", who)
	}
	crypto := evalJS[[]map[string]any](t, tab, `window.acquire.timings`)
	t.Logf("timing: page load to approved session %v (page's own count %s ms); browser crypto per call: %s",
		approved.Round(time.Millisecond), evalJS[string](t, tab, `document.body.dataset.approvedMs`), cryptoSummary(crypto))
}

func cryptoSummary(ts []map[string]any) string {
	var b strings.Builder
	for _, x := range ts {
		b.WriteString(x["fn"].(string))
		b.WriteString(": pack ")
		b.WriteString(ms(x["pack_ms"]))
		b.WriteString(" ms, unpack ")
		b.WriteString(ms(x["unpack_ms"]))
		b.WriteString(" ms; ")
	}
	return b.String()
}

func ms(v any) string {
	f, _ := v.(float64)
	return strconv.FormatFloat(f, 'f', 1, 64)
}

// sessionStatus asks the service, not the page, what became of a login.
func sessionStatus(t *testing.T, c *cli, sessionUID string) string {
	t.Helper()
	id := &identity.Client{C: call.NewClient(&call.MemoryPins{}), URL: c.url}
	id.C.Clock = c.clock.Now
	info, err := id.SessionInfo(context.Background(), sessionUID)
	if err != nil {
		t.Fatal(err)
	}
	return info.Status
}

// TestWebLoginBadInputs: each bad input shows its own clear message on the
// page and leaves the login request pending, to be approved by a right
// attempt; requests that cannot be approved say why before anything is typed.
func TestWebLoginBadInputs(t *testing.T) {
	t.Parallel()
	c, _ := newHostCLIWith(t, hostOptions{})
	secret, _ := c.register("alice")
	lockSecret, _ := c.register("lockme")
	tab := browsertest.Tab(t)
	ctx := context.Background()
	id := &identity.Client{C: call.NewClient(&call.MemoryPins{}), URL: c.url}
	id.C.Clock = c.clock.Now
	request := func(user string) *identity.Session {
		t.Helper()
		s, err := id.RequestLogin(ctx, user, "bad-input-test")
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	open := func(s *identity.Session) {
		t.Helper()
		do(t, tab, chromedp.Navigate("about:blank"), chromedp.Navigate(webLoginURL(c.url, s.SessionUID)))
		pageText(t, tab, "#req-code", s.SessionUID[:8])
	}
	stillPending := func(s *identity.Session) {
		t.Helper()
		if st := sessionStatus(t, c, s.SessionUID); st != "pending" {
			t.Fatalf("after a bad attempt the request is %s, not pending", st)
		}
	}
	wrong := func(code string) string { // a code that is not this one
		return code[:5] + string(rune('0'+(code[5]-'0'+1)%10))
	}

	s := request("alice")
	open(s)
	fillLogin(t, tab, "", "not the password", c.code(secret), "")
	pageText(t, tab, "#message", "Wrong username, password or code")
	browsertest.Screenshot(t, tab, "login-wrong-password")
	stillPending(s)

	fillLogin(t, tab, "", testPassword, wrong(c.code(secret)), "")
	pageText(t, tab, "#message", "That code is not right")
	stillPending(s)

	fillLogin(t, tab, "", testPassword, "12345", "")
	pageText(t, tab, "#message", "6 digits")
	stillPending(s)

	// The code spent by another login is refused here.
	other := request("alice")
	if _, err := id.Approve(ctx, other, testPassword, identity.LoginOptions{OTP: c.code(secret)}); err != nil {
		t.Fatal(err)
	}
	fillLogin(t, tab, "", testPassword, c.code(secret), "")
	pageText(t, tab, "#message", "already used")
	browsertest.Screenshot(t, tab, "login-code-reused")
	stillPending(s)

	// The same request then approves with the next code.
	c.clock.NextStep()
	fillLogin(t, tab, "", testPassword, c.code(secret), "")
	pageText(t, tab, "#message", "Approved")

	// An approved request says so and offers nothing to type.
	open(other)
	pageText(t, tab, "#message", "already approved")
	if on := evalJS[bool](t, tab, `document.getElementById("submit").disabled`); !on {
		t.Fatal("the form of an approved request is enabled")
	}

	// An expired request says so.
	c.clock.mu.Lock()
	c.clock.off -= identity.LoginRequestTTL + time.Minute
	c.clock.mu.Unlock()
	old := request("alice")
	c.clock.mu.Lock()
	c.clock.off += identity.LoginRequestTTL + time.Minute
	c.clock.mu.Unlock()
	open(old)
	pageText(t, tab, "#message", "has expired")
	browsertest.Screenshot(t, tab, "login-expired")

	// A locked account: FreeFailures wrong codes lock the one-time code.
	for i := 0; i < identity.FreeFailures; i++ {
		l := request("lockme")
		if _, err := id.Approve(ctx, l, testPassword, identity.LoginOptions{OTP: wrong(c.code(lockSecret))}); err == nil {
			t.Fatal("a wrong code approved a login")
		}
	}
	locked := request("lockme")
	open(locked)
	fillLogin(t, tab, "", testPassword, c.code(lockSecret), "")
	pageText(t, tab, "#message", "Locked")
	browsertest.Screenshot(t, tab, "login-locked")
	stillPending(locked)
}

// TestWebRegisterConsole: register in the browser (QR code image, recovery
// codes, confirmation by the first code), land in the console, see
// accounts, a statement, drives and files; upload a 20 MB file through the
// signed chunk URLs and download it byte for byte; make and revoke a PAR;
// then a revoked session is refused by the console, which says so.
func TestWebRegisterConsole(t *testing.T) {
	t.Parallel()
	c, h := newHostCLIWith(t, hostOptions{})
	tab := browsertest.Tab(t)
	ctx := context.Background()

	do(t, tab, chromedp.Navigate(c.url+"/web/register"), chromedp.WaitEnabled(chromedp.CSS("#submit")))
	do(t, tab, chromedp.SendKeys(chromedp.CSS("#username"), "carol"), chromedp.SendKeys(chromedp.CSS("#password"), testPassword),
		chromedp.SendKeys(chromedp.CSS("#password2"), testPassword+"x"), chromedp.Click(chromedp.CSS("#submit")))
	pageText(t, tab, "#message", "The two passwords differ")
	do(t, tab, chromedp.SendKeys(chromedp.CSS("#password2"), "\b"), chromedp.Click(chromedp.CSS("#submit")))
	pageText(t, tab, "#message", "Registered carol")
	secret := evalJS[string](t, tab, `document.getElementById("secret").textContent`) // inside a closed <details>
	if n := evalJS[int](t, tab, `document.querySelectorAll("#recovery-codes li").length`); len(secret) < 16 || n != identity.RecoveryCodeCount {
		t.Fatalf("enrolment shows secret %q and %d recovery codes", secret, n)
	}
	waitJS(t, tab, `document.getElementById("qr").complete && document.getElementById("qr").naturalWidth >= 100`, "the QR code image decodes")
	browsertest.Screenshot(t, tab, "register")
	code, err := totpCode(secret, c.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	do(t, tab, chromedp.SendKeys(chromedp.CSS("#otp"), code), chromedp.Click(chromedp.CSS("#confirm")))
	pageText(t, tab, "#whoami-user", "carol")
	browserSession := evalJS[string](t, tab, `window.acquire.loadSession(`+jsString(c.url)+`).then(s => s.session_uid)`)

	// No secret in browser storage: the session's private keys are
	// non-extractable CryptoKeys; nothing stored holds the password.
	stored := evalJS[map[string]any](t, tab, `window.acquire.loadSession(`+jsString(c.url)+`).then(s => ({
		keyType: s.cert.type, certExtractable: s.cert.extractable, keyExtractable: s.key.extractable,
		text: JSON.stringify(s), local: JSON.stringify(localStorage) + JSON.stringify(sessionStorage)}))`)
	if stored["keyType"] != "private" || stored["certExtractable"] != false || stored["keyExtractable"] != false ||
		strings.Contains(stored["text"].(string), testPassword) || strings.Contains(stored["local"].(string), testPassword) {
		t.Fatalf("what the browser stores: %v", stored)
	}

	// Give carol an account with money and a drive, from the CLI (a second session of hers).
	c.clock.NextStep()
	reg := c.mustJSON(testPassword+"\n", "user", "login", "-u", "carol", "--otp", c.code(secret), "--password-stdin")
	if err := h.Accounting.AddAdmin(ctx, c.url, reg["user_uid"].(string)); err != nil {
		t.Fatal(err)
	}
	c.mustJSON("", "account", "create", "main")
	c.mustJSON("", "account", "deposit", "main", "--amount", "100", "--id", "dep-0")
	c.mustJSON("", "drive", "create", "docs")

	do(t, tab, chromedp.Reload())
	pageText(t, tab, "#accounts", "main")
	pageText(t, tab, "#accounts", "100")
	do(t, tab, chromedp.Click(chromedp.CSS(`button[aria-label="Statement of main"]`)))
	pageText(t, tab, "#statement", "100")
	pageText(t, tab, "#drive", "docs")
	pageText(t, tab, "#sessions", "(this browser)")

	// Upload 20 MB straight to the store, then download it byte for byte.
	dir := t.TempDir()
	want := make([]byte, 20<<20)
	for i := range want {
		want[i] = byte(i*7 + i>>13)
	}
	src := dir + "/big.bin"
	if err := os.WriteFile(src, want, 0o600); err != nil {
		t.Fatal(err)
	}
	do(t, tab, chromedp.SetUploadFiles(chromedp.CSS("#upload-file"), []string{src}))
	do(t, tab, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := chromedp.Evaluate[bool](`(document.getElementById("upload-name").value = "big.bin") === "big.bin"`)(ctx, tg)
		return err
	}), chromedp.Click(chromedp.CSS("#upload")))
	pageText(t, tab, "#upload-status", "Uploaded big.bin")
	if v := evalJS[float64](t, tab, `document.getElementById("upload-progress").value`); v != float64(len(want)) {
		t.Fatalf("the progress bar ends at %v of %d", v, len(want))
	}
	browsertest.Screenshot(t, tab, "console")
	downloads := t.TempDir()
	if _, err := chromedp.CallBrowser(tab, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
		Behavior: browser.SetDownloadBehaviorBehaviorAllow, DownloadPath: downloads}); err != nil {
		t.Fatal(err)
	}
	pageText(t, tab, "#files", "big.bin")
	do(t, tab, chromedp.Click(chromedp.CSS(`button[aria-label="Download big.bin"]`)))
	pageText(t, tab, "#message", "Downloaded big.bin")
	got := waitForFile(t, downloads+"/big.bin", len(want))
	if !bytes.Equal(got, want) {
		t.Fatal("the downloaded file differs from the uploaded one")
	}
	t.Logf("timing: browser upload of 20 MB %s ms, download %s ms",
		evalJS[string](t, tab, `document.body.dataset.uploadMs`), evalJS[string](t, tab, `document.body.dataset.downloadMs`))

	// A PAR: made (its link shown once), listed, revoked.
	do(t, tab, chromedp.SendKeys(chromedp.CSS("#par-name"), "big.bin"), chromedp.Click(chromedp.CSS("#par-create")))
	link := pageText(t, tab, "#par-link", "/par/")
	pageText(t, tab, "#pars", "big.bin")
	do(t, tab, chromedp.Click(chromedp.CSS(`#pars button`)))
	pageText(t, tab, "#message", "Revoked link")
	waitJS(t, tab, `document.querySelectorAll("#pars tr").length === 0`, "the revoked PAR (link "+link+") leaves the list")
	pageText(t, tab, "#jobs-title", "Jobs")

	// The CLI revokes the browser's session: the console's next call is
	// refused, and it says so and forgets the session.
	c.mustJSON("", "user", "revoke", browserSession)
	do(t, tab, chromedp.Click(chromedp.CSS("#sessions-refresh")))
	pageText(t, tab, "#message", "Your session has ended")
	browsertest.Screenshot(t, tab, "console-session-ended")
	if gone := evalJS[bool](t, tab, `window.acquire.loadSession(`+jsString(c.url)+`).then(s => s === undefined)`); !gone {
		t.Fatal("the console kept a revoked session")
	}
	do(t, tab, chromedp.Reload())
	pageText(t, tab, "#message", "not logged in")
}

func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func totpCode(secret string, now time.Time) (string, error) { return crypto.TOTPCode(secret, now) }

// waitForFile waits for the browser to finish writing a download.
func waitForFile(t *testing.T, path string, size int) []byte {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if b, err := os.ReadFile(path); err == nil && len(b) == size {
			return b
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("the browser did not save %s", path)
	return nil
}

// TestWebConsoleJobs: log this browser in on the login page itself (keys
// made in the browser), then the console lists a job that ran, shows its
// status and reads its log from the drive its output link wrote to.
func TestWebConsoleJobs(t *testing.T) {
	t.Parallel()
	alice, h := newHostCLIWith(t, hostOptions{})
	secret, reg := alice.register("alice")
	alice.mustJSON(testPassword+"\n", "user", "login", "-u", "alice", "--otp", alice.code(secret), "--password-stdin")
	ctx := context.Background()
	for _, add := range []func(context.Context, string, string) error{h.Accounting.AddAdmin, h.Access.AddAdmin, h.Compute.AddAdmin} {
		if err := add(ctx, alice.url, reg["user_uid"].(string)); err != nil {
			t.Fatal(err)
		}
	}
	alice.mustJSON("", "account", "create", "main")
	alice.mustJSON("", "account", "deposit", "main", "--amount", "100", "--id", "dep-1")
	alice.mustJSON("", "access", "resource", "set", "job", "--price", "3", "--service", "compute", "--function", "submit_job", "--hold-s", "21600")
	keyFile, _ := alice.mustJSON("", "cluster", "register", "lab")["key_file"].(string)
	alice.mustJSON("", "drive", "create", "results")
	link, _ := alice.mustJSON("", "par", "create", "results", "--mode", "write", "--expires", "2h")["link"].(string)
	id, _ := submitJSON(t, alice, 0, "job", "submit", "--account", "main", "--cluster", "lab", "--output-link", link,
		"--", "/bin/sh", "-c", "echo hello from the job")["job_id"].(string)
	key, err := clusterKey("lab", keyFile, false)
	if err != nil {
		t.Fatal(err)
	}
	c := call.NewClient(&call.MemoryPins{})
	c.Clock = alice.clock.Now
	actx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- agent.Run(actx, agent.Config{Client: &compute.AgentClient{C: c, URL: h.ServiceURL(compute.Kind), Key: key, Agent: "t"},
			WorkDir: t.TempDir(), Drive: &agent.PARDrive{C: c}, PollMin: 20 * time.Millisecond, PollMax: 50 * time.Millisecond,
			UnsandboxedSingleTenant: true})
	}()
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if st := alice.mustJSON("", "job", "status", id); st["state"] == compute.StateSucceeded && st["settled"] == true {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("job %v", st)
		}
	}
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	tab := browsertest.Tab(t)
	alice.clock.NextStep()
	do(t, tab, chromedp.Navigate(alice.url+"/web/login"))
	fillLogin(t, tab, "alice", testPassword, alice.code(secret), "")
	pageText(t, tab, "#whoami-user", "alice")
	pageText(t, tab, "#jobs", id[:8])
	pageText(t, tab, "#jobs", "succeeded")
	do(t, tab, chromedp.Click(chromedp.CSS(`button[aria-label="Status of job `+id[:8]+`"]`)))
	pageText(t, tab, "#job-detail", `"settled": true`)
	do(t, tab, chromedp.Click(chromedp.CSS(`button[aria-label="Logs of job `+id[:8]+`"]`)))
	pageText(t, tab, "#job-detail", "hello from the job")

	// Logging out ends the session at the service and in the browser.
	do(t, tab, chromedp.Click(chromedp.CSS("#logout")))
	pageText(t, tab, "#message", "Your session has ended")
	for _, s := range alice.mustJSON("", "user", "sessions")["sessions"].([]any) {
		if s := s.(map[string]any); strings.HasPrefix(s["label"].(string), "browser") && s["status"] != "logged_out" {
			t.Fatalf("the browser's session is %v after logout", s["status"])
		}
	}

	// A session past its expiry is not used: the console says so.
	alice.clock.NextStep()
	do(t, tab, chromedp.Navigate(alice.url+"/web/login"))
	fillLogin(t, tab, "alice", testPassword, alice.code(secret), "")
	pageText(t, tab, "#whoami-user", "alice")
	evalJS[bool](t, tab, `window.acquire.loadSession(`+jsString(alice.url)+`).then(s => { s.expires = "2001-01-01T00:00:00Z"; return window.acquire.saveSession(s); }).then(() => true)`)
	do(t, tab, chromedp.Reload())
	pageText(t, tab, "#message", "Your session has ended")
}

// resigner replaces the signature of every signed reply with one by
// another key: a man in the middle holding a key of its own.
type resigner struct {
	on  atomic.Bool
	key *crypto.PrivateKey
}

func (rs *resigner) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !rs.on.Load() || r.Method != http.MethodPost {
			next.ServeHTTP(w, r)
			return
		}
		rec := httptest.NewRecorder()
		next.ServeHTTP(rec, r)
		body := rec.Body.Bytes()
		var outer map[string]any
		if json.Unmarshal(body, &outer) == nil && outer["signature"] != nil {
			ct, _ := base64.StdEncoding.DecodeString(outer["data"].(string))
			sig, err := rs.key.Sign(ct)
			if err == nil {
				outer["signature"] = base64.StdEncoding.EncodeToString(sig)
				body, _ = json.Marshal(outer)
			}
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(rec.Code)
		_, _ = w.Write(body)
	})
}

// TestWebPageRefusesAnotherSigner: a reply signed by any key but the one
// the page was served with is refused, and nothing is approved; a browser
// POST from another origin is refused before any service sees it.
func TestWebPageRefusesAnotherSigner(t *testing.T) {
	t.Parallel()
	key, err := crypto.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	rs := &resigner{key: key}
	c, _ := newHostCLIWith(t, hostOptions{wrap: rs.wrap})
	c.register("alice")
	id := &identity.Client{C: call.NewClient(&call.MemoryPins{}), URL: c.url}
	id.C.Clock = c.clock.Now
	s, err := id.RequestLogin(context.Background(), "alice", "mitm-test")
	if err != nil {
		t.Fatal(err)
	}
	rs.on.Store(true)
	tab := browsertest.Tab(t)
	do(t, tab, chromedp.Navigate(webLoginURL(c.url, s.SessionUID)))
	pageText(t, tab, "#message", "Refused: the reply was not signed by the service key this page was served with")
	if on := evalJS[bool](t, tab, `document.getElementById("submit").disabled`); !on {
		t.Fatal("the form is enabled after a forged reply")
	}
	rs.on.Store(false)
	if st := sessionStatus(t, c, s.SessionUID); st != "pending" {
		t.Fatalf("the request is %s", st)
	}

	for origin, want := range map[string]int{"http://evil.example": http.StatusForbidden, "": http.StatusBadRequest} {
		req, _ := http.NewRequest(http.MethodPost, c.url, strings.NewReader("{}"))
		if origin != "" {
			req.Header.Set("Origin", origin)
			req.Header.Set("Sec-Fetch-Site", "cross-site")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("POST from origin %q: %d, want %d", origin, resp.StatusCode, want)
		}
	}
}
