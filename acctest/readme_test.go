package acctest

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/openacquire/acquire/runtime/crypto"
)

// The README's journey: its sh blocks from this heading up to the next
// section of the guide, one command a line, run in order.
const (
	journeyFrom = "### Try it as a user"
	journeyTo   = "Files live in drives"
	// commandTimeout bounds one README command (the job wait loop included).
	commandTimeout = 3 * time.Minute
	alicePassword  = "a long enough password"
)

// readmeCommands extracts the journey's commands from README.md itself, so
// a README command that stops working fails this test.
func readmeCommands(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	from, to := strings.Index(s, journeyFrom), strings.Index(s, journeyTo)
	if from < 0 || to < from {
		t.Fatalf("README.md has no journey between %q and %q", journeyFrom, journeyTo)
	}
	var cmds []string
	in := false
	for _, line := range strings.Split(s[from:to], "\n") {
		switch {
		case strings.HasPrefix(line, "```sh"):
			in = true
		case strings.HasPrefix(line, "```"):
			in = false
		case in && strings.TrimSpace(line) != "" && !strings.HasPrefix(strings.TrimSpace(line), "#"):
			cmds = append(cmds, line)
		}
	}
	if len(cmds) < 20 {
		t.Fatalf("only %d commands in the README's journey", len(cmds))
	}
	return cmds
}

// shell runs commands one at a time in one bash, as a user types them:
// through a pipe (no terminal) or in a tmux pane (a terminal).
type shell interface {
	// run runs the command file and answers its prompts; it returns the
	// command's output and exit code.
	run(t *testing.T, file string) (string, int)
	// env sets (or with "" unsets) a variable for the commands that follow:
	// what a user without a terminal gives instead of typing.
	env(t *testing.T, name, value string)
	close()
}

// journeyDir is a folder laid out like a clone after `make up`: bin/acquire,
// .acquire/ with the host's state, cli.env and the admin's password and
// authenticator URI. It returns the folder and the wallet folder.
func journeyDir(t *testing.T) (string, string) {
	t.Helper()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(binary, filepath.Join(dir, "bin", "acquire")); err != nil {
		t.Fatal(err)
	}
	state := filepath.Join(dir, ".acquire")
	env := append(os.Environ(), "ACQUIRE="+binary, "PROVIDER_DIR="+buildProvider(t), "TOFU="+tofuBinary(t),
		"STATE_DIR="+state, "DATA_DIR="+filepath.Join(state, "data"), "ADDR="+freePort(t), "ACQUIRE_ADMIN_PASSWORD=")
	script := func(name string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), tofuTimeout)
		defer cancel()
		cmd := exec.CommandContext(ctx, "../scripts/local/"+name)
		cmd.Env = env
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", name, err, out)
		}
	}
	script("up.sh")
	t.Cleanup(func() {
		script("down.sh")
		if _, err := os.Stat(filepath.Join(state, "cli.env")); !os.IsNotExist(err) {
			t.Errorf("make down left .acquire/cli.env: %v", err)
		}
	})
	return dir, filepath.Join(dir, "wallet")
}

// TestReadmeJourney walks README.md's journey as written, after the
// README's own `make up`, without a terminal and in one.
func TestReadmeJourney(t *testing.T) {
	cmds := readmeCommands(t)
	for _, mode := range []string{"pipe", "tmux"} {
		t.Run(mode, func(t *testing.T) {
			if mode == "tmux" {
				if _, err := exec.LookPath("tmux"); err != nil {
					t.Fatalf("tmux is needed to walk the README in a terminal: %v", err)
				}
			}
			dir, wallet := journeyDir(t)
			var sh shell
			if mode == "pipe" {
				sh = newPipeShell(t, dir, wallet)
			} else {
				sh = newTmuxShell(t, dir, wallet)
			}
			defer sh.close()
			walkJourney(t, sh, dir, cmds, mode == "pipe")
		})
	}
}

var secretInURI = regexp.MustCompile(`secret=([A-Z2-7]+)`)

