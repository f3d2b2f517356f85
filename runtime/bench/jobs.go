package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/openacquire/acquire/runtime/access"
	"github.com/openacquire/acquire/runtime/accounting"
	"github.com/openacquire/acquire/runtime/call"
	"github.com/openacquire/acquire/runtime/compute"
	"github.com/openacquire/acquire/runtime/compute/agent"
	"github.com/openacquire/acquire/runtime/crypto"
	"github.com/openacquire/acquire/runtime/identity"
	"github.com/openacquire/acquire/runtime/ledger"
	"github.com/openacquire/acquire/runtime/service"
)

// Jobs: each level runs that many agents (workers of one agent process,
// each claiming on its own), while jobSubmitters users' clients submit
// trivial jobs for the step's duration; the figure is jobs per second
// from the first submission until the last job is settled.
const (
	jobSubmitters  = 4
	jobPriceMicros = 10_000 // 0.01
	// jobSettleWait bounds the wait for the last jobs after submitting stops.
	jobSettleWait = 2 * time.Minute
	// A job costs 7 envelope calls (request, cash_cheque, submit_job,
	// claim_job, finish_job, settle, receipt), each 2 RSA decrypts and a
	// sign, and 6 RSA signatures on authorisations (the user's request and
	// cheque; access's on cash, fulfil and receipt; compute's on settle).
	jobDecrypts  = 14
	jobSigns     = 13
	jobBoundName = "14 RSA decrypts + 13 RSA signs per job (7 envelope calls, 6 signed authorisations), on all cores"
)

func benchJobs(ctx context.Context, env *hostEnv, cfg Config, rep *Report, progress func(string)) error {
	// Its agent serves several users, which it does only in sandboxes.
	if err := sandboxHere(cfg.JobLauncher); err != nil {
		rep.Figures = append(rep.Figures, Figure{Name: "jobs: not run (" + err.Error() + ")"})
		return nil
	}
	progress("jobs: registering a user, a cluster and the catalogue entry")
	je, err := newJobEnv(ctx, env)
	if err != nil {
		return err
	}
	total := 0
	for _, n := range cfg.Concurrency {
		progress(fmt.Sprintf("jobs through the queue, %d agents", n))
		f, err := je.level(ctx, env, n, cfg.Duration, cfg.JobLauncher)
		if err != nil {
			return err
		}
		total += f.Ops
		progress(fmt.Sprintf("empty claims after %d finished jobs", total))
		e, err := je.emptyClaims(ctx, env)
		if err != nil {
			return err
		}
		rep.Figures = append(rep.Figures, f, e)
	}
	progress(fmt.Sprintf("a trivial job's start, %d times supervised, %d times sandboxed", jobStartOps, jobStartOps))
	for _, sandboxed := range []bool{false, true} {
		f, err := jobStart(ctx, cfg.JobLauncher, sandboxed)
		if err != nil {
			return err
		}
		rep.Figures = append(rep.Figures, f)
	}
	return nil
}

// sandboxHere: an agent with launcher can sandbox jobs here.
func sandboxHere(launcher string) error {
	if launcher == "" {
		return errors.New("no job launcher")
	}
	work, err := os.MkdirTemp("", "acquire-bench-check-")
	if err != nil {
		return err
	}
	defer func() { _ = os.RemoveAll(work) }()
	return agent.SandboxWorks(launcher, work)
}

// jobStartOps is how many /bin/true jobs time a job's start, each way.
const jobStartOps = 20

// jobStart times a job's start through the agent's supervisor, without or
// with its sandbox: p50 is the start-to-report wall time, cpu_ms the
// CPU of the supervisor, the job and the agent's clone, per job.
func jobStart(ctx context.Context, launcher string, sandboxed bool) (Figure, error) {
	work, err := os.MkdirTemp("", "acquire-bench-start-")
	if err != nil {
		return Figure{}, err
	}
	defer func() { _ = os.RemoveAll(work) }()
	name := "a job's start: supervised, no sandbox"
	if sandboxed {
		name = "a job's start: supervised in its sandbox"
	}
	sc, err := agent.MeasureStart(ctx, launcher, work, sandboxed, jobStartOps)
	if err != nil {
		return Figure{}, err
	}
	walls := slices.Clone(sc.Walls)
	slices.Sort(walls)
	var sum time.Duration
	for _, w := range walls {
		sum += w
	}
	return Figure{Name: name, Concurrency: 1, Ops: len(walls), PerSecond: float64(len(walls)) / sum.Seconds(),
		P50ms: ms(walls[len(walls)/2]), P99ms: ms(walls[len(walls)-1]), CPUms: ms(sc.CPU)}, nil
}

// emptyClaimOps is how many claims of an empty queue are timed after each
// level: finished jobs leave no queue pointer, so their cost must not grow
// with the jobs run before.
const emptyClaimOps = 20

