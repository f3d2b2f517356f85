package compute_test

import (
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"

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

// An agent's limits hold in every job process: the job sees them as its
// own, and a job that passes one is stopped, failed and refunded.
func TestAgentLimits(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("reads /proc/self/limits")
	}
	f := setup(t)
	out := t.TempDir()
	link := "https://drive.example/par/out#out-secret-5678"
	limits := agent.Limits{MemoryBytes: 64 << 20, CPUSeconds: 1, FileBytes: 1 << 20, OpenFiles: 64}
	f.startAgentWith(t, agent.Config{Client: f.agentClient("a"), Drive: &agent.DirDrive{Dirs: map[string]string{link: out}}, Limits: limits})
	run := func(spec compute.JobSpec) *compute.Job {
		t.Helper()
		spec.Output = link
		id, err := f.submit(t, spec)
		if err != nil {
			t.Fatal(err)
		}
		return f.wait(t, id, "settled", func(j *compute.Job) bool { return j.Settled })
	}
	log := func(name string) string {
		b, err := os.ReadFile(filepath.Join(out, "logs", name))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}

	j := run(compute.JobSpec{Command: "cat", Args: []string{"/proc/self/limits"}})
	if j.State != compute.StateSucceeded {
		t.Fatalf("limits job %+v", j)
	}
	got := log("stdout.txt")
	for _, want := range []string{`Max cpu time +1 +2 +seconds`, `Max data size +67108864 +67108864 +bytes`,
		`Max file size +1048576 +1048576 +bytes`, `Max open files +64 +64 +files`} {
		if !regexp.MustCompile(want).MatchString(got) {
			t.Errorf("job's limits lack %q:\n%s", want, got)
		}
	}

	if j := run(sh("while :; do :; done")); j.State != compute.StateFailed || j.Message != "stopped at its CPU time limit" {
		t.Errorf("spinning job %+v", j)
	}
	if j := run(compute.JobSpec{Command: "dd", Args: []string{"if=/dev/zero", "of=out/big", "bs=1M", "count=2"}}); j.State != compute.StateFailed || j.Message != "stopped at its file size limit" {
		t.Errorf("writing job %+v", j)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	// The Go runtime says "out of memory"; under -race this binary's
	// ThreadSanitizer fails first, allocating its shadow memory (ENOMEM).
	if j := run(compute.JobSpec{Command: exe, Env: map[string]string{"ACQUIRE_TEST_ALLOC_MB": "256"}}); j.State != compute.StateFailed ||
		!regexp.MustCompile(`out of memory|failed to allocate .*errno: 12`).MatchString(log("stderr.txt")) {
		t.Errorf("allocating job %+v, stderr %.300q", j, log("stderr.txt"))
	}
	// A missing command fails before the launcher runs.
	if j := run(compute.JobSpec{Command: "no-such-command-here"}); j.State != compute.StateFailed || !strings.Contains(j.Message, "could not start") {
		t.Errorf("missing command %+v", j)
	}
	f.money(t, "98", "0", "2") // only the first job is paid
}
