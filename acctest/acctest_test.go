// Package acctest runs the built acquire binary as a user would: a host
// process on a local folder, and the CLI driving it through the README's
// steps.
package acctest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "acquire-acctest-bin-")
	if err != nil {
		panic(err)
	}
	// Reachable by the ordinary user some agent tests run as.
	if err := os.Chmod(dir, 0o755); err != nil { //nolint:gosec // a folder of programs
		panic(err)
	}
	binary = filepath.Join(dir, "acquire")
	build := exec.Command("go", "build", "-o", binary, "../cmd/acquire")
	build.Stdout, build.Stderr = os.Stdout, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building acquire:", err)
		os.Exit(1)
	}
	code := m.Run()
	_ = os.RemoveAll(dir)
	if providerDir != "" { // built by the examples' tests, if any ran
		_ = os.RemoveAll(providerDir)
	}
	os.Exit(code)
}

// hostProc is an `acquire host` child process.
type hostProc struct {
	cmd  *exec.Cmd
	url  string
	out  *syncBuffer // stdout and stderr, as they come
	done chan error
}

// syncBuffer is written by the stdout reader and by exec's stderr copier.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

var listening = regexp.MustCompile(`listening on (http://\S+)`)

func startHost(t *testing.T, storeDir string, extra ...string) *hostProc {
	t.Helper()
	args := append([]string{"host", "--store", "file://" + storeDir, "--addr", "127.0.0.1:0"}, extra...)
	return startHostArgs(t, args)
}

// freePort finds a loopback port for a host that must keep its URL across
// a restart.
func freePort(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = ln.Close() }()
	return ln.Addr().String()
}

// startHostArgs starts `acquire ARGS` with env added to this process's.
func startHostArgs(t *testing.T, args []string, env ...string) *hostProc {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = append(append(os.Environ(), "XDG_CONFIG_HOME="+t.TempDir()), env...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	h := &hostProc{cmd: cmd, out: &syncBuffer{}, done: make(chan error, 1)}
	cmd.Stderr = h.out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	urlc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		url := ""
		for sc.Scan() {
			line := sc.Text()
			_, _ = h.out.Write([]byte(line + "\n"))
			if m := listening.FindStringSubmatch(line); m != nil {
				url = m[1]
			}
			if strings.HasPrefix(line, "ready") {
				urlc <- url // every startup line is in h.out now
			}
		}
		h.done <- cmd.Wait()
	}()
	select {
	case h.url = <-urlc:
	case <-time.After(60 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatalf("host did not start:\n%s", h.out)
	}
	t.Cleanup(func() { h.stop(t) })
	return h
}

func (h *hostProc) stop(t *testing.T) error {
	if h.cmd.ProcessState != nil {
		return nil
	}
	_ = h.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-h.done:
		return err
	case <-time.After(20 * time.Second):
		_ = h.cmd.Process.Kill()
		t.Errorf("host did not stop on SIGTERM")
		return nil
	}
}

// cli runs the acquire CLI with a wallet folder and returns stdout, stderr
// and the exit code.
type cli struct {
	t      *testing.T
	config string
	env    []string
}

func (c *cli) run(stdin string, args ...string) (string, string, int) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Env = append(append(os.Environ(), "ACQUIRE_CONFIG_DIR="+c.config), c.env...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		c.t.Fatal(err)
	}
	return out.String(), errb.String(), code
}