// walkJourney runs each command and checks it exited 0; a few commands'
// outputs are checked for what the README says of them.
func walkJourney(t *testing.T, sh shell, dir string, cmds []string, noTerminal bool) {
	cmdDir := filepath.Join(dir, ".journey")
	if err := os.MkdirAll(cmdDir, 0o700); err != nil {
		t.Fatal(err)
	}
	var secret string
	var lastStep int64
	for i, c := range cmds {
		file := filepath.Join(cmdDir, fmt.Sprintf("%02d.sh", i))
		if err := os.WriteFile(file, []byte(c+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		alice := regexp.MustCompile(`^acquire user (register|login) --username alice\b`).MatchString(c)
		if alice && noTerminal {
			sh.env(t, "ACQUIRE_PASSWORD", alicePassword)
			if strings.Contains(c, "login") {
				sh.env(t, "ACQUIRE_OTP", totp(t, secret, &lastStep))
			}
		}
		if alice && !noTerminal && strings.Contains(c, "login") {
			sh.(*tmuxShell).code = totp(t, secret, &lastStep)
		}
		start := time.Now()
		out, code := sh.run(t, file)
		t.Logf("%5.1fs  exit %d  %s\n%s", time.Since(start).Seconds(), code, strings.TrimSpace(c), out)
		if code != 0 {
			t.Fatalf("README command %q exited %d:\n%s", c, code, out)
		}
		if alice && noTerminal {
			sh.env(t, "ACQUIRE_PASSWORD", "")
			sh.env(t, "ACQUIRE_OTP", "")
		}
		if strings.HasPrefix(c, "acquire user register --username alice") {
			m := secretInURI.FindStringSubmatch(out)
			if m == nil {
				t.Fatalf("register showed no authenticator URI:\n%s", out)
			}
			secret = m[1]
		}
		checkOutput(t, c, out)
	}
}

// checkOutput checks what the README says of a few commands.
func checkOutput(t *testing.T, c, out string) {
	t.Helper()
	switch {
	case strings.HasPrefix(c, "acquire job cancel"):
		if !strings.Contains(out, "refunded") {
			t.Errorf("job cancel does not say it is refunded:\n%s", out)
		}
	case strings.HasPrefix(c, "acquire job list"):
		// env-1 submitted twice is one job: two in all so far.
		if n := strings.Count(out, " lab "); n != 2 {
			t.Errorf("job list shows %d jobs on lab, want 2 (a retried --id is the same job):\n%s", n, out)
		}
	case strings.HasPrefix(c, "acquire job logs"):
		if !strings.Contains(out, "PATH=") {
			t.Errorf("the env job's log has no PATH=:\n%s", out)
		}
	case strings.HasPrefix(c, "acquire access check job"):
		if !strings.Contains(out, "yes") {
			t.Errorf("no grant for the job that ran:\n%s", out)
		}
	case strings.HasPrefix(c, "acquire invoice list"):
		if !strings.Contains(out, "hosting, December") {
			t.Errorf("alice's open invoices do not show root's:\n%s", out)
		}
	case strings.HasPrefix(c, "acquire invoice pay"):
		if !strings.Contains(out, "Paid invoice inv-") {
			t.Errorf("paying root's invoice:\n%s", out)
		}
	case strings.HasPrefix(c, "acquire user logout") && strings.Contains(c, "already"):
		if !strings.Contains(out, "not logged in") {
			t.Errorf("the second logout does not say so:\n%s", out)
		}
	}
}

// totp is the current code for secret, waiting for the next step when the
// last one was used (a code is good once) or too little of it is left.
func totp(t *testing.T, secret string, last *int64) string {
	t.Helper()
	if secret == "" {
		t.Fatal("a login before the register gave a secret")
	}
	for {
		now := time.Now()
		step := now.Unix() / 30
		if step != *last && 30-now.Unix()%30 >= 5 {
			*last = step
			code, err := crypto.TOTPCode(secret, now)
			if err != nil {
				t.Fatal(err)
			}
			return code
		}
		time.Sleep(time.Second)
	}
}

// ---- without a terminal: one bash reading commands from a pipe ----

type pipeShell struct {
	cmd   *exec.Cmd
	in    io.WriteCloser
	lines chan string
	n     int
}

func newPipeShell(t *testing.T, dir, wallet string) *pipeShell {
	t.Helper()
	cmd := exec.Command("bash", "--norc", "--noprofile")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "ACQUIRE_CONFIG_DIR="+wallet, "ACQUIRE_PASSWORD=", "ACQUIRE_OTP=")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // its background jobs die with it
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &pipeShell{cmd: cmd, in: in, lines: make(chan string, 1024)}
	go func() {
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			s.lines <- sc.Text()
		}
		close(s.lines)
	}()
	return s
}

func (s *pipeShell) send(t *testing.T, line string) (string, int) {
	t.Helper()
	s.n++
	marker := fmt.Sprintf("__DONE_%d ", s.n)
	if _, err := fmt.Fprintf(s.in, "%s\necho \"%s$?\"\n", line, marker); err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	deadline := time.After(commandTimeout)
	for {
		select {
		case l, ok := <-s.lines:
			if !ok {
				t.Fatalf("the shell ended during %q:\n%s", line, out.String())
			}
			if rest, found := strings.CutPrefix(l, marker); found {
				var code int
				_, _ = fmt.Sscan(rest, &code)
				return out.String(), code
			}
			out.WriteString(l + "\n")
		case <-deadline:
			t.Fatalf("%q did not finish in %v:\n%s", line, commandTimeout, out.String())
		}
	}
}

