//go:build linux

package agent

import (
	"bufio"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/openacquire/acquire/runtime/compute"
)

// cgroup2Mount is where cgroup v2 is mounted here ("" if nowhere).
func cgroup2Mount(t *testing.T) string {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	s := bufio.NewScanner(f)
	for s.Scan() {
		pre, post, ok := strings.Cut(s.Text(), " - ")
		if ok && strings.HasPrefix(post, "cgroup2 ") {
			return strings.Fields(pre)[4]
		}
	}
	return ""
}

// TestJobCgroup: with a cgroup folder, a sandboxed job runs in a cgroup of
// its own below it (its /proc/self/cgroup says so), the controllers the
// folder has are reported, and the job's cgroup, with a process that
// left the job's group, is gone when the job ends. A folder that is not
// a cgroup falls back to per-process limits, said at start.
func TestJobCgroup(t *testing.T) {
	root := cgroup2Mount(t)
	if root == "" || os.Getuid() != 0 {
		t.Skip("needs cgroup v2 and root to make a folder in it")
	}
	parent, err := os.MkdirTemp(root, "acquire-test-")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = os.Remove(parent) }()
	key, err := compute.GenerateClusterKey("c")
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	const link = "https://drive.example/par/out#s"
	var logs strings.Builder
	cfg := Config{Client: &compute.AgentClient{Key: key}, Launcher: os.Args[0], WorkDir: t.TempDir(), CgroupDir: t.TempDir(),
		Drive: &DirDrive{Dirs: map[string]string{link: out}}, Logger: slog.New(slog.NewTextHandler(&logs, nil))}
	if err := cfg.defaults(); err != nil {
		t.Fatal(err)
	}
	iso, err := checkIsolation(&cfg)
	if err != nil || iso.cgroups != nil || !strings.Contains(logs.String(), "per-process rlimits only: the cgroup folder is not usable") {
		t.Fatalf("a plain folder as cgroup: %+v %v\n%s", iso, err, logs.String())
	}
	cfg.CgroupDir = parent
	if iso, err = checkIsolation(&cfg); err != nil || iso.cgroups == nil || !iso.sandbox {
		t.Fatalf("isolation %+v, %v\n%s", iso, err, logs.String())
	}
	w := &worker{cfg: &cfg, iso: iso, log: cfg.Logger}
	job := &compute.Job{ID: "j1", IdentityURL: "https://id.example", UserUID: "alice", Attempt: 1,
		Spec: compute.JobSpec{Command: "/bin/sh", Args: []string{"-c", "cat /proc/self/cgroup; (setsid sleep 300 >/dev/null 2>&1 &)"}, TimeoutS: 30, Output: link}}
	o := w.execute(t.Context(), job)
	stdout, _ := os.ReadFile(filepath.Join(out, "j1", "logs", "stdout.txt"))
	rel := strings.TrimPrefix(parent, root)
	var jobCg string
	for line := range strings.Lines(string(stdout)) {
		if p, ok := strings.CutPrefix(strings.TrimSpace(line), "0::"); ok {
			jobCg = p
		}
	}
	if o.state != compute.StateSucceeded || !strings.HasPrefix(jobCg, rel+"/acquire-job-") {
		t.Fatalf("job %+v ran in cgroup %q, want one below %s\n%s", o, jobCg, rel, stdout)
	}
	if _, err := os.Stat(filepath.Join(root, jobCg)); !os.IsNotExist(err) {
		t.Fatalf("the job's cgroup %s is still there: %v", jobCg, err)
	}
	if d := iso.describe(false); !strings.Contains(d, "a cgroup per job") {
		t.Errorf("isolation %q", d)
	}
}
