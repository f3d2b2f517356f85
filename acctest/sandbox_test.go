package acctest

import (
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// unprivilegedUID runs the agent as an ordinary user when the test runs
// as root, so the sandbox cannot lean on root.
const unprivilegedUID = 4242

// TestHostileJobSandboxed: `acquire cluster agent` runs a hostile job
// beside a running victim job; the hostile job tries, and fails, to read
// the cluster key by its absolute path, list and read the victim's
// folder, signal and trace the agent, write outside its folder, reach a
// listener on the host's 127.0.0.1, and start more processes than its
// limit. The honest jobs of the same agent run unchanged: inputs in,
// outputs out, logs, limits, and the status says how each was isolated.
// The agent runs as an unprivileged user, and (when the test is root)
// as root too.
func TestHostileJobSandboxed(t *testing.T) {
	if err := exec.Command("unshare", "-Ur", "true").Run(); err != nil {
		t.Skipf("no unprivileged user namespaces here: %v", err)
	}
	hostile := filepath.Join(t.TempDir(), "hostile")
	build := exec.Command("go", "build", "-o", hostile, "./testdata/hostile")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the hostile job: %v\n%s", err, out)
	}
	t.Run("unprivileged agent", func(t *testing.T) { hostileRun(t, hostile, true) })
	if os.Getuid() == 0 {
		t.Run("root agent", func(t *testing.T) { hostileRun(t, hostile, false) })
	}
}

func hostileRun(t *testing.T, hostile string, unprivileged bool) {
	c := jobHost(t)
	// Inputs: the hostile program and a text file; outputs: a drive.
	c.mustJSON("", nil, "drive", "create", "inputs")
	c.mustJSON("", nil, "file", "upload", hostile, "inputs", "hostile")
	data := filepath.Join(t.TempDir(), "data.txt")
	if err := os.WriteFile(data, []byte("honest input\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c.mustJSON("", nil, "file", "upload", data, "inputs", "data.txt")
	c.mustJSON("", nil, "drive", "create", "results")
	var in, out struct {
		Link string `json:"link"`
	}
	c.mustJSON("", &in, "par", "create", "inputs", "--mode", "read", "--expires", "1h")
	c.mustJSON("", &out, "par", "create", "results", "--mode", "write", "--expires", "1h")

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = l.Close() }()
	reached := make(chan struct{}, 1)
	go func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			_ = conn.Close()
			reached <- struct{}{}
		}
	}()

	work := t.TempDir()
	var uid *syscall.Credential
	if unprivileged && os.Getuid() == 0 {
		uid = &syscall.Credential{Uid: unprivilegedUID, Gid: unprivilegedUID, Groups: []uint32{}}
		giveTo(t, unprivilegedUID, c.config, work)
	}
	agent, agentOut := startAgentAs(t, c, work, uid, "--workers", "2", "--log-level", "info")

	// The victim runs until the test lets it stop (it sees no host file:
	// the test writes "stop" into its folder from outside).
	var victim, bad, honest struct {
		JobID string `json:"job_id"`
	}
	c.submitJSON(&victim, "--account", "main", "--cluster", "lab", "--time-limit-s", "120", "--", "/bin/sh", "-c",
		`echo victim-secret > out/secret.txt; while [ ! -e stop ]; do sleep 0.1; done`)
	victimDir := waitJobFolder(t, work, agentOut)

	keyFile := filepath.Join(c.config, "clusters", "lab.key")
	if _, err := os.Stat(keyFile); err != nil {
		t.Fatalf("the cluster key is not where the test looks: %v", err)
	}
	c.submitJSON(&bad, "--account", "main", "--cluster", "lab", "--time-limit-s", "60", "--input-link", in.Link, "--output-link", out.Link,
		"--processes", "24", "--env", "GOMAXPROCS=1", "--", "/bin/sh", "-c",
		`chmod +x in/hostile && exec in/hostile "$@"`, "hostile", keyFile, victimDir, strconv.Itoa(agent.Process.Pid), l.Addr().String(), "40")
	st := waitSettled(t, c, bad.JobID)
	logs, _, _ := c.run("", "job", "logs", bad.JobID)
	if err := os.WriteFile(filepath.Join(victimDir, "stop"), nil, 0o644); err != nil { //nolint:gosec // lets the victim end
		t.Fatal(err)
	}
	if st.State != "succeeded" || !strings.Contains(logs, "breaches 0\n") {
		t.Fatalf("the hostile job: %+v\nits log:\n%s\nagent:\n%s", st, logs, agentOut)
	}
	for _, want := range []string{"blocked reading the cluster key", "blocked listing the agent's wallet", "blocked listing another job's folder",
		"blocked reading another job's output", "blocked signalling the agent", "blocked tracing the agent", "blocked tracing the supervisor",
		"blocked writing /etc/hostile", "blocked writing /usr/hostile", "blocked writing /hostile", "tried writing " + work, "blocked reaching 127.0.0.1",
		"blocked starting 40 processes"} {
		if !strings.Contains(logs, want) {
			t.Errorf("the hostile job's log lacks %q:\n%s", want, logs)
		}
	}
	if n := processesSeen(logs); n < 1 || n > 3 {
		t.Errorf("the hostile job saw %d processes, want its own few:\n%s", n, logs)
	}
	select {
	case <-reached:
		t.Error("the hostile job reached the host's listener")
	default:
	}
	for _, p := range []string{"/tmp/hostile-" + bad.JobID, filepath.Join(work, "hostile")} {
		if _, err := os.Stat(p); err == nil {
			t.Errorf("the hostile job wrote %s on the host", p)
		}
	}
	if agent.ProcessState != nil || syscall.Kill(agent.Process.Pid, 0) != nil {
		t.Fatalf("the agent is gone:\n%s", agentOut)
	}
	if got := waitSettled(t, c, victim.JobID); got.State != "succeeded" {
		t.Fatalf("the victim: %+v\nagent:\n%s", got, agentOut)
	}

	// An honest job: its input in, its output out, its log, its limits.
	c.submitJSON(&honest, "--account", "main", "--cluster", "lab", "--input-link", in.Link, "--output-link", out.Link,
		"--processes", "24", "--open-files", "40", "--", "/bin/sh", "-c",
		`tr a-z A-Z < in/data.txt > out/result.txt && echo done && ulimit -n && sed -n 's/^Max processes *\([0-9]*\).*/\1/p' /proc/self/limits`)
	if got := waitSettled(t, c, honest.JobID); got.State != "succeeded" {
		t.Fatalf("the honest job: %+v\nagent:\n%s", got, agentOut)
	}
	if logs, _, rc := c.run("", "job", "logs", honest.JobID); rc != 0 || logs != "done\n40\n24\n" {
		t.Fatalf("the honest job's log: exit %d, %q", rc, logs)
	}
	back := filepath.Join(t.TempDir(), "result.txt")
	c.mustJSON("", nil, "file", "download", "results", honest.JobID+"/out/result.txt", "-O", back)
	if b, _ := os.ReadFile(back); string(b) != "HONEST INPUT\n" { //nolint:gosec // the test's own file
		t.Fatalf("the honest job's output %q", b)
	}
	var status struct {
		Isolation string `json:"isolation"`
	}
	outJSON, _, rc := c.run("", "job", "status", honest.JobID, "-o", "json")
	if rc != 0 || json.Unmarshal([]byte(outJSON), &status) != nil ||
		!strings.HasPrefix(status.Isolation, "sandbox: user, mount, pid, ipc, uts, net namespaces") {
		t.Fatalf("the honest job's status does not say it ran sandboxed: %s", outJSON)
	}
	if text, _, _ := c.run("", "job", "status", honest.JobID); !strings.Contains(text, "\nisolation: sandbox: user, mount, pid") {
		t.Fatalf("the honest job's status text does not say how it ran:\n%s", text)
	}
	if !strings.Contains(agentOut.String(), "job isolation: a sandbox per job") {
		t.Fatalf("the agent did not log its isolation at start:\n%s", agentOut)
	}
	if bal := balance(c); bal.Balance != "91.000000" || bal.Liability != "0.000000" {
		t.Fatalf("balance %+v: want three jobs paid", bal)
	}
	_ = agent.Process.Signal(syscall.SIGTERM)
}