// run sources the command's file with stdin from /dev/null: the README's
// commands meet no terminal and no pipe to read prompts from.
func (s *pipeShell) run(t *testing.T, file string) (string, int) {
	return s.send(t, ". "+file+" </dev/null")
}

func (s *pipeShell) env(t *testing.T, name, value string) {
	if value == "" {
		s.send(t, "unset "+name)
		return
	}
	s.send(t, "export "+name+"='"+value+"'")
}

func (s *pipeShell) close() {
	_ = s.in.Close()
	_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL) // the shell's group: the README's background agent too
	_ = s.cmd.Wait()
}

// ---- in a terminal: bash in a tmux pane, prompts answered as typed ----

type tmuxShell struct {
	socket string
	n      int
	code   string // the one-time code for the next login prompt
	// answered counts the prompts answered so far, by prompt.
	answered map[string]int
}

func newTmuxShell(t *testing.T, dir, wallet string) *tmuxShell {
	t.Helper()
	conf := filepath.Join(dir, ".tmux.conf")
	if err := os.WriteFile(conf, []byte("set -g history-limit 100000\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	rc := filepath.Join(dir, ".journeyrc")
	if err := os.WriteFile(rc, []byte(fmt.Sprintf("export ACQUIRE_CONFIG_DIR=%q\nunset ACQUIRE_PASSWORD ACQUIRE_OTP\nPS1='$ '\n", wallet)), 0o600); err != nil {
		t.Fatal(err)
	}
	s := &tmuxShell{socket: fmt.Sprintf("acquire-journey-%d", os.Getpid()), answered: map[string]int{}}
	if out, err := s.tmux("-f", conf, "new-session", "-d", "-s", "j", "-x", "200", "-y", "50", "-c", dir, "bash --noprofile --rcfile "+rc+" -i"); err != nil {
		t.Fatalf("tmux: %v\n%s", err, out)
	}
	return s
}

func (s *tmuxShell) tmux(args ...string) (string, error) {
	pre := []string{"-L", s.socket}
	if len(args) > 0 && args[0] == "-f" { // the server's config: before the command
		pre, args = append(pre, args[:2]...), args[2:]
	}
	out, err := exec.Command("tmux", append(pre, args...)...).CombinedOutput()
	return string(out), err
}

func (s *tmuxShell) screen(t *testing.T) string {
	t.Helper()
	out, err := s.tmux("capture-pane", "-p", "-J", "-S", "-", "-t", "j")
	if err != nil {
		t.Fatalf("capture-pane: %v %s", err, out)
	}
	return out
}

func (s *tmuxShell) typeLine(t *testing.T, line string) {
	t.Helper()
	if out, err := s.tmux("send-keys", "-t", "j", "-l", line); err != nil {
		t.Fatalf("send-keys: %v %s", err, out)
	}
	if out, err := s.tmux("send-keys", "-t", "j", "Enter"); err != nil {
		t.Fatalf("send-keys: %v %s", err, out)
	}
}

// prompts are what the CLI asks on a terminal, and what the test types.
var prompts = []string{"Password: ", "Password again: ", "One-time code: "}

func (s *tmuxShell) run(t *testing.T, file string) (string, int) {
	t.Helper()
	s.n++
	typed := fmt.Sprintf(". %s; echo __DONE_%d_$?", file, s.n)
	s.typeLine(t, typed)
	done := regexp.MustCompile(fmt.Sprintf(`(?m)^__DONE_%d_(\d+)\s*$`, s.n))
	deadline := time.Now().Add(commandTimeout)
	for {
		scr := s.screen(t)
		if m := done.FindStringSubmatchIndex(scr); m != nil {
			var code int
			_, _ = fmt.Sscan(scr[m[2]:m[3]], &code)
			from := strings.LastIndex(scr[:m[0]], typed) + len(typed) // the output: after the typed line, before the marker
			return scr[from:m[0]], code
		}
		for _, p := range prompts {
			if n := strings.Count(scr, p); n > s.answered[p] {
				s.answered[p] = n
				answer := alicePassword
				if p == "One-time code: " {
					answer = s.code
				}
				s.typeLine(t, answer)
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("command %d did not finish in %v:\n%s", s.n, commandTimeout, scr)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// env is not needed in a terminal: the prompts are answered instead.
func (s *tmuxShell) env(*testing.T, string, string) {}

func (s *tmuxShell) close() { _, _ = s.tmux("kill-server") }
