package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openacquire/acquire/runtime/crypto"
	"github.com/openacquire/acquire/runtime/identity"
	"github.com/openacquire/acquire/runtime/service"
	"github.com/openacquire/acquire/runtime/store"
)

const testPassword = "correct horse battery staple"

// testClock is shared by the in-process identity service and the CLI. It
// starts one second into a fresh 30 s TOTP step, so a test has 29 s before
// the codes it computed change; Advance moves to later steps.
type testClock struct {
	mu  sync.Mutex
	off time.Duration
}

func newTestClock() *testClock {
	now := time.Now()
	step := 30 * time.Second
	return &testClock{off: step - time.Duration(now.UnixNano()%int64(step)) + time.Second}
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.off)
}

// NextStep moves the clock to one second into the next TOTP step.
func (c *testClock) NextStep() {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := time.Now().Add(c.off)
	step := 30 * time.Second
	c.off += step - time.Duration(now.UnixNano()%int64(step)) + time.Second
}

// cli is an identity service on httptest and a wallet folder for the CLI.
type cli struct {
	t     *testing.T
	url   string
	dir   string
	clock *testClock
	env   map[string]string
	svc   *swapHandler
}

// swapHandler lets a test replace the service behind a URL.
type swapHandler struct {
	mu sync.Mutex
	h  http.Handler
}

func (s *swapHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	h := s.h
	s.mu.Unlock()
	h.ServeHTTP(w, r)
}

func newCLI(t *testing.T) *cli {
	t.Helper()
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	c := &cli{t: t, url: srv.URL + "/identity", dir: filepath.Join(t.TempDir(), "acquire"), clock: newTestClock(),
		env: map[string]string{}, svc: &swapHandler{}}
	c.newService("mem://clitest-" + t.Name())
	mux.Handle("/identity", c.svc)
	return c
}

// newService puts a fresh identity service, on its own store, at c.url.
func (c *cli) newService(storeURL string) {
	c.t.Helper()
	ctx := context.Background()
	b, err := store.Open(ctx, storeURL)
	if err != nil {
		c.t.Fatal(err)
	}
	svc, err := service.New(ctx, service.Config{Kind: "identity", URL: c.url, Bucket: b,
		Secret: "Cli-Test-Service-Secret-123", Clock: c.clock.Now, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		c.t.Fatal(err)
	}
	identity.New(svc, identity.Options{Password: crypto.PasswordParams{MemoryKiB: 19456, Passes: 2, Lanes: 1, SaltBytes: 16, KeyBytes: 32}})
	c.svc.mu.Lock()
	c.svc.h = svc
	c.svc.mu.Unlock()
}

// other returns a CLI with its own wallet on the same service.
func (c *cli) other() *cli {
	return &cli{t: c.t, url: c.url, dir: filepath.Join(c.t.TempDir(), "acquire"), clock: c.clock, env: map[string]string{}, svc: c.svc}
}

type result struct {
	code           int
	stdout, stderr string
}

func (c *cli) run(stdin string, args ...string) result {
	c.t.Helper()
	var out, errb bytes.Buffer
	getenv := func(k string) string { return c.env[k] }
	g := newGlobals(strings.NewReader(stdin), &out, &errb, getenv, c.clock.Now)
	full := append([]string{"--config-dir", c.dir, "--identity", c.url}, args...)
	code := execute(g, full)
	return result{code: code, stdout: out.String(), stderr: errb.String()}
}

// runJSON runs with -o json and decodes stdout.
func (c *cli) runJSON(stdin string, args ...string) (int, map[string]any) {
	c.t.Helper()
	r := c.run(stdin, append(args, "-o", "json")...)
	var m map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &m); err != nil {
		c.t.Fatalf("%v: stdout is not one JSON object: %v\nstdout: %s\nstderr: %s", args, err, r.stdout, r.stderr)
	}
	return r.code, m
}

func (c *cli) mustJSON(stdin string, args ...string) map[string]any {
	c.t.Helper()
	code, m := c.runJSON(stdin, args...)
	if code != 0 {
		c.t.Fatalf("%v: exit %d: %v", args, code, m)
	}
	return m
}

