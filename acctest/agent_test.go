package acctest

import (
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestClusterAgentCommand runs `acquire cluster agent` itself, as a
// process beside a host process, with no limits of its own: a job asking
// for memory and open files runs under them (the agent launches it through
// its own binary, which it must name itself when it has no limits) and is
// paid; a job asking for one CPU second is stopped there and refunded; a
// job past its time limit is refunded and leaves no process behind, not
// even one that left its group; SIGTERM stops the agent with exit 0.
func TestClusterAgentCommand(t *testing.T) {
	t.Parallel()
	c := jobHost(t)
	c.mustJSON("", nil, "drive", "create", "results")
	var par struct {
		Link string `json:"link"`
	}
	c.mustJSON("", &par, "par", "create", "results", "--mode", "write", "--expires", "1h")

	var limited, spinning struct {
		JobID string `json:"job_id"`
	}
	c.submitJSON(&limited, "--account", "main", "--cluster", "lab", "--output-link", par.Link,
		"--memory-mb", "64", "--open-files", "40", "--", "/bin/sh", "-c", "ulimit -d; ulimit -n; ulimit -t")
	// The same output link: each job's logs stay its own.
	c.submitJSON(&spinning, "--account", "main", "--cluster", "lab", "--time-limit-s", "60", "--output-link", par.Link,
		"--cpu-s", "1", "--", "/bin/sh", "-c", "echo spinning; while :; do :; done")

	// A job past its time limit: what it started ends with it, even a
	// process in a session of its own whose parent has exited.
	// Its processes are found by the job id in their environment (a
	// sandboxed job writes no file outside its folder, and its pids are
	// its own namespace's): the supervisor, the shell, the setsid one
	// (through a subshell that exits) and the sleep.
	var slow struct {
		JobID string `json:"job_id"`
	}
	c.submitJSON(&slow, "--account", "main", "--cluster", "lab", "--time-limit-s", "4", "--", "/bin/sh", "-c",
		`(setsid sleep 300 >/dev/null 2>&1 &); sleep 300`)

	agent, out := startAgent(t, c, t.TempDir(), "--workers", "2")
	slowPIDs := waitJobPIDs(t, slow.JobID, 4, out)

	if got := waitSettled(t, c, limited.JobID); got.State != "succeeded" {
		t.Fatalf("the limited job: %+v\nagent:\n%s", got, out)
	}
	if got := waitSettled(t, c, spinning.JobID); got.State != "failed" || !strings.Contains(got.Message, "CPU time limit") {
		t.Fatalf("the spinning job: %+v, want failed at its CPU time limit\nagent:\n%s", got, out)
	}
	logs, _, rc := c.run("", "job", "logs", limited.JobID)
	// ulimit -d is in KiB; the job asked for no CPU limit.
	if rc != 0 || logs != "65536\n40\nunlimited\n" {
		t.Fatalf("the limited job's log: exit %d, %q", rc, logs)
	}
	if logs, _, rc := c.run("", "job", "logs", spinning.JobID); rc != 0 || logs != "spinning\n" {
		t.Fatalf("the spinning job's log: exit %d, %q", rc, logs)
	}
	if got := waitSettled(t, c, slow.JobID); got.State != "failed" || !strings.Contains(got.Message, "timed out") {
		t.Fatalf("the slow job: %+v, want failed at its time limit\nagent:\n%s", got, out)
	}
	for _, pid := range slowPIDs {
		if alive(pid) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("the timed-out job's process %d (of %v) outlived it", pid, slowPIDs)
		}
	}
	if bal := balance(c); bal.Balance != "97.000000" || bal.Liability != "0.000000" {
		t.Fatalf("balance %+v: want one job paid and two refunded", bal)
	}

	_ = agent.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- agent.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("agent exit after SIGTERM: %v\n%s", err, out)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("the agent did not stop on SIGTERM:\n%s", out)
	}
	if !strings.Contains(out.String(), "agent ") || !strings.Contains(out.String(), "of cluster lab: 2 workers") {
		t.Fatalf("no start line from the agent:\n%s", out)
	}
}