func (je *jobEnv) emptyClaims(ctx context.Context, env *hostEnv) (Figure, error) {
	var c0, c1 Costs
	env.meter.rsa(&c0)
	ac := &compute.AgentClient{C: je.c, URL: je.cc.URL, Key: je.key, Agent: "empty"}
	s := runSlice(ctx, 1, 0, 0, emptyClaimOps, func(ctx context.Context, _, _ int) error {
		j, err := ac.Claim(ctx)
		if err == nil && j != nil {
			err = fmt.Errorf("bench: claimed job %s from a queue that should be empty", j.ID)
		}
		return err
	})
	if s.firstErr != nil {
		return Figure{}, s.firstErr
	}
	env.meter.rsa(&c1)
	f, err := s.figure(1)
	c := meanCosts([]Costs{c0, c1})
	f.Name, f.BoundName, f.BoundPerSec, f.Costs = "empty claims (after the jobs above)", "2 RSA decrypts + 1 RSA sign per call, one client", 1000/(2*c.DecryptMs+c.SignMs), c
	return withRatio(f), err
}

type jobEnv struct {
	c        *call.Client
	ac       *access.Client
	cc       *compute.Client
	acc      *accounting.Client
	run      string
	key      *compute.ClusterKey
	resource string
	users    []*identity.Session
	accounts []string
	next     int
	mu       sync.Mutex
}

func newJobEnv(ctx context.Context, env *hostEnv) (*jobEnv, error) {
	c := call.NewClient(&call.MemoryPins{})
	key, err := crypto.GenerateKey()
	if err != nil {
		return nil, err
	}
	run := "j" + service.NewID()[:10]
	te := &transferEnv{c: c, id: &identity.Client{C: c, URL: env.h.ServiceURL(identity.Kind)},
		acc: &accounting.Client{C: c, URL: env.h.ServiceURL(accounting.Kind)}, key: key, run: run}
	admin, err := te.login(ctx, "admin")
	if err != nil {
		return nil, err
	}
	for _, add := range []func(context.Context, string, string) error{env.h.Accounting.AddAdmin, env.h.Access.AddAdmin, env.h.Compute.AddAdmin} {
		if err := add(ctx, admin.IdentityURL, admin.UserUID); err != nil {
			return nil, err
		}
	}
	je := &jobEnv{c: c, ac: &access.Client{C: c, URL: env.h.ServiceURL(access.Kind)}, cc: &compute.Client{C: c, URL: env.h.ServiceURL(compute.Kind)},
		acc: te.acc, run: run, resource: "bench/" + run}
	price, _ := ledger.Micros(jobPriceMicros)
	if _, err := je.ac.SetResource(ctx, admin, &access.Resource{Name: je.resource, Price: price, ServiceURL: je.cc.URL,
		Function: "submit_job", HoldS: 6 * 3600}); err != nil {
		return nil, err
	}
	if je.key, err = compute.GenerateClusterKey(strings.ToLower(run)); err != nil {
		return nil, err
	}
	if _, err := je.cc.RegisterCluster(ctx, admin, je.key.Name, je.key.PublicKey()); err != nil {
		return nil, err
	}
	funds, _ := ledger.Units(fundsUnits)
	for i := range jobSubmitters {
		s, err := te.login(ctx, fmt.Sprintf("submitter-%d", i))
		if err != nil {
			return nil, err
		}
		a, err := je.acc.CreateAccount(ctx, s, "jobs", ledger.Zero)
		if err != nil {
			return nil, err
		}
		if _, err := je.acc.Deposit(ctx, admin, run+"-fund-"+a.ID, a.ID, funds, "bench funds"); err != nil {
			return nil, err
		}
		je.users, je.accounts = append(je.users, s), append(je.accounts, a.ID)
	}
	return je, nil
}

