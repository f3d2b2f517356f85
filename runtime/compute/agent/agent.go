// Package agent is a cluster's agent: workers that claim jobs from a
// compute service, run each as a local process (no shell) in a fresh
// folder under a hard timeout, keep its lease alive with heartbeats, move
// its inputs and outputs through a Drive, and report how it ended.
//
// An agent that stops (its context ends, or the process dies) abandons
// its running jobs without reporting: their leases pass and another agent
// runs them again. The service pays for a job once whatever happens.
package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/openacquire/acquire/runtime/call"
	"github.com/openacquire/acquire/runtime/compute"
	"github.com/openacquire/acquire/runtime/wait"
)

// Limits and defaults.
const (
	DefaultWorkers     = 1
	MaxWorkers         = 64
	DefaultPollMin     = 200 * time.Millisecond
	DefaultPollMax     = 5 * time.Second
	DefaultMaxLogBytes = 1 << 20 // per stream; the rest is dropped and noted
	// CancelCheck bounds the time between a running job's heartbeats, so
	// the agent hears of its owner's cancel within it rather than a third
	// of the lease (20 s by default): one small call per running job.
	CancelCheck    = 3 * time.Second
	MaxOutputFiles = 1000
	// claimTimeout bounds one claim call.
	claimTimeout = 30 * time.Second
	// finishTries bounds the attempts to report a job's end.
	finishTries = 5
	// killGrace is how long a killed command's pipes may stay open.
	killGrace = 5 * time.Second
)

// Drive moves a job's files. Fetch places the files behind a read link
// in dir; Put uploads the local file at path under name (slash-separated,
// e.g. "<job>/out/result.txt" or "<job>/logs/stdout.txt") behind a write
// link.
type Drive interface {
	Fetch(ctx context.Context, link, dir string) error
	Put(ctx context.Context, link, name, path string) error
}

// Config of an agent.
type Config struct {
	// Client is the cluster's client; each worker calls as Client.Agent
	// with "-<n>" appended, so the service can tell workers apart.
	Client  *compute.AgentClient
	Workers int
	// WorkDir holds the jobs' folders (default: the system's temp folder).
	WorkDir string
	// Drive moves inputs and outputs; nil fails jobs that name links.
	Drive Drive
	// Lease bounds the lease heartbeats assume (default
	// compute.DefaultLease); a claim's own shorter lease wins. A heartbeat
	// goes every third of it, or every CancelCheck if that is sooner.
	Lease            time.Duration
	PollMin, PollMax time.Duration
	MaxLogBytes      int64
	// Limits bound every process of every job; zero leaves them unbounded.
	// A job may ask for tighter ones (compute.JobLimits), never looser.
	Limits Limits
	// Launcher is the executable that applies limits before it becomes the
	// job's command, and on Linux supervises every job so that it dies
	// with the agent (see ExecIfLaunched). Default: this program's own when
	// Limits are set, else none: then a job that asks for limits fails
	// (and is refunded), and only a job's first process dies with the
	// agent. A program that calls ExecIfLaunched should set it to its own
	// path.
	Launcher string
	// UnsandboxedSingleTenant lets an agent that cannot sandbox its jobs
	// (no launcher, no Linux, no unprivileged user namespaces) run them
	// anyway, and then only the jobs of one user, the first it claims: a
	// job outside a sandbox can read and change whatever the agent's user
	// can, the jobs of others included. Without it such an agent does not
	// start.
	UnsandboxedSingleTenant bool
	// NetworkResources are the access resources whose jobs keep the
	// host's network; every other sandboxed job has a network of its own
	// with only a loopback.
	NetworkResources []string
	// Hide are files and folders a sandboxed job must not see should they
	// lie under the system folders it sees (the cluster key file, the
	// agent's wallet and configuration); elsewhere it sees nothing anyway.
	Hide []string
	// CgroupDir is a cgroup v2 folder the agent may write (a delegated
	// subtree, with the agent inside it): each job then runs in a cgroup
	// of its own there, its memory limit and process limit totals for the
	// job where the folder has the memory and pids controllers, and the
	// whole cgroup is killed when the job ends. Empty, or unusable (said
	// at start): per-process limits only.
	CgroupDir string
	Logger    *slog.Logger
	// OnIdle, if set, is called when a worker finds no job (tests, benches).
	OnIdle func()
}