// giveTo makes the folders (and what is in them) the user's, and lets it
// reach them through their parents.
func giveTo(t *testing.T, uid int, dirs ...string) {
	t.Helper()
	for _, d := range dirs {
		if err := filepath.Walk(d, func(p string, _ os.FileInfo, err error) error {
			if err != nil {
				return err
			}
			return os.Lchown(p, uid, uid)
		}); err != nil {
			t.Fatal(err)
		}
		for p := filepath.Dir(d); p != "/" && p != os.TempDir(); p = filepath.Dir(p) {
			if err := os.Chmod(p, 0o711); err != nil { //nolint:gosec // traversal only, for the agent's user
				t.Fatal(err)
			}
		}
	}
}

// waitJobFolder waits for the one job folder in work.
func waitJobFolder(t *testing.T, work string, agent *syncBuffer) string {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		dirs, _ := filepath.Glob(filepath.Join(work, "acquire-job-*[^k]"))
		for _, d := range dirs {
			if fi, err := os.Stat(d); err == nil && fi.IsDir() {
				if _, err := os.Stat(filepath.Join(d, "out", "secret.txt")); err == nil {
					return d
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the victim job did not start\nagent:\n%s", agent)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func processesSeen(logs string) int {
	for line := range strings.Lines(logs) {
		if n, ok := strings.CutPrefix(strings.TrimSpace(line), "processes seen "); ok {
			v, _ := strconv.Atoi(n)
			return v
		}
	}
	return -1
}
