package agent

import (
	"context"
	"fmt"
	"syscall"
	"time"
)

// StartCost is what starting a trivial job costs (Measure).
type StartCost struct {
	// Walls are each job's time from start to its report.
	Walls []time.Duration
	// CPU is the mean CPU time per job: the supervisor and the job (their
	// rusage) and this process's own (the clone of the namespaces).
	CPU time.Duration
}

// MeasureStart runs n /bin/true jobs one after another through
// launcher's supervisor, as an agent does (sandboxed or not), in folders
// under workDir, and answers what they cost. It is for benchmarks.
func MeasureStart(ctx context.Context, launcher, workDir string, sandboxed bool, n int) (*StartCost, error) {
	sc := &StartCost{}
	var jobsCPU time.Duration
	self0 := selfCPU()
	for range n {
		dir, release, err := newJobFolder(workDir)
		if err != nil {
			return nil, err
		}
		var box *sandboxSpec
		if sandboxed {
			box = &sandboxSpec{Dir: dir}
			if err := handOver(dir); err != nil {
				release()
				return nil, err
			}
		}
		cmd := launch(ctx, launcher, superviseArg, box, Limits{}, "/bin/true", "true", nil)
		cmd.Dir = dir
		ownGroup(cmd, true)
		if box != nil {
			sandboxAttr(cmd.SysProcAttr, false)
			cmd.Env = sandboxEnv(nil)
		}
		start := time.Now()
		end, err := runJob(cmd, true)
		sc.Walls = append(sc.Walls, time.Since(start))
		release()
		if err != nil || end == nil || end.code != 0 {
			return nil, fmt.Errorf("agent: a trivial job (sandboxed %v) failed: %w", sandboxed, err)
		}
		if u, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			jobsCPU += time.Duration(u.Utime.Nano() + u.Stime.Nano())
		}
	}
	sc.CPU = (jobsCPU + selfCPU() - self0) / time.Duration(max(n, 1))
	return sc, nil
}

// selfCPU is this process's CPU time so far, its reaped children's aside.
func selfCPU() time.Duration {
	var u syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &u) != nil {
		return 0
	}
	return time.Duration(u.Utime.Nano() + u.Stime.Nano())
}

// SandboxWorks reports whether a job sandbox works here (nil), as an
// agent checks at its start.
func SandboxWorks(launcher, workDir string) error { return checkSandbox(launcher, workDir) }