// level runs agents agents while submitting for d, waits for every job to
// be settled, and checks each user paid exactly for the jobs it submitted.
func (je *jobEnv) level(ctx context.Context, env *hostEnv, agents int, d time.Duration, launcher string) (Figure, error) {
	work, err := os.MkdirTemp("", "acquire-bench-jobs-")
	if err != nil {
		return Figure{}, err
	}
	defer func() { _ = os.RemoveAll(work) }()
	before, err := je.spent(ctx)
	if err != nil {
		return Figure{}, err
	}
	actx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	var runErr error
	go func() {
		runErr = agent.Run(actx, agent.Config{Client: &compute.AgentClient{C: je.c, URL: je.cc.URL, Key: je.key, Agent: fmt.Sprintf("a%d", agents)},
			Workers: agents, WorkDir: work, PollMin: 5 * time.Millisecond, PollMax: 50 * time.Millisecond, Launcher: launcher})
		close(done)
	}()
	defer func() { stop(); <-done }()
	var c0 Costs
	env.meter.rsa(&c0) // sampled before and after: shared machines drift
	var mu sync.Mutex
	var jobs []string
	start := time.Now()
	s := runSlice(ctx, jobSubmitters, d, 0, 0, func(ctx context.Context, client, _ int) error {
		id, err := je.submit(ctx, client)
		if err == nil {
			mu.Lock()
			jobs = append(jobs, id)
			mu.Unlock()
		}
		return err
	})
	if s.firstErr != nil {
		return Figure{}, s.firstErr
	}
	if err := je.waitSettled(ctx, env, before, len(jobs)); err != nil {
		stop()
		<-done
		if runErr != nil {
			return Figure{}, runErr // the agent never ran
		}
		return Figure{}, err
	}
	elapsed := time.Since(start)
	lat, err := je.latencies(ctx, jobs)
	if err != nil {
		return Figure{}, err
	}
	var c1 Costs
	env.meter.rsa(&c1)
	c := meanCosts([]Costs{c0, c1})
	oneMs := jobDecrypts*c.DecryptMs + jobSigns*c.SignMs
	f := Figure{Name: "jobs, submit to settled", Concurrency: agents, Ops: len(jobs), PerSecond: float64(len(jobs)) / elapsed.Seconds(),
		P50ms: ms(percentile(lat, 0.50)), P99ms: ms(percentile(lat, 0.99)), BoundName: jobBoundName,
		BoundPerSec: float64(runtime.NumCPU()) * 1000 / oneMs, Costs: c}
	return withRatio(f), nil
}

// submit requests one job as user client: a cheque, then the request.
func (je *jobEnv) submit(ctx context.Context, client int) (string, error) {
	je.mu.Lock()
	je.next++
	rid := fmt.Sprintf("%s-%d", je.run, je.next)
	je.mu.Unlock()
	s := je.users[client]
	now := time.Now()
	price, _ := ledger.Micros(jobPriceMicros)
	ch, err := accounting.WriteCheque(s, accounting.ChequeSpec{Bank: je.acc.URL, Account: je.accounts[client], Recipient: je.ac.URL, Max: price,
		Expires: now.Add(time.Hour), For: je.resource}, now)
	if err != nil {
		return "", err
	}
	details, _ := json.Marshal(&compute.JobSpec{Cluster: je.key.Name, Command: "/bin/true", TimeoutS: 60})
	g, err := je.ac.Request(ctx, s, rid, je.resource, string(details), ch)
	if err != nil {
		return "", err
	}
	if g.Outcome != access.OutcomePending {
		return "", fmt.Errorf("bench: job request %s answered %s", rid, g.Outcome)
	}
	return g.RequestUID, nil
}

// spent is what the submitters have paid in all, in micro-units, and
// whether any payment is still held.
func (je *jobEnv) spent(ctx context.Context) (int64, error) {
	funds, _ := ledger.Units(fundsUnits)
	var sum int64
	for i, s := range je.users {
		b, err := je.acc.Balance(ctx, s, je.accounts[i], time.Time{})
		if err != nil {
			return 0, err
		}
		if !b.Liability.IsZero() {
			return -1, nil
		}
		sum += funds.MicroUnits() - b.Balance.MicroUnits()
	}
	return sum, nil
}

// waitSettled waits until n more jobs are paid and nothing is held. The
// bench's host has no sweep timer, so it sweeps now and then itself (a
// settlement that met access mid-request is retried by the sweep).
func (je *jobEnv) waitSettled(ctx context.Context, env *hostEnv, before int64, n int) error {
	want := before + int64(n)*jobPriceMicros
	deadline := time.Now().Add(jobSettleWait)
	lastSweep := time.Now()
	for {
		got, err := je.spent(ctx)
		if err != nil {
			return err
		}
		if got == want {
			return nil
		}
		if got > want {
			return fmt.Errorf("bench: the submitters paid %d micro-units for %d jobs, want %d", got-before, n, want-before)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("bench: %d jobs not all settled after %s (paid %d of %d micro-units)", n, jobSettleWait, got-before, want-before)
		}
		if time.Since(lastSweep) > time.Second {
			env.h.Sweep(ctx)
			lastSweep = time.Now()
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// latencies are the jobs' times from queued to finished, read back after
// the figure's clock stopped.
func (je *jobEnv) latencies(ctx context.Context, jobs []string) ([]time.Duration, error) {
	out := make([]time.Duration, 0, len(jobs))
	for i, id := range jobs {
		j, err := je.cc.Status(ctx, je.users[0], id)
		if err != nil {
			// Only the owner may read a job: try the others.
			for _, s := range je.users[1:] {
				if j, err = je.cc.Status(ctx, s, id); err == nil {
					break
				}
			}
		}
		if err != nil {
			return nil, fmt.Errorf("bench: job %d: %w", i, err)
		}
		if j.State != compute.StateSucceeded || !j.Settled {
			return nil, fmt.Errorf("bench: job %s is %s (settled %v)", id, j.State, j.Settled)
		}
		out = append(out, j.Finished.Sub(j.Created))
	}
	return out, nil
}

func percentile(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	return s[min(len(s)-1, int(p*float64(len(s))))]
}