// TestAgentKilledMidJob: an agent process SIGKILLed while its job runs
// takes the job's processes with it, the one it started and that one's
// children, even one in a session of its own (they do not run on beside
// the next attempt); after the job's lease (a minute) a second agent runs it again,
// and it is paid once. The second agent, on the same work folder, removes
// the job folder the first one left.
func TestAgentKilledMidJob(t *testing.T) {
	t.Parallel()
	start := time.Now()
	c := jobHost(t, "--job-lease-s", "3")
	// The first attempt starts a child in its group and, through a
	// subshell that exits, one in a session of its own (setsid), and
	// waits; the second ends at once.
	script := `if [ "$ACQUIRE_JOB_ATTEMPT" = 1 ]; then sleep 300 & (setsid sleep 300 >/dev/null 2>&1 &); wait; fi`
	var job struct {
		JobID string `json:"job_id"`
	}
	c.submitJSON(&job, "--account", "main", "--cluster", "lab", "--time-limit-s", "600", "--", "/bin/sh", "-c", script)

	work := t.TempDir()
	first, out := startAgent(t, c, work)
	pids := waitJobPIDs(t, job.JobID, 4, out) // supervisor, shell, sleep, setsid sleep
	if err := first.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = first.Wait()
	deadline := time.Now().Add(10 * time.Second)
	for _, pid := range pids {
		for alive(pid) {
			if time.Now().After(deadline) {
				_ = syscall.Kill(pid, syscall.SIGKILL)
				t.Fatalf("the job's process %d (of %v) outlived its SIGKILLed agent", pid, pids)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}

	if left, _ := filepath.Glob(filepath.Join(work, "acquire-job-*")); len(left) != 2 {
		t.Fatalf("the dead agent left %v, want its job's folder and lock", left)
	}
	second, out2 := startAgent(t, c, work)
	if got := waitSettled(t, c, job.JobID); got.State != "succeeded" {
		t.Fatalf("the job after its agent died: %+v\nsecond agent:\n%s", got, out2)
	}
	// The second agent swept the dead one's folder at its start, and
	// removed its own job's when the job ended.
	if left, _ := filepath.Glob(filepath.Join(work, "acquire-job-*")); len(left) != 0 {
		t.Fatalf("job folders left in the work folder: %v", left)
	}
	if got := waitSettled(t, c, job.JobID); got.Attempt != 2 {
		t.Fatalf("the job ended in attempt %d, want 2", got.Attempt)
	}
	if bal := balance(c); bal.Balance != "97.000000" || bal.Liability != "0.000000" {
		t.Fatalf("balance %+v: want the job paid once", bal)
	}
	// The host's lease, not the default minute, decided the wait.
	if took := time.Since(start); took > 50*time.Second {
		t.Fatalf("the job ran again after %v: the host's 3 s lease did not hold", took)
	}
	_ = second.Process.Signal(syscall.SIGTERM)
}

// jobHost starts a host (with hostArgs) with an admin, and logs c in as it
// with an account "main" of 100, "job" priced at 3 and cluster "lab"
// registered.
func jobHost(t *testing.T, hostArgs ...string) *cli {
	const pw = "the admin's long password"
	dir := t.TempDir()
	args := append([]string{"host", "--store", "file://" + dir, "--addr", "127.0.0.1:0", "--admin", "root"}, hostArgs...)
	h := startHostArgs(t, args, "ACQUIRE_ADMIN_PASSWORD="+pw)
	c := &cli{t: t, config: t.TempDir(), env: []string{"ACQUIRE_IDENTITY_URL=" + h.url + "/identity"}}
	adminLogin(t, c, filepath.Join(dir, "admin-root.txt"), pw)
	c.mustJSON("", nil, "account", "create", "main")
	c.mustJSON("", nil, "account", "deposit", "main", "--amount", "100", "--id", "dep-1")
	c.mustJSON("", nil, "access", "resource", "set", "job", "--price", "3", "--service", "compute", "--function", "submit_job", "--hold-s", "21600")
	c.mustJSON("", nil, "cluster", "register", "lab")
	return c
}

// startAgent starts `acquire cluster agent lab --work-dir DIR ARGS` with
// c's wallet; the test's end kills it if it still runs.
func startAgent(t *testing.T, c *cli, workDir string, args ...string) (*exec.Cmd, *syncBuffer) {
	t.Helper()
	return startAgentAs(t, c, workDir, nil, args...)
}

// startAgentAs is startAgent as the user of cred (nil: this process's).
func startAgentAs(t *testing.T, c *cli, workDir string, cred *syscall.Credential, args ...string) (*exec.Cmd, *syncBuffer) {
	t.Helper()
	cmd := exec.Command(binary, append([]string{"cluster", "agent", "lab", "--work-dir", workDir}, args...)...)
	cmd.Env = append(append(os.Environ(), "ACQUIRE_CONFIG_DIR="+c.config, "HOME="+workDir), c.env...)
	if cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	}
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	return cmd, out
}

type balanceOut struct {
	Balance   string `json:"balance"`
	Liability string `json:"liability"`
}

func balance(c *cli) balanceOut {
	var b balanceOut
	c.mustJSON("", &b, "account", "balance", "main")
	return b
}

// waitJobPIDs waits until at least n live processes carry the job's id
// in their environment (ACQUIRE_JOB_ID), and answers them (host pids).
func waitJobPIDs(t *testing.T, jobID string, n int, agent *syncBuffer) []int {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		if pids := jobPIDs(jobID); len(pids) >= n {
			return pids
		}
		if time.Now().After(deadline) {
			t.Fatalf("the job's %d processes did not start (found %v)\nagent:\n%s", n, jobPIDs(jobID), agent)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// jobPIDs are the live processes with ACQUIRE_JOB_ID=jobID in their
// environment.
func jobPIDs(jobID string) []int {
	ents, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "environ"))
		if err == nil && strings.Contains("\x00"+string(b), "\x00ACQUIRE_JOB_ID="+jobID+"\x00") && alive(pid) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// alive: the process exists and is not a zombie waiting to be reaped.
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// The state follows the command name, which is in parentheses.
	_, after, _ := strings.Cut(string(b), ") ")
	return !strings.HasPrefix(after, "Z")
}

// adminLogin logs c in as the admin `acquire host --admin` created, with
// the password and the authenticator URI it wrote to path.
func adminLogin(t *testing.T, c *cli, path, pw string) {
	t.Helper()
	b, err := os.ReadFile(path) //nolint:gosec // the test's own store folder
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`otpauth: (\S+)`).FindSubmatch(b)
	if m == nil {
		t.Fatalf("no authenticator URI in %s", path)
	}
	u, err := url.Parse(string(m[1]))
	if err != nil {
		t.Fatal(err)
	}
	waitFreshStep()
	code, _, rc := c.run("", "otp", "code", "--secret", u.Query().Get("secret"))
	if rc != 0 {
		t.Fatalf("otp code: exit %d", rc)
	}
	name := strings.TrimPrefix(strings.TrimSuffix(filepath.Base(path), ".txt"), "admin-")
	c.mustJSON(pw+"\n", nil, "user", "login", "-u", name, "--password-stdin", "--otp", strings.TrimSpace(code))
}

// submitJSON runs `job submit -o json ARGS`: the flags go before the
// job's command, which follows "--".
func (c *cli) submitJSON(into any, args ...string) {
	c.t.Helper()
	out, errs, code := c.run("", append([]string{"job", "submit", "-o", "json"}, args...)...)
	if code != 0 || json.Unmarshal([]byte(out), into) != nil {
		c.t.Fatalf("job submit %v: exit %d\nstdout: %s\nstderr: %s", args, code, out, errs)
	}
}

type jobState struct {
	Attempt int    `json:"attempt"`
	State   string `json:"state"`
	Settled bool   `json:"settled"`
	Message string `json:"message"`
}

// waitSettled polls a job until it is finished and its payment settled.
func waitSettled(t *testing.T, c *cli, id string) jobState {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for {
		var st jobState
		c.mustJSON("", &st, "job", "status", id)
		if st.Settled || time.Now().After(deadline) {
			return st
		}
		time.Sleep(200 * time.Millisecond)
	}
}
