package agent

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"

	"github.com/openacquire/acquire/runtime/compute"
)

// Limits bound each process a job starts (POSIX resource limits: every
// process the job forks gets the same limits of its own). Zero leaves a
// limit as the agent has it.
type Limits struct {
	// MemoryBytes caps each process's data: heap and private writable
	// mappings (RLIMIT_DATA). Allocations past it fail.
	MemoryBytes int64
	// CPUSeconds caps each process's CPU time (RLIMIT_CPU): SIGXCPU at the
	// limit, SIGKILL a second later. The job's timeout still bounds its
	// wall time.
	CPUSeconds int64
	// FileBytes caps the size of any file a process writes (RLIMIT_FSIZE).
	FileBytes int64
	// OpenFiles caps each process's open descriptors (RLIMIT_NOFILE).
	OpenFiles int64
	// Processes caps the job's processes and threads together
	// (RLIMIT_NPROC). The kernel counts them per user in each user
	// namespace, so only a sandboxed job (its own namespace, its own
	// user) gets a total of its own: without a sandbox it would count the
	// agent's user's every process, so such an agent refuses it.
	Processes int64
}

// Bounds on the limits themselves: below these a job could not even start
// (the dynamic loader and a shell need a few MiB and descriptors).
const (
	MinMemoryBytes = compute.MinJobMemoryMB << 20
	MinOpenFiles   = compute.MinJobOpenFiles
)

// launchArg marks a command line as the agent's launcher: the process sets
// the limits on itself and then becomes the job's command (exec).
// superviseArg marks one as a job's supervisor, which runs the launcher
// as its child (see supervise).
const (
	launchArg    = "__acquire-job-exec"
	superviseArg = "__acquire-job-supervise"
)

func (l Limits) set() bool { return l != Limits{} }

// tighter is, limit by limit, the smaller of l and o (zero is none).
func (l Limits) tighter(o Limits) Limits {
	pick := func(a, b int64) int64 {
		if a == 0 || b != 0 && b < a {
			return b
		}
		return a
	}
	return Limits{pick(l.MemoryBytes, o.MemoryBytes), pick(l.CPUSeconds, o.CPUSeconds), pick(l.FileBytes, o.FileBytes),
		pick(l.OpenFiles, o.OpenFiles), pick(l.Processes, o.Processes)}
}

// LimitsOf is what a job spec asks for, as Limits.
func LimitsOf(j compute.JobLimits) Limits {
	return Limits{MemoryBytes: j.MemoryMB << 20, CPUSeconds: j.CPUS, FileBytes: j.FileMB << 20, OpenFiles: j.OpenFiles, Processes: j.Processes}
}

// Validate checks the limits (Run checks them too).
func (l Limits) Validate() error {
	switch {
	case l.MemoryBytes < 0 || l.CPUSeconds < 0 || l.FileBytes < 0 || l.OpenFiles < 0 || l.Processes < 0:
		return errors.New("agent: limits cannot be negative")
	case l.MemoryBytes > 0 && l.MemoryBytes < MinMemoryBytes:
		return fmt.Errorf("agent: a memory limit under %d MiB would stop jobs from starting", MinMemoryBytes>>20)
	case l.OpenFiles > 0 && l.OpenFiles < MinOpenFiles:
		return fmt.Errorf("agent: an open-files limit under %d would stop jobs from starting", MinOpenFiles)
	case l.set() && !rlimitsSupported:
		return errors.New("agent: job limits need a unix system")
	}
	return nil
}

// String is the limits as the launcher reads them back (parseLimits).
func (l Limits) String() string {
	return fmt.Sprintf("memory=%d,cpu=%d,file=%d,nofile=%d,nproc=%d", l.MemoryBytes, l.CPUSeconds, l.FileBytes, l.OpenFiles, l.Processes)
}

func parseLimits(s string) (Limits, error) {
	var l Limits
	fields := map[string]*int64{"memory": &l.MemoryBytes, "cpu": &l.CPUSeconds, "file": &l.FileBytes, "nofile": &l.OpenFiles, "nproc": &l.Processes}
	for _, kv := range strings.Split(s, ",") {
		k, v, _ := strings.Cut(kv, "=")
		p, ok := fields[k]
		if !ok {
			return Limits{}, fmt.Errorf("unknown limit %q", k)
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return Limits{}, fmt.Errorf("limit %s=%q is not a count", k, v)
		}
		*p = n
	}
	return l, nil
}

// launch is the command line that runs path (the job's command, resolved)
// under l: the launcher re-executed with the limits, then the command's
// own argv (argv[0] as the job named it).
// role is launchArg, or superviseArg for the same through a supervisor,
// which takes the job's sandbox (nil: none) first.
func launch(ctx context.Context, launcher, role string, box *sandboxSpec, l Limits, path, name string, args []string) *exec.Cmd {
	argv := []string{role, l.String(), path, name}
	if role == superviseArg {
		argv = []string{role, box.String(), l.String(), path, name}
	}
	argv = append(argv, args...)
	return exec.CommandContext(ctx, launcher, argv...) //nolint:gosec // the launcher is this agent's own binary
}

// ExecIfLaunched makes this process a job's launcher when the agent started
// it as one (see launch): it sets the limits on itself and replaces itself
// with the job's command, never returning; or a job's supervisor, which
// exits as the job does. Otherwise it returns at once. Programs that run
// an agent with a Launcher call it first thing in main (and tests in
// TestMain), since the agent launches jobs through its own binary.
func ExecIfLaunched() {
	if isProbe() {
		os.Exit(0)
	}
	if len(os.Args) >= 6 && os.Args[1] == superviseArg {
		supervise(os.Args[2:])
	}
	if len(os.Args) >= 2 && os.Args[1] == fenceArg {
		execFenced(os.Args[2:])
	}
	if len(os.Args) < 5 || os.Args[1] != launchArg {
		return
	}
	l, err := parseLimits(os.Args[2])
	if err == nil {
		err = execLimited(l, os.Args[3], os.Args[4:])
	}
	fmt.Fprintf(os.Stderr, "acquire agent: could not start %s: %v\n", os.Args[4], err)
	os.Exit(launchFailed)
}

// launchFailed is the launcher's exit code when the command did not start
// (as a shell's 127).
const launchFailed = 127
