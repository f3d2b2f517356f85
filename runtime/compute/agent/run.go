package agent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"syscall"
	"time"

	"github.com/openacquire/acquire/runtime/compute"
)

// Why a job's context ended early.
var (
	errCancelled = errors.New("cancelled by its owner")
	errLeaseLost = errors.New("the lease was taken over")
)

// outcome is what finish reports.
type outcome struct {
	state     string
	exit      *int
	message   string
	isolation string // how it ran (compute.Job.Isolation)
}

// run runs one claimed job and reports it, unless the agent is stopping
// or lost the lease (then another attempt owns the job).
func (w *worker) run(ctx context.Context, j *compute.Job) {
	w.log.Info("job claimed", "job", j.ID, "attempt", j.Attempt)
	jctx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	beats := make(chan struct{})
	go func() { w.heartbeats(jctx, j, stop); close(beats) }()
	o := w.execute(jctx, j)
	o.isolation = w.iso.describe(w.cfg.netFor(j.Resource))
	stop(nil)
	<-beats
	cause := context.Cause(jctx)
	switch {
	case ctx.Err() != nil:
		w.log.Warn("agent stopping: job abandoned to its lease", "job", j.ID)
		return
	case errors.Is(cause, errLeaseLost):
		w.log.Warn("lease lost: job left to its new attempt", "job", j.ID)
		return
	case errors.Is(cause, errCancelled):
		o = &outcome{state: compute.StateCancelled, exit: o.exit, message: "cancelled by its owner", isolation: o.isolation}
	}
	w.finish(ctx, j, o)
}