func (c *cli) mustJSON(stdin string, into any, args ...string) {
	c.t.Helper()
	out, errs, code := c.run(stdin, append(args, "-o", "json")...)
	if code != 0 {
		c.t.Fatalf("acquire %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, out, errs)
	}
	if into != nil {
		if err := json.Unmarshal([]byte(out), into); err != nil {
			c.t.Fatalf("acquire %s: output is not JSON: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

// waitFreshStep sleeps, if needed, so at least 5 s remain in the current
// 30 s TOTP step: a code made now is still good when the host checks it.
func waitFreshStep() {
	if left := 30 - time.Now().Unix()%30; left < 5 {
		time.Sleep(time.Duration(left+1) * time.Second)
	}
}

type errorOut struct {
	Error struct {
		Class   string `json:"class"`
		Message string `json:"message"`
	} `json:"error"`
}

func TestReadmeUserJourney(t *testing.T) {
	h := startHost(t, t.TempDir())
	c := &cli{t: t, config: t.TempDir(), env: []string{"ACQUIRE_IDENTITY_URL=" + h.url + "/identity"}}
	const pw = "a long enough password"

	var reg struct {
		UserUID         string   `json:"user_uid"`
		ProvisioningURI string   `json:"provisioning_uri"`
		RecoveryCodes   []string `json:"recovery_codes"`
	}
	c.mustJSON(pw+"\n", &reg, "user", "register", "--username", "alice", "--password-stdin")
	u, err := url.Parse(reg.ProvisioningURI)
	if err != nil || u.Scheme != "otpauth" || u.Query().Get("secret") == "" || len(reg.RecoveryCodes) == 0 {
		t.Fatalf("register gave %+v", reg)
	}
	secret := u.Query().Get("secret")

	waitFreshStep()
	code, _, rc := c.run("", "otp", "code", "--secret", secret)
	code = strings.TrimSpace(code)
	if rc != 0 || len(code) != 6 {
		t.Fatalf("otp code gave %q, exit %d", code, rc)
	}
	// Wrong password: exit 3, typed class, and the code is not used up.
	out, _, rc := c.run("not the password\n", "user", "login", "-u", "alice", "--password-stdin", "--otp", code, "-o", "json")
	assertError(t, out, rc, 3, "PasswordError")
	c.mustJSON(pw+"\n", nil, "user", "login", "-u", "alice", "--password-stdin", "--otp", code)
	// The same code again, from another wallet: refused as reused.
	other := &cli{t: t, config: t.TempDir(), env: c.env}
	out, _, rc = other.run(pw+"\n", "user", "login", "-u", "alice", "--password-stdin", "--otp", code, "-o", "json")
	assertError(t, out, rc, 3, "OTPReusedError")
	// An unknown username answers as a wrong password does (issue 17 finding
	// 5: login must not tell who has an account).
	out, _, rc = other.run(pw+"\n", "user", "login", "-u", "nobody", "--password-stdin", "--otp", code, "-o", "json")
	assertError(t, out, rc, 3, "PasswordError")

	var who struct {
		Username string `json:"username"`
		Status   string `json:"status"`
	}
	c.mustJSON("", &who, "user", "whoami")
	if who.Username != "alice" || who.Status != "approved" {
		t.Fatalf("whoami = %+v", who)
	}
	var sessions struct {
		Sessions []json.RawMessage `json:"sessions"`
	}
	c.mustJSON("", &sessions, "user", "sessions")
	if len(sessions.Sessions) != 1 {
		t.Fatalf("sessions = %d, want 1", len(sessions.Sessions))
	}
	c.mustJSON("", nil, "user", "logout")
	out, _, rc = c.run("", "user", "whoami", "-o", "json")
	if rc == 0 {
		t.Fatalf("whoami after logout succeeded: %s", out)
	}
}

func assertError(t *testing.T, out string, code, wantCode int, wantClass string) {
	t.Helper()
	var e errorOut
	if err := json.Unmarshal([]byte(out), &e); err != nil {
		t.Fatalf("error output is not JSON: %q", out)
	}
	if code != wantCode || e.Error.Class != wantClass {
		t.Fatalf("got exit %d class %q (%s), want exit %d class %q", code, e.Error.Class, e.Error.Message, wantCode, wantClass)
	}
}

func TestHostHealthRestartAndGracefulStop(t *testing.T) {
	dir := t.TempDir()
	addr := freePort(t)
	h := startHostArgs(t, []string{"host", "--store", "file://" + dir, "--addr", addr})
	resp, err := http.Get(h.url + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"identity"`) {
		t.Fatalf("healthz: %d %s", resp.StatusCode, body)
	}
	uid := regexp.MustCompile(`identity\s+\S+\s+uid=(\S+)`).FindStringSubmatch(h.out.String())
	if uid == nil {
		t.Fatalf("no identity uid in the startup lines:\n%s", h.out)
	}
	if err := h.stop(t); err != nil {
		t.Fatalf("host exit after SIGTERM: %v\n%s", err, h.out)
	}
	if !strings.Contains(h.out.String(), "stopped") {
		t.Fatalf("no shutdown line:\n%s", h.out)
	}
	// Restarted on the same folder, the services keep their identity.
	h2 := startHostArgs(t, []string{"host", "--store", "file://" + dir, "--addr", addr})
	uid2 := regexp.MustCompile(`identity\s+\S+\s+uid=(\S+)`).FindStringSubmatch(h2.out.String())
	if uid2 == nil || uid2[1] != uid[1] {
		t.Fatalf("identity uid changed across restart: %v -> %v", uid, uid2)
	}
	secret, err := os.ReadFile(filepath.Join(dir, "host.secret"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(h.out.String()+h2.out.String(), strings.TrimSpace(string(secret))) {
		t.Fatal("the service secret appears in the host's output")
	}
}

// The built binary is its own job launcher: run in that role by an agent
// with limits, it sets them and becomes the job's command.
func TestBinaryLaunchesJobsUnderLimits(t *testing.T) {
	out, err := exec.Command(binary, "__acquire-job-exec", "memory=0,cpu=3,file=0,nofile=32", "/bin/sh", "sh", "-c", "ulimit -t; ulimit -n").CombinedOutput()
	if err != nil || string(out) != "3\n32\n" {
		t.Fatalf("launched job: %v, output %q", err, out)
	}
	// A command that cannot start is the shell's 127, with a message.
	cmd := exec.Command(binary, "__acquire-job-exec", "memory=0,cpu=3,file=0,nofile=32", "/no/such/command", "x")
	out, err = cmd.CombinedOutput()
	if cmd.ProcessState == nil || cmd.ProcessState.ExitCode() != 127 || !strings.Contains(string(out), "could not start x") {
		t.Fatalf("missing command: %v, output %q", err, out)
	}
}
