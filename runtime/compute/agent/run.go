package agent

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
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
	state   string
	exit    *int
	message string
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
		o = &outcome{state: compute.StateCancelled, exit: o.exit, message: "cancelled by its owner"}
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
	t := time.NewTicker(max(lease/3, 10*time.Millisecond))
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
	limits := w.cfg.Limits.tighter(LimitsOf(j.Spec.Limits))
	if limits.set() && (w.cfg.Launcher == "" || !rlimitsSupported) {
		return failed("this agent cannot apply the job's limits (it has no launcher, or no POSIX limits)")
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
	o := w.command(ctx, j, dir, limits)
	if j.Spec.Output != "" && ctx.Err() == nil {
		if err := w.upload(ctx, j.Spec.Output, dir); err != nil && o.state == compute.StateSucceeded {
			return failed("uploading the outputs: %v", err)
		}
	}
	return o
}

// command runs the job's command with its arguments (no shell), under
// limits, stdout and stderr into size-bounded log files, killed at its
// timeout.
func (w *worker) command(ctx context.Context, j *compute.Job, dir string, limits Limits) *outcome {
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
	cmd, err := w.jobCmd(tctx, j, dir, limits)
	if err != nil {
		return failed("could not start %s: %v", j.Spec.Command, err)
	}
	cmd.Dir, cmd.Stdout, cmd.Stderr, cmd.WaitDelay = dir, stdout, stderr, killGrace
	cmd.Env = jobEnv(j, dir)
	ownGroup(cmd)
	err = cmd.Run()
	code := cmd.ProcessState.ExitCode() // -1 when killed or never started
	exit := &code
	if cmd.ProcessState == nil {
		exit = nil
	}
	switch {
	case errors.Is(tctx.Err(), context.DeadlineExceeded) && ctx.Err() == nil:
		return &outcome{state: compute.StateFailed, exit: exit, message: fmt.Sprintf("timed out after %d s", j.Spec.TimeoutS)}
	case err == nil:
		return &outcome{state: compute.StateSucceeded, exit: exit}
	case cmd.ProcessState == nil:
		return failed("could not start %s: %v", j.Spec.Command, err)
	case limitSignal(cmd.ProcessState) != "":
		return &outcome{state: compute.StateFailed, exit: exit, message: "stopped at " + limitSignal(cmd.ProcessState)}
	case code == launchFailed && limits.set():
		return &outcome{state: compute.StateFailed, exit: exit, message: fmt.Sprintf("exited with %d (the command may not have started: see its stderr log)", code)}
	default:
		return &outcome{state: compute.StateFailed, exit: exit, message: fmt.Sprintf("exited with %d", code)}
	}
}

// jobCmd is the job's command (no shell): started directly, or through
// the launcher when there are limits to apply. A bare name is looked up on the
// agent's PATH and a relative path is taken from the job's folder, as
// os/exec does, so a missing command fails the job before anything runs.
func (w *worker) jobCmd(ctx context.Context, j *compute.Job, dir string, limits Limits) (*exec.Cmd, error) {
	path := j.Spec.Command
	switch {
	case filepath.Base(path) == path: // a bare name, as os/exec tells one
		p, err := exec.LookPath(path)
		if err != nil {
			return nil, err
		}
		path = p
	case !filepath.IsAbs(path):
		path = filepath.Join(dir, path)
	}
	if !limits.set() {
		cmd := exec.CommandContext(ctx, path, j.Spec.Args...) //nolint:gosec // running the user's command is the point
		cmd.Args[0] = j.Spec.Command
		return cmd, nil
	}
	return launch(ctx, w.cfg.Launcher, limits, path, j.Spec.Command, j.Spec.Args), nil
}

// jobEnv is a minimal environment: no agent secrets leak to the job.
func jobEnv(j *compute.Job, dir string) []string {
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "TMPDIR=" + dir, "ACQUIRE_JOB_ID=" + j.ID,
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
func (w *worker) upload(ctx context.Context, link, dir string) error {
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
		return w.cfg.Drive.Put(ctx, link, "out/"+filepath.ToSlash(rel), p)
	})
	if err != nil {
		return err
	}
	for _, name := range []string{"stdout.txt", "stderr.txt"} {
		if err := w.cfg.Drive.Put(ctx, link, "logs/"+name, filepath.Join(dir, name)); err != nil {
			return err
		}
	}
	return nil
}

func failed(format string, args ...any) *outcome {
	return &outcome{state: compute.StateFailed, message: fmt.Sprintf(format, args...)}
}