// heartbeats keep the lease until ctx ends; a cancel request or a lost
// lease stops the job through stop.
func (w *worker) heartbeats(ctx context.Context, j *compute.Job, stop context.CancelCauseFunc) {
	// The service's lease shows in the claim (lease_until - started); the
	// configured one covers a claim that does not show it.
	lease := w.cfg.Lease
	if l := j.LeaseUntil.Sub(j.Started); l > 0 && l < lease {
		lease = l
	}
	t := time.NewTicker(max(min(lease/3, CancelCheck), 10*time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		b, err := w.c.Heartbeat(ctx, j.ID, j.Attempt)
		switch {
		case errors.Is(err, compute.ErrLeaseLost):
			stop(errLeaseLost)
			return
		case err != nil:
			w.log.Warn("heartbeat failed", "job", j.ID, "err", err)
		case b.CancelRequested:
			stop(errCancelled)
			return
		}
	}
}

// execute prepares the folder, runs the command and moves the files.
func (w *worker) execute(ctx context.Context, j *compute.Job) *outcome {
	if err := w.iso.admit(j.IdentityURL + " " + j.UserUID); err != nil {
		return failed("%v", err)
	}
	limits := w.cfg.Limits.tighter(LimitsOf(j.Spec.Limits))
	if limits.set() && (w.cfg.Launcher == "" || !rlimitsSupported) {
		return failed("this agent cannot apply the job's limits (it has no launcher, or no POSIX limits)")
	}
	if limits.Processes != 0 && !w.iso.sandbox {
		return failed("this agent cannot apply the job's process limit (it has no sandbox)")
	}
	dir, release, err := newJobFolder(w.cfg.WorkDir)
	if err != nil {
		return failed("no work folder: %v", err)
	}
	defer release()
	in, out := filepath.Join(dir, "in"), filepath.Join(dir, "out")
	for _, d := range []string{in, out} {
		if err := os.Mkdir(d, 0o700); err != nil {
			return failed("no work folder: %v", err)
		}
	}
	if (j.Spec.Input != "" || j.Spec.Output != "") && w.cfg.Drive == nil {
		return failed("this agent has no drive client for the job's input or output")
	}
	if j.Spec.Input != "" {
		if err := w.cfg.Drive.Fetch(ctx, j.Spec.Input, in); err != nil {
			return failed("fetching the inputs: %v", err)
		}
	}
	var box *sandboxSpec
	switch {
	case w.iso.sandbox:
		box = &sandboxSpec{Dir: dir, Net: w.cfg.netFor(j.Resource), Hide: w.iso.hide}
		if err := handOver(dir); err != nil {
			return failed("no work folder: %v", err)
		}
	case w.iso.fence:
		box = &sandboxSpec{Dir: dir, Net: w.cfg.netFor(j.Resource), Fence: true}
	}
	o := w.command(ctx, j, dir, limits, box)
	if j.Spec.Output != "" && ctx.Err() == nil {
		if err := w.upload(ctx, j.ID, j.Spec.Output, dir); err != nil && o.state == compute.StateSucceeded {
			return failed("uploading the outputs: %v", err)
		}
	}
	return o
}

// command runs the job's command with its arguments (no shell), under
// limits, stdout and stderr into size-bounded log files, killed at its
// timeout.
func (w *worker) command(ctx context.Context, j *compute.Job, dir string, limits Limits, box *sandboxSpec) *outcome {
	tctx, cancel := context.WithTimeout(ctx, j.Timeout())
	defer cancel()
	stdout, err := newLog(filepath.Join(dir, "stdout.txt"), w.cfg.MaxLogBytes)
	if err != nil {
		return failed("no log file: %v", err)
	}
	defer func() { _ = stdout.Close() }()
	stderr, err := newLog(filepath.Join(dir, "stderr.txt"), w.cfg.MaxLogBytes)
	if err != nil {
		return failed("no log file: %v", err)
	}
	defer func() { _ = stderr.Close() }()
	cmd, supervised, err := w.jobCmd(tctx, j, dir, limits, box)
	if err != nil {
		return failed("could not start %s: %v", j.Spec.Command, err)
	}
	cmd.Dir, cmd.Stdout, cmd.Stderr, cmd.WaitDelay = dir, stdout, stderr, killGrace
	cmd.Env = jobEnv(j, dir)
	ownGroup(cmd, supervised)
	if box != nil && !box.Fence {
		sandboxAttr(cmd.SysProcAttr, box.Net)
		cmd.Env = sandboxEnv(cmd.Env)
	}
	if cg := w.iso.cgroups; cg != nil {
		jc, err := cg.make()
		if err == nil {
			err = cg.limit(jc, limits)
		}
		if err != nil {
			return failed("no cgroup for the job: %v", err)
		}
		defer jc.remove()
		jc.into(cmd.SysProcAttr)
	}
	end, err := runJob(cmd, supervised)
	var exit *int
	if end != nil {
		exit = &end.code
	}
	switch {
	case errors.Is(tctx.Err(), context.DeadlineExceeded) && ctx.Err() == nil:
		return &outcome{state: compute.StateFailed, exit: exit, message: fmt.Sprintf("timed out after %d s", j.Spec.TimeoutS)}
	case err == nil:
		return &outcome{state: compute.StateSucceeded, exit: exit}
	case end == nil:
		return failed("could not start %s: %v", j.Spec.Command, err)
	case limitSignal(end.signal) != "":
		return &outcome{state: compute.StateFailed, exit: exit, message: "stopped at " + limitSignal(end.signal)}
	case end.code == launchFailed && (limits.set() || supervised):
		return &outcome{state: compute.StateFailed, exit: exit, message: fmt.Sprintf("exited with %d (the command may not have started: see its stderr log)", end.code)}
	default:
		return &outcome{state: compute.StateFailed, exit: exit, message: fmt.Sprintf("exited with %d", end.code)}
	}
}

// ended is how a job's process ended: its exit code, or -1 and the signal
// that killed it.
type ended struct {
	code   int
	signal syscall.Signal
}

// runJob runs cmd and answers how the job ended (nil if it never started).
// A supervised job's end comes from its supervisor's report on a pipe;
// without one (the group was killed: a timeout, a cancel), from the
// supervisor's own.
func runJob(cmd *exec.Cmd, supervised bool) (*ended, error) {
	if !supervised {
		err := cmd.Run()
		return endOf(cmd.ProcessState), err
	}
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer func() { _ = r.Close() }()
	cmd.ExtraFiles = []*os.File{w} // statusFD in the supervisor
	err = cmd.Start()
	_ = w.Close()
	if err != nil {
		return nil, err
	}
	err = cmd.Wait()
	end := endOf(cmd.ProcessState)
	if rep, ok := readStatus(r); ok {
		end = rep
	}
	return end, err
}

// endOf is how a process ended, from its wait status.
func endOf(ps *os.ProcessState) *ended {
	if ps == nil {
		return nil
	}
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return &ended{code: -1, signal: ws.Signal()}
	}
	return &ended{code: ps.ExitCode()}
}

// report is how a supervisor tells the agent: "exit N" or "signal N".
func (e ended) report() string {
	if e.signal != 0 {
		return fmt.Sprintf("signal %d\n", int(e.signal))
	}
	return fmt.Sprintf("exit %d\n", e.code)
}

