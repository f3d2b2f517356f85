package compute_test

import (
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/openacquire/acquire/runtime/access"
	"github.com/openacquire/acquire/runtime/compute"
	"github.com/openacquire/acquire/runtime/compute/agent"
)

// The agent launches jobs through this test binary when it has limits.
func TestMain(m *testing.M) {
	agent.ExecIfLaunched()
	if mb := os.Getenv("ACQUIRE_TEST_ALLOC_MB"); mb != "" {
		os.Exit(allocate(mb))
	}
	os.Exit(m.Run())
}

// allocate is a job's body: it takes n MiB of memory and touches it.
func allocate(mb string) int {
	n, err := strconv.Atoi(mb)
	if err != nil {
		return 2
	}
	b := make([]byte, n<<20)
	for i := 0; i < len(b); i += 4096 {
		b[i] = 1
	}
	runtime.KeepAlive(b)
	return 0
}

// limitsRig runs jobs on one agent, its output drive a folder; its input
// drive (inLink) holds a copy of this test binary, which a sandboxed job
// sees only so.
type limitsRig struct {
	f         *fixture
	out, link string
	inLink    string
	last      string // the last job's id
	stop      func()
}

func newLimitsRig(t *testing.T, f *fixture, cfg agent.Config) *limitsRig {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skip("reads /proc/self/limits")
	}
	r := &limitsRig{f: f, out: t.TempDir(), link: "https://drive.example/par/out#out-secret-5678", inLink: "https://drive.example/par/in#in-secret-1234"}
	in := t.TempDir()
	exe, err := os.ReadFile(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(in, "alloc"), exe, 0o755); err != nil { //nolint:gosec // a program for the job
		t.Fatal(err)
	}
	cfg.Drive = &agent.DirDrive{Dirs: map[string]string{r.link: r.out, r.inLink: in}}
	r.stop = f.startAgentWith(t, cfg)
	return r
}

// run submits a job and waits until it is settled.
func (r *limitsRig) run(t *testing.T, spec compute.JobSpec) *compute.Job {
	t.Helper()
	spec.Output = r.link
	id, err := r.f.submit(t, spec)
	if err != nil {
		t.Fatal(err)
	}
	r.last = id
	return r.f.wait(t, id, "settled", func(j *compute.Job) bool { return j.Settled })
}

// log is the last job's log file.
func (r *limitsRig) log(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(r.out, filepath.FromSlash(compute.OutputName(r.last, "logs/"+name))))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// limitsSeen checks the limits a job read from /proc/self/limits.
func (r *limitsRig) limitsSeen(t *testing.T, want ...string) {
	t.Helper()
	got := r.log(t, "stdout.txt")
	for _, w := range want {
		if !regexp.MustCompile(w).MatchString(got) {
			t.Errorf("job's limits lack %q:\n%s", w, got)
		}
	}
}

var readLimits = compute.JobSpec{Command: "cat", Args: []string{"/proc/self/limits"}}

// An agent's limits hold in every job process: the job sees them as its
// own, and a job that passes one is stopped, failed and refunded.
func TestAgentLimits(t *testing.T) {
	f := setup(t)
	limits := agent.Limits{MemoryBytes: 64 << 20, CPUSeconds: 1, FileBytes: 1 << 20, OpenFiles: 64}
	r := newLimitsRig(t, f, agent.Config{Client: f.agentClient("a"), Limits: limits})

	if j := r.run(t, readLimits); j.State != compute.StateSucceeded {
		t.Fatalf("limits job %+v", j)
	}
	r.limitsSeen(t, `Max cpu time +1 +2 +seconds`, `Max data size +67108864 +67108864 +bytes`,
		`Max file size +1048576 +1048576 +bytes`, `Max open files +64 +64 +files`)

	if j := r.run(t, sh("while :; do :; done")); j.State != compute.StateFailed || j.Message != "stopped at its CPU time limit" {
		t.Errorf("spinning job %+v", j)
	}
	if j := r.run(t, compute.JobSpec{Command: "dd", Args: []string{"if=/dev/zero", "of=out/big", "bs=1M", "count=2"}}); j.State != compute.StateFailed || j.Message != "stopped at its file size limit" {
		t.Errorf("writing job %+v", j)
	}
	// The Go runtime says "out of memory"; under -race this binary's
	// ThreadSanitizer fails first, allocating its shadow memory (ENOMEM).
	// The job gets this binary as its input (it sees nothing of the host
	// outside the system folders).
	if j := r.run(t, compute.JobSpec{Command: "/bin/sh", Args: []string{"-c", "chmod +x in/alloc && exec in/alloc"}, Input: r.inLink,
		Env: map[string]string{"ACQUIRE_TEST_ALLOC_MB": "256"}}); j.State != compute.StateFailed ||
		!regexp.MustCompile(`out of memory|failed to allocate .*errno: 12`).MatchString(r.log(t, "stderr.txt")) {
		t.Errorf("allocating job %+v, stderr %.300q", j, r.log(t, "stderr.txt"))
	}
	// A missing command fails before the launcher runs.
	if j := r.run(t, compute.JobSpec{Command: "no-such-command-here"}); j.State != compute.StateFailed || !strings.Contains(j.Message, "could not start") {
		t.Errorf("missing command %+v", j)
	}
	f.money(t, "98", "0", "2") // only the first job is paid
}

// A job's own limits narrow the agent's and never widen them; an agent
// that cannot apply limits fails (and refunds) a job that asks for them;
// limits out of range are refused when the job is submitted.
func TestJobLimits(t *testing.T) {
	f := setup(t)
	r := newLimitsRig(t, f, agent.Config{Client: f.agentClient("a"), Limits: agent.Limits{CPUSeconds: 5, OpenFiles: 64}})
	asks := compute.JobLimits{MemoryMB: 64, CPUS: 1, OpenFiles: 128}
	spec := readLimits
	spec.Limits = asks
	if j := r.run(t, spec); j.State != compute.StateSucceeded || j.Spec.Limits != asks {
		t.Fatalf("limits job %+v", j)
	}
	r.limitsSeen(t, `Max cpu time +1 +2 +seconds`, `Max data size +67108864 +67108864 +bytes`, `Max open files +64 +64 +files`)
	spin := sh("while :; do :; done")
	spin.Limits.CPUS = 1
	if j := r.run(t, spin); j.State != compute.StateFailed || j.Message != "stopped at its CPU time limit" {
		t.Errorf("spinning job %+v", j)
	}
	r.stop()

	// No limits and no launcher: a job asking for limits cannot run here.
	r = newLimitsRig(t, f, agent.Config{Client: f.agentClient("b")})
	if j := r.run(t, spec); j.State != compute.StateFailed || !strings.Contains(j.Message, "cannot apply the job's limits") {
		t.Errorf("job with limits on an agent without a launcher: %+v", j)
	}
	if j := r.run(t, readLimits); j.State != compute.StateSucceeded {
		t.Errorf("job without limits: %+v", j)
	}

	for _, bad := range []compute.JobLimits{{MemoryMB: compute.MinJobMemoryMB - 1}, {OpenFiles: 3}, {CPUS: -1}, {FileMB: compute.MaxJobLimit + 1}} {
		spec := readLimits
		spec.Limits = bad
		_, err := f.submit(t, spec)
		wantClass(t, err, access.ErrFulfilmentFailed) // compute's BadJobError, refunded
		if !strings.Contains(err.Error(), "limits.") {
			t.Errorf("limits %+v: %v", bad, err)
		}
	}
	f.money(t, "96", "0", "4") // two jobs paid; the rest refunded or never held
}