func (c *Config) defaults() error {
	if c.Client == nil || c.Client.Key == nil {
		return errors.New("agent: a cluster client with its key is required")
	}
	if c.Workers == 0 {
		c.Workers = DefaultWorkers
	}
	if c.Workers < 1 || c.Workers > MaxWorkers {
		return fmt.Errorf("agent: workers must be in [1, %d]", MaxWorkers)
	}
	if c.WorkDir == "" {
		c.WorkDir = os.TempDir()
	}
	// Absolute, so that a job's relative command names the same file from
	// the agent and from inside the job's folder.
	wd, err := filepath.Abs(c.WorkDir)
	if err != nil {
		return fmt.Errorf("agent: work folder: %w", err)
	}
	c.WorkDir = wd
	if c.Lease == 0 {
		c.Lease = compute.DefaultLease
	}
	if c.PollMin == 0 {
		c.PollMin = DefaultPollMin
	}
	if c.PollMax == 0 {
		c.PollMax = DefaultPollMax
	}
	if c.MaxLogBytes == 0 {
		c.MaxLogBytes = DefaultMaxLogBytes
	}
	if err := c.Limits.Validate(); err != nil {
		return err
	}
	if c.Limits.set() && c.Launcher == "" {
		exe, err := os.Executable()
		if err != nil {
			return fmt.Errorf("agent: job limits need this program's path to launch jobs through: %w", err)
		}
		c.Launcher = exe
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}

// Run runs the workers until ctx ends. It first checks, and logs, how it
// can isolate jobs here (see checkIsolation).
func Run(ctx context.Context, cfg Config) error {
	if err := cfg.defaults(); err != nil {
		return err
	}
	iso, err := checkIsolation(&cfg)
	if err != nil {
		return err
	}
	done := make(chan struct{}, cfg.Workers+1)
	go func() { sweeps(ctx, cfg.WorkDir, cfg.Logger); done <- struct{}{} }()
	for i := range cfg.Workers {
		cl := *cfg.Client
		cl.Agent = fmt.Sprintf("%s-%d", cfg.Client.Agent, i)
		w := &worker{cfg: &cfg, iso: iso, c: &cl, log: cfg.Logger.With("agent", cl.Agent)}
		go func() { w.loop(ctx); done <- struct{}{} }()
	}
	for range cfg.Workers + 1 {
		<-done
	}
	return nil
}

// SweepEvery is how often an agent removes the job folders that agents
// which died left in its work folder (see sweepFolders); it also does at
// start.
const SweepEvery = 10 * time.Minute

func sweeps(ctx context.Context, workDir string, log *slog.Logger) {
	t := time.NewTicker(SweepEvery)
	defer t.Stop()
	for {
		n, err := sweepFolders(workDir)
		if n > 0 {
			log.Info("removed job folders left by agents that died", "folders", n)
		}
		if err != nil {
			log.Warn("sweeping job folders", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

type worker struct {
	cfg *Config
	iso *isolation
	c   *compute.AgentClient
	log *slog.Logger
}

// loop claims and runs jobs, polling with a doubling backoff while idle.
func (w *worker) loop(ctx context.Context) {
	idle := w.cfg.PollMin
	for ctx.Err() == nil {
		// A claim in flight completes even if the agent is stopping, so no
		// call outlives Run on the service's side; a job it brings back is
		// then abandoned to its lease like any other.
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), claimTimeout)
		j, err := w.c.Claim(cctx)
		cancel()
		if ctx.Err() != nil {
			return
		}
		if err == nil && j != nil {
			idle = w.cfg.PollMin
			w.run(ctx, j)
			continue
		}
		if err != nil {
			w.log.Warn("claim failed", "err", err)
		} else if w.cfg.OnIdle != nil {
			w.cfg.OnIdle()
		}
		if wait.Sleep(ctx, idle) != nil {
			return
		}
		idle = min(2*idle, w.cfg.PollMax)
	}
}

// finish reports the end, retrying transient failures (each try is a
// freshly signed call). A lost lease ends it: another attempt owns the job.
func (w *worker) finish(ctx context.Context, j *compute.Job, o *outcome) {
	for i := range finishTries {
		_, err := w.c.Finish(ctx, j.ID, j.Attempt, o.state, o.exit, o.message, o.isolation)
		if err == nil {
			w.log.Info("job finished", "job", j.ID, "attempt", j.Attempt, "state", o.state)
			return
		}
		var ce *call.Error
		if errors.As(err, &ce) && !errors.Is(err, call.ErrUnavailable) && !errors.Is(err, call.ErrBusy) &&
			!errors.Is(err, call.ErrInternal) && !errors.Is(err, call.ErrInProgress) {
			w.log.Warn("finish refused", "job", j.ID, "err", err)
			return
		}
		w.log.Warn("finish failed; retrying", "job", j.ID, "err", err)
		if wait.Sleep(ctx, time.Duration(100<<i)*time.Millisecond) != nil {
			return
		}
	}
}