// exitCode is the code a supervisor ends with, as a shell reports a
// signal.
func (e ended) exitCode() int {
	if e.signal != 0 {
		return 128 + int(e.signal)
	}
	return e.code
}

// maxStatusBytes bounds a supervisor's report.
const maxStatusBytes = 64

// readStatus parses a supervisor's report (see report).
func readStatus(r io.Reader) (*ended, bool) {
	b, _ := io.ReadAll(io.LimitReader(r, maxStatusBytes))
	var kind string
	var n int
	if _, err := fmt.Sscanf(string(b), "%s %d\n", &kind, &n); err != nil {
		return nil, false
	}
	switch kind {
	case "exit":
		return &ended{code: n}, true
	case "signal":
		return &ended{code: -1, signal: syscall.Signal(n)}, true
	}
	return nil, false
}

// jobCmd is the job's command (no shell), and whether it is supervised:
// through a supervisor wherever the agent has a launcher and the system a
// parent-death signal (Linux), else through the launcher when there are
// limits to apply, else started directly. A bare name is looked up on the
// agent's PATH and a relative path is taken from the job's folder, as
// os/exec does, so a missing command fails the job before anything runs.
// A sandboxed job (box) is always supervised: its supervisor builds the
// sandbox.
func (w *worker) jobCmd(ctx context.Context, j *compute.Job, dir string, limits Limits, box *sandboxSpec) (*exec.Cmd, bool, error) {
	path := j.Spec.Command
	switch {
	case filepath.Base(path) == path: // a bare name, as os/exec tells one
		p, err := exec.LookPath(path)
		if err != nil {
			return nil, false, err
		}
		path = p
	case !filepath.IsAbs(path):
		path = filepath.Join(dir, path)
	}
	switch {
	case w.cfg.Launcher != "" && superviseSupported:
		return launch(ctx, w.cfg.Launcher, superviseArg, box, limits, path, j.Spec.Command, j.Spec.Args), true, nil
	case limits.set():
		return launch(ctx, w.cfg.Launcher, launchArg, nil, limits, path, j.Spec.Command, j.Spec.Args), false, nil
	}
	return commandAs(ctx, path, j.Spec.Command, j.Spec.Args), false, nil
}

// commandAs runs the program at path with args, named (argv[0]) as the job
// named it.
func commandAs(ctx context.Context, path, name string, args []string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, path, args...) //nolint:gosec // running the user's command is the point
	cmd.Args[0] = name
	return cmd
}

// jobEnv is a minimal environment: no agent secrets leak to the job.
func jobEnv(j *compute.Job, dir string) []string {
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "TMPDIR=" + dir, "ACQUIRE_JOB_ID=" + j.ID,
		"ACQUIRE_JOB_ATTEMPT=" + strconv.Itoa(j.Attempt),
		"ACQUIRE_JOB_IN=" + filepath.Join(dir, "in"), "ACQUIRE_JOB_OUT=" + filepath.Join(dir, "out")}
	keys := make([]string, 0, len(j.Spec.Env))
	for k := range j.Spec.Env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		env = append(env, k+"="+j.Spec.Env[k])
	}
	return env
}

// upload puts the files the job wrote to out/ (at most MaxOutputFiles)
// and its logs behind the output link.
func (w *worker) upload(ctx context.Context, jobID, link, dir string) error {
	out := filepath.Join(dir, "out")
	n := 0
	err := filepath.WalkDir(out, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err // folders are walked; links and devices are not uploaded
		}
		if n++; n > MaxOutputFiles {
			return fmt.Errorf("over %d output files", MaxOutputFiles)
		}
		rel, err := filepath.Rel(out, p)
		if err != nil {
			return err
		}
		return w.cfg.Drive.Put(ctx, link, compute.OutputName(jobID, "out/"+filepath.ToSlash(rel)), p)
	})
	if err != nil {
		return err
	}
	for _, name := range []string{"stdout.txt", "stderr.txt"} {
		if err := w.cfg.Drive.Put(ctx, link, compute.OutputName(jobID, "logs/"+name), filepath.Join(dir, name)); err != nil {
			return err
		}
	}
	return nil
}

func failed(format string, args ...any) *outcome {
	return &outcome{state: compute.StateFailed, message: fmt.Sprintf(format, args...)}
}