// wantError checks a JSON error's exit code and class.
func (c *cli) wantError(wantCode int, wantClass, stdin string, args ...string) {
	c.t.Helper()
	code, m := c.runJSON(stdin, args...)
	e, _ := m["error"].(map[string]any)
	if code != wantCode || e == nil || e["class"] != wantClass {
		c.t.Fatalf("%v: got exit %d %v; want exit %d class %s", args, code, m, wantCode, wantClass)
	}
	if msg, _ := e["message"].(string); msg == "" || len(m) != 1 || len(e) != 2 {
		c.t.Fatalf("%v: error JSON shape %v", args, m)
	}
}

func (c *cli) code(secret string) string {
	c.t.Helper()
	code, err := crypto.TOTPCode(secret, c.clock.Now())
	if err != nil {
		c.t.Fatal(err)
	}
	return code
}

func (c *cli) register(username string) (secret string, reg map[string]any) {
	c.t.Helper()
	reg = c.mustJSON(testPassword+"\n", "user", "register", "--username", username, "--password-stdin")
	u, err := url.Parse(reg["provisioning_uri"].(string))
	if err != nil {
		c.t.Fatal(err)
	}
	secret = u.Query().Get("secret")
	if secret == "" {
		c.t.Fatalf("no secret in %v", reg["provisioning_uri"])
	}
	return secret, reg
}

func keys(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestEndToEnd(t *testing.T) {
	t.Parallel()
	c := newCLI(t)
	secret, reg := c.register("alice")
	if len(reg) != 4 || reg["username"] != "alice" || reg["user_uid"] == "" {
		t.Fatalf("register JSON has keys %v: %v", keys(reg), reg)
	}
	if codes, _ := reg["recovery_codes"].([]any); len(codes) != identity.RecoveryCodeCount {
		t.Fatalf("register gave %d recovery codes", len(codes))
	}
	if !strings.HasPrefix(reg["provisioning_uri"].(string), "otpauth://totp/") {
		t.Fatalf("provisioning URI %v", reg["provisioning_uri"])
	}
	c.wantError(exitNotFound, "AlreadyExistsError", testPassword+"\n", "user", "register", "-u", "alice", "--password-stdin")

	// otp code prints the code the authenticator would show.
	want := c.code(secret)
	for _, args := range [][]string{
		{"otp", "code", "--secret", secret},
		{"otp", "code", "--uri", reg["provisioning_uri"].(string)},
		{"otp", "code", "--secret", strings.ToLower(secret[:8]) + " " + secret[8:]},
	} {
		if r := c.run("", args...); r.code != 0 || r.stdout != want+"\n" {
			t.Fatalf("%v: exit %d, %q (stderr %q); want %q", args, r.code, r.stdout, r.stderr, want)
		}
	}
	if r := c.run(secret+"\n", "otp", "code", "--secret-stdin"); r.stdout != want+"\n" {
		t.Fatalf("otp code --secret-stdin: %q %q", r.stdout, r.stderr)
	}

	// Log in, password from the environment.
	c.env[envPassword] = testPassword
	login := c.mustJSON("", "user", "login", "-u", "alice", "--otp", want, "--label", "laptop")
	sessionUID, _ := login["session_uid"].(string)
	if sessionUID == "" || login["username"] != "alice" || login["user_uid"] != reg["user_uid"] || login["identity_url"] != c.url {
		t.Fatalf("login JSON %v", login)
	}
	delete(c.env, envPassword)

	who := c.mustJSON("", "user", "whoami")
	if who["username"] != "alice" || who["session_uid"] != sessionUID || who["status"] != "approved" ||
		who["label"] != "laptop" || who["is_admin"] != false {
		t.Fatalf("whoami JSON %v", who)
	}
	if r := c.run("", "user", "whoami"); r.code != 0 || !strings.Contains(r.stdout, "alice") || !strings.Contains(r.stdout, sessionUID) {
		t.Fatalf("whoami text: %d %q %q", r.code, r.stdout, r.stderr)
	}

	list := c.mustJSON("", "user", "sessions")
	sessions, _ := list["sessions"].([]any)
	found := false
	for _, s := range sessions {
		s := s.(map[string]any)
		if s["session_uid"] == sessionUID {
			found = s["current"] == true && s["status"] == "approved"
		}
	}
	if !found {
		t.Fatalf("sessions does not list the current session: %v", list)
	}
	r := c.run("", "user", "sessions")
	if r.code != 0 || !strings.Contains(r.stdout, "STATUS") {
		t.Fatalf("sessions text: %q %q", r.stdout, r.stderr)
	}
	marked := false
	for _, line := range strings.Split(r.stdout, "\n") {
		marked = marked || (strings.HasPrefix(line, "*") && strings.Contains(line, sessionUID))
	}
	if !marked {
		t.Fatalf("current session not marked:\n%s", r.stdout)
	}

	checkWalletFiles(t, c.dir, testPassword, secret)

	// Failures, all within the step of the code used above.
	c.wantError(exitAuth, "PasswordError", "wrong password!\n", "user", "login", "-u", "alice", "--otp", want, "--password-stdin")
	c.wantError(exitAuth, "OTPReusedError", testPassword+"\n", "user", "login", "-u", "alice", "--otp", want, "--password-stdin")
	// An unknown username answers as a wrong password does: no oracle of who exists.
	c.wantError(exitAuth, "PasswordError", testPassword+"\n", "user", "login", "-u", "nobody", "--otp", want, "--password-stdin")
	wrong := "000000"
	if want == wrong {
		wrong = "111111"
	}
	c.wantError(exitAuth, "OTPError", testPassword+"\n", "user", "login", "-u", "alice", "--otp", wrong, "--password-stdin")

	// The failed logins left the saved session alone.
	if got := c.mustJSON("", "user", "whoami"); got["session_uid"] != sessionUID {
		t.Fatalf("whoami after failed logins: %v", got)
	}

	out := c.mustJSON("", "user", "logout")
	if out["session_uid"] != sessionUID || out["status"] != "logged_out" {
		t.Fatalf("logout JSON %v", out)
	}
	c.wantError(exitAuth, "SessionClosedError", "", "user", "whoami")
	r = c.run("", "user", "whoami")
	if r.code != exitAuth || !strings.HasPrefix(r.stderr, "error: SessionClosedError: ") || r.stdout != "" {
		t.Fatalf("whoami text after logout: %d %q %q", r.code, r.stdout, r.stderr)
	}
	b, err := os.ReadFile(filepath.Join(c.dir, "wallet.json"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "PRIVATE KEY") {
		t.Fatal("logout left the session keys in the wallet")
	}
	checkWalletFiles(t, c.dir, testPassword, secret)
}

// checkWalletFiles checks modes and that no secret is stored in clear.
func checkWalletFiles(t *testing.T, dir string, secrets ...string) {
	t.Helper()
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if d.IsDir() {
			if info.Mode().Perm() != 0o700 {
				t.Errorf("%s: mode %v, want 0700", path, info.Mode().Perm())
			}
			return nil
		}
		if info.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, want 0600", path, info.Mode().Perm())
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		s := string(b)
		if strings.Count(s, "PRIVATE KEY-----") != strings.Count(s, "ENCRYPTED PRIVATE KEY-----") {
			t.Errorf("%s holds an unencrypted private key", path)
		}
		for _, secret := range secrets {
			if strings.Contains(s, secret) {
				t.Errorf("%s holds a secret in clear", path)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "wallet.json")); err != nil {
		t.Fatal(err)
	}
}

func TestLoginSavesEncryptedSession(t *testing.T) {
	t.Parallel()
	c := newCLI(t)
	secret, _ := c.register("erin")
	c.mustJSON(testPassword+"\n", "user", "login", "-u", "erin", "--otp", c.code(secret), "--password-stdin")
	b, err := os.ReadFile(filepath.Join(c.dir, "wallet.json"))
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(b), "-----BEGIN ENCRYPTED PRIVATE KEY-----"); n != 2 {
		t.Fatalf("wallet holds %d encrypted keys, want 2", n)
	}
	checkWalletFiles(t, c.dir, testPassword, secret)

	// With a wallet passphrase there is no wallet key file, and the session
	// needs the passphrase.
	p := c.other()
	p.env["ACQUIRE_WALLET_PASSPHRASE"] = "my wallet passphrase"
	c.clock.NextStep()
	p.mustJSON(testPassword+"\n", "user", "login", "-u", "erin", "--otp", p.code(secret), "--password-stdin")
	if _, err := os.Stat(filepath.Join(p.dir, "wallet.key")); !os.IsNotExist(err) {
		t.Fatalf("passphrase wallet has a wallet.key: %v", err)
	}
	p.mustJSON("", "user", "whoami")
	checkWalletFiles(t, p.dir, testPassword, secret, "my wallet passphrase")
	delete(p.env, "ACQUIRE_WALLET_PASSPHRASE")
	p.wantError(exitError, classWallet, "", "user", "whoami")
}

func TestRecoveryCode(t *testing.T) {
	t.Parallel()
	c := newCLI(t)
	_, reg := c.register("frank")
	code := reg["recovery_codes"].([]any)[0].(string)
	login := c.mustJSON(testPassword+"\n", "user", "login", "-u", "frank", "--recovery-code", code, "--password-stdin")
	if login["recovery_codes_left"] != float64(identity.RecoveryCodeCount-1) {
		t.Fatalf("login with a recovery code: %v", login)
	}
	c.wantError(exitAuth, "OTPError", testPassword+"\n", "user", "login", "-u", "frank", "--recovery-code", code, "--password-stdin")
}

func TestRememberedDevice(t *testing.T) {
	t.Parallel()
	c := newCLI(t)
	secret, _ := c.register("bob")
	login := c.mustJSON(testPassword+"\n", "user", "login", "-u", "bob", "--otp", c.code(secret), "--password-stdin",
		"--remember-device", "--device-label", "test box")
	if login["device_remembered"] != true || login["device_uid"] == "" {
		t.Fatalf("login --remember-device: %v", login)
	}
	// No code given and no terminal: the wallet's device makes the code,
	// twice in the same step (the second uses the next step's code).
	for i := range 2 {
		again := c.mustJSON(testPassword+"\n", "user", "login", "-u", "bob", "--password-stdin")
		if again["device_uid"] != login["device_uid"] || again["session_uid"] == login["session_uid"] {
			t.Fatalf("device login %d: %v", i, again)
		}
	}
	// Each login logged out the session it replaced.
	approved := 0
	for _, s := range c.mustJSON("", "user", "sessions")["sessions"].([]any) {
		s := s.(map[string]any)
		switch {
		case s["status"] == "approved" && s["current"] == true:
			approved++
		case s["status"] != "logged_out":
			t.Fatalf("replaced session not logged out: %v", s)
		}
	}
	if approved != 1 {
		t.Fatalf("%d current approved sessions", approved)
	}
	checkWalletFiles(t, c.dir, testPassword, secret)
	// Another wallet has no device and no terminal to ask for a code.
	c.other().wantError(exitUsage, classUsage, testPassword+"\n", "user", "login", "-u", "bob", "--password-stdin")
}

func TestRevokeAnotherSession(t *testing.T) {
	t.Parallel()
	a := newCLI(t)
	secret, _ := a.register("carol")
	la := a.mustJSON(testPassword+"\n", "user", "login", "-u", "carol", "--otp", a.code(secret), "--password-stdin")
	b := a.other()
	a.clock.NextStep()
	lb := b.mustJSON(testPassword+"\n", "user", "login", "-u", "carol", "--otp", b.code(secret), "--password-stdin")

	list := a.mustJSON("", "user", "sessions")
	if n := len(list["sessions"].([]any)); n != 2 {
		t.Fatalf("%d sessions listed, want 2", n)
	}
	rev := a.mustJSON("", "user", "revoke", lb["session_uid"].(string))
	if rev["status"] != "revoked" || rev["session_uid"] != lb["session_uid"] {
		t.Fatalf("revoke JSON %v", rev)
	}
	// b learns from the service that its session is over, and forgets the keys.
	b.wantError(exitAuth, "SessionClosedError", "", "user", "whoami")
	wb, _ := os.ReadFile(filepath.Join(b.dir, "wallet.json"))
	if strings.Contains(string(wb), "PRIVATE KEY") {
		t.Fatal("a session the service closed kept its keys")
	}
	// Revoking the own session works like logout.
	a.mustJSON("", "user", "revoke", la["session_uid"].(string))
	a.wantError(exitAuth, "SessionClosedError", "", "user", "whoami")
	a.wantError(exitAuth, "SessionClosedError", "", "user", "revoke", lb["session_uid"].(string))
}

// Wrong passwords never lock an account (whoever knows a username could
// keep its owner out); wrong one-time codes, which need the password, lock
// the code.
func TestLockout(t *testing.T) {
	t.Parallel()
	c := newCLI(t)
	secret, _ := c.register("dave")
	for range identity.FreeFailures + 2 {
		c.wantError(exitAuth, "PasswordError", "not the password\n", "user", "login", "-u", "dave", "--otp", c.code(secret), "--password-stdin")
	}
	for i := 0; ; i++ {
		wrong := "000000"
		if c.code(secret) == wrong {
			wrong = "111111"
		}
		code, m := c.runJSON(testPassword+"\n", "user", "login", "-u", "dave", "--otp", wrong, "--password-stdin")
		class := m["error"].(map[string]any)["class"]
		if code == exitLocked && class == "AccountLockedError" {
			break
		}
		// The first is still answered quietly (PasswordError) after the wrong passwords.
		if code != exitAuth || (class != "OTPError" && class != "PasswordError") || i > identity.FreeFailures+2 {
			t.Fatalf("attempt %d: exit %d %v", i, code, m)
		}
	}
}

func TestNotLoggedIn(t *testing.T) {
	t.Parallel()
	c := newCLI(t)
	for _, cmd := range [][]string{{"user", "whoami"}, {"user", "logout"}, {"user", "sessions"}, {"user", "revoke", "x"}} {
		c.wantError(exitAuth, classNotLoggedIn, "", cmd...)
	}
	if _, err := os.Stat(c.dir); !os.IsNotExist(err) {
		t.Fatalf("commands that only read made the wallet folder: %v", err)
	}
}

func TestUsageErrors(t *testing.T) {
	t.Parallel()
	c := newCLI(t)
	cases := [][]string{
		{"--bogus"},
		{"nosuchcommand"},
		{"user"},
		{"user", "nosuch"},
		{"user", "whoami", "extra"},
		{"user", "revoke"},
		{"user", "login"},
		{"user", "login", "-u", "x", "--otp", "1", "--recovery-code", "2"},
		{"user", "register"},
		{"otp", "code"},
		{"otp", "code", "--secret", "not base32 !"},
		{"otp", "code", "--secret", "JBSWY3DPEHPK3PXP", "--uri", "otpauth://totp/x?secret=JBSWY3DPEHPK3PXP"},
		{"otp", "code", "--secret", "JBSWY3DPEHPK3PXP", "--time", "yesterday"},
		{"otp", "code", "--uri", "otpauth://hotp/x?secret=JBSWY3DPEHPK3PXP"},
		{"--timeout", "0s", "user", "whoami"},
		{"--log-level", "loud", "user", "whoami"},
		{"cluster", "agent", "lab", "--job-memory-mb", "1"},
		{"cluster", "agent", "lab", "--job-cpu-s", "-1"},
		{"cluster", "agent", "lab", "--job-open-files", "3"},
		{"cluster", "agent", "lab", "--job-file-mb", "2000000000"},
		{"host", "--job-lease-s", "1"},
		{"host", "--job-lease-s", "3601"},
	}
	for _, args := range cases {
		c.wantError(exitUsage, classUsage, "", args...)
		r := c.run("", args...)
		if r.code != exitUsage || !strings.HasPrefix(r.stderr, "error: UsageError: ") || r.stdout != "" {
			t.Errorf("%v text: exit %d stdout %q stderr %q", args, r.code, r.stdout, r.stderr)
		}
	}
	// No password source at all (stdin is not a terminal).
	c.wantError(exitUsage, classUsage, "", "user", "login", "-u", "alice", "--otp", "123456")
	c.wantError(exitUsage, classUsage, "", "user", "login", "-u", "alice", "--otp", "123456", "--password-stdin")
	// A destination given as an argument is answered with the flag for it.
	for _, args := range [][]string{{"file", "download", "docs", "b", "out.txt"}, {"par", "get", "LINK", "b", "out.txt"}} {
		if r := c.run("", args...); r.code != exitUsage || !strings.Contains(r.stderr, "-O out.txt") {
			t.Errorf("%v: exit %d stderr %q", args, r.code, r.stderr)
		}
	}
	if r := c.run("", "--output", "yaml", "user", "whoami"); r.code != exitUsage || !strings.Contains(r.stderr, "--output") {
		t.Fatalf("--output yaml: %d %q", r.code, r.stderr)
	}
	if r := c.run("", "--help"); r.code != 0 || !strings.Contains(r.stdout, "Exit codes:") {
		t.Fatalf("--help: %d %q", r.code, r.stdout)
	}
}

func TestUnreachable(t *testing.T) {
	t.Parallel()
	c := newCLI(t)
	srv := httptest.NewServer(http.NotFoundHandler())
	dead := srv.URL + "/identity"
	srv.Close()
	c.url = dead
	c.env[envPassword] = testPassword
	c.wantError(exitUnreachable, classTransport, "", "user", "login", "-u", "alice", "--otp", "123456")
	c.wantError(exitUnreachable, classTransport, "", "user", "register", "-u", "alice")
}

func TestIdentityURLPrecedence(t *testing.T) {
	t.Parallel()
	g := newGlobals(strings.NewReader(""), &bytes.Buffer{}, &bytes.Buffer{}, func(string) string { return "" }, time.Now)
	g.configDir = t.TempDir()
	if u, err := g.identity(); err != nil || u != defaultIdentityURL {
		t.Fatalf("default identity URL %q %v", u, err)
	}
	w, _ := g.wallet()
	if err := w.SetIdentityURL("http://from-wallet/identity"); err != nil {
		t.Fatal(err)
	}
	if u, _ := g.identity(); u != "http://from-wallet/identity" {
		t.Fatalf("wallet identity URL not used: %q", u)
	}
	g.getenv = func(k string) string {
		if k == envIdentityURL {
			return "http://from-env/identity"
		}
		return ""
	}
	if u, _ := g.identity(); u != "http://from-env/identity" {
		t.Fatalf("env identity URL not used: %q", u)
	}
	g.identityURL = "http://from-flag/identity"
	if u, _ := g.identity(); u != "http://from-flag/identity" {
		t.Fatalf("flag identity URL not used: %q", u)
	}
	g.identityURL = "ftp://x"
	if _, err := g.identity(); err == nil {
		t.Fatal("ftp identity URL accepted")
	}
}

// RFC 6238 appendix B, SHA-1: the secret is ASCII "12345678901234567890".
func TestOTPCodeRFC6238(t *testing.T) {
	t.Parallel()
	const secret = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
	var out, errb bytes.Buffer
	code := run([]string{"otp", "code", "--secret", secret, "--time", "1970-01-01T00:00:59Z"}, strings.NewReader(""), &out, &errb)
	if code != 0 || out.String() != "287082\n" {
		t.Fatalf("exit %d %q %q", code, out.String(), errb.String())
	}
	out.Reset()
	uri := "otpauth://totp/x?secret=" + secret + "&digits=8"
	code = run([]string{"otp", "code", "--uri", uri, "--time", "2005-03-18T01:58:29Z", "-o", "json"}, strings.NewReader(""), &out, &errb)
	var m map[string]any
	if code != 0 || json.Unmarshal(out.Bytes(), &m) != nil || m["code"] != "07081804" ||
		m["valid_from"] != "2005-03-18T01:58:00Z" || m["valid_until"] != "2005-03-18T01:58:30Z" {
		t.Fatalf("exit %d %q %q", code, out.String(), errb.String())
	}
}

// The first call pins the service's certificate; a service set up afresh
// at the same URL is refused until its pin is dropped.
func TestPinnedCertificate(t *testing.T) {
	t.Parallel()
	c := newCLI(t)
	secret, _ := c.register("gina")
	c.mustJSON(testPassword+"\n", "user", "login", "-u", "gina", "--otp", c.code(secret), "--password-stdin")
	show := c.mustJSON("", "wallet", "show")
	pins, _ := show["pins"].(map[string]any)
	if pins[c.url] == nil || show["identity_url"] != c.url || len(show["sessions"].([]any)) != 1 {
		t.Fatalf("wallet show: %v", show)
	}
	if r := c.run("", "wallet", "show"); r.code != 0 || strings.Contains(r.stdout, "PRIVATE KEY") || !strings.Contains(r.stdout, "gina") {
		t.Fatalf("wallet show text: %q", r.stdout)
	}

	c.newService("mem://clitest-" + t.Name() + "-impostor")
	c.wantError(exitError, "SignatureError", "", "user", "whoami")
	if r := c.run("", "user", "whoami"); !strings.Contains(r.stderr, "acquire wallet unpin") {
		t.Fatalf("no unpin hint: %q", r.stderr)
	}
	un := c.mustJSON("", "wallet", "unpin", c.url)
	if un["fingerprint"] != pins[c.url] {
		t.Fatalf("unpin: %v", un)
	}
	c.wantError(exitNotFound, "NotFoundError", "", "wallet", "unpin", c.url)
	// The new service trusts the new certificate but knows nothing of the session.
	c.wantError(exitAuth, "SessionError", "", "user", "whoami")
}
