package compute_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openacquire/acquire/runtime/access"
	"github.com/openacquire/acquire/runtime/accounting"
	"github.com/openacquire/acquire/runtime/call"
	"github.com/openacquire/acquire/runtime/compute"
	"github.com/openacquire/acquire/runtime/compute/agent"
	"github.com/openacquire/acquire/runtime/host"
	"github.com/openacquire/acquire/runtime/host/hosttest"
	"github.com/openacquire/acquire/runtime/identity"
	"github.com/openacquire/acquire/runtime/ledger"
)

const (
	pw      = "correct horse battery"
	price   = "2"
	cluster = "c1"
)

type fixture struct {
	env          *hosttest.Env
	acc          *accounting.Client
	ac           *access.Client
	cc           *compute.Client
	alice, carol *identity.Session
	main         string // alice's account, 100 deposited
	key          *compute.ClusterKey
	n            int
}

func setup(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	env := hosttest.Start(t, hosttest.Options{Kinds: host.Kinds})
	users := env.Users(t, pw, "alice", "carol")
	f := &fixture{env: env, acc: env.Accounting(), ac: &access.Client{C: env.Client, URL: env.Host.ServiceURL(access.Kind)},
		cc: &compute.Client{C: env.Client, URL: env.Host.ServiceURL(compute.Kind)}, alice: users["alice"], carol: users["carol"]}
	c := f.carol
	for _, add := range []func(context.Context, string, string) error{env.Host.Accounting.AddAdmin, env.Host.Access.AddAdmin, env.Host.Compute.AddAdmin} {
		if err := add(ctx, c.IdentityURL, c.UserUID); err != nil {
			t.Fatal(err)
		}
	}
	acc, err := f.acc.CreateAccount(ctx, f.alice, "main", ledger.Zero)
	if err != nil {
		t.Fatal(err)
	}
	f.main = acc.ID
	if _, err := f.acc.Deposit(ctx, c, "dep-1", f.main, ledger.MustParse("100"), ""); err != nil {
		t.Fatal(err)
	}
	r := &access.Resource{Name: "job/run", Price: ledger.MustParse(price), ServiceURL: f.cc.URL, Function: "submit_job", HoldS: 6 * 3600}
	if _, err := f.ac.SetResource(ctx, c, r); err != nil {
		t.Fatal(err)
	}
	if f.key, err = compute.GenerateClusterKey(cluster); err != nil {
		t.Fatal(err)
	}
	if _, err := f.cc.RegisterCluster(ctx, c, cluster, f.key.PublicKey()); err != nil {
		t.Fatal(err)
	}
	return f
}

// submit requests a job through the access service, paid by a new cheque.
func (f *fixture) submit(t *testing.T, spec compute.JobSpec) (string, error) {
	t.Helper()
	f.n++
	id := "req-" + string(rune('a'+f.n))
	now := f.env.Clock.Now()
	ch, err := accounting.WriteCheque(f.alice, accounting.ChequeSpec{Bank: f.env.Host.ServiceURL(accounting.Kind), Account: f.main, Recipient: f.ac.URL,
		Max: ledger.MustParse(price), Expires: now.Add(time.Hour), For: "job/run"}, now)
	if err != nil {
		t.Fatal(err)
	}
	if spec.Cluster == "" {
		spec.Cluster = cluster
	}
	if spec.TimeoutS == 0 {
		spec.TimeoutS = 60
	}
	details, _ := json.Marshal(spec)
	g, err := f.ac.Request(context.Background(), f.alice, id, "job/run", string(details), ch)
	if err != nil {
		return "", err
	}
	var sub compute.Submitted
	if g.Outcome != access.OutcomePending || json.Unmarshal(g.Result, &sub) != nil || !sub.Deferred || sub.JobID != g.RequestUID {
		t.Fatalf("grant %+v (%s)", g, g.Result)
	}
	return sub.JobID, nil
}

func (f *fixture) agentClient(name string) *compute.AgentClient {
	return &compute.AgentClient{C: f.env.Client, URL: f.cc.URL, Key: f.key, Agent: name}
}

// startAgent runs an agent until the returned stop is called (which
// waits for it to return).
func (f *fixture) startAgent(t *testing.T, name string, workers int) (stop func()) {
	t.Helper()
	return f.startAgentWith(t, agent.Config{Client: f.agentClient(name), Workers: workers})
}

func (f *fixture) startAgentWith(t *testing.T, cfg agent.Config) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	cfg.WorkDir, cfg.Lease, cfg.PollMin, cfg.PollMax = t.TempDir(), 300*time.Millisecond, 20*time.Millisecond, 100*time.Millisecond
	// Agents without a launcher cannot sandbox; these tests have one user.
	cfg.UnsandboxedSingleTenant = cfg.Launcher == "" && cfg.Limits == (agent.Limits{})
	go func() { done <- agent.Run(ctx, cfg) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Error(err)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// wait polls the job until cond holds (real time: agents run processes).
func (f *fixture) wait(t *testing.T, id string, what string, cond func(*compute.Job) bool) *compute.Job {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		j, err := f.cc.Status(context.Background(), f.alice, id)
		if err != nil {
			t.Fatal(err)
		}
		if cond(j) {
			return j
		}
		if time.Now().After(deadline) {
			t.Fatalf("job never %s: %+v", what, j)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func settled(state string) func(*compute.Job) bool {
	return func(j *compute.Job) bool { return j.State == state && j.Settled }
}

// money checks alice's balance and liability and the access service's income.
func (f *fixture) money(t *testing.T, balance, liability, income string) {
	t.Helper()
	ctx := context.Background()
	b, err := f.acc.Balance(ctx, f.alice, f.main, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if b.Balance != ledger.MustParse(balance) || b.Liability != ledger.MustParse(liability) {
		t.Fatalf("alice: balance %s liability %s; want %s %s", b.Balance, b.Liability, balance, liability)
	}
	ib, err := f.acc.Balance(ctx, f.env.Host.Access.Service(), f.env.Host.Access.IncomeAccountID(), time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if ib.Balance != ledger.MustParse(income) {
		t.Fatalf("income %s, want %s", ib.Balance, income)
	}
	rep, err := f.env.Host.Accounting.Ledger().Audit(ctx)
	if err != nil || rep.Total != "0.000000" || len(rep.Anomalies) != 0 {
		t.Fatalf("audit: %v %+v", err, rep)
	}
}

func wantClass(t *testing.T, err error, class *call.Error) {
	t.Helper()
	if !errors.Is(err, class) {
		t.Fatalf("want %s, got %v", class.Class, err)
	}
}

// lines counts the lines of a file the jobs append to.
func lines(t *testing.T, path string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return 0
	} else if err != nil {
		t.Fatal(err)
	}
	return strings.Count(string(b), "\n")
}

func sh(script string) compute.JobSpec {
	return compute.JobSpec{Command: "/bin/sh", Args: []string{"-c", script}}
}

// Many agents claim one job at once: exactly one wins. Then two running
// agents compete for a job: its command runs once, paid once.
func TestTwoAgentsCompeteJobRunsOnce(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	id, err := f.submit(t, compute.JobSpec{Command: "/bin/true"})
	if err != nil {
		t.Fatal(err)
	}
	f.money(t, "100", "2", "0")
	const racers = 8
	var wg sync.WaitGroup
	won := make(chan *compute.Job, racers)
	for i := range racers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			j, err := f.agentClient("racer-" + string(rune('a'+i))).Claim(ctx)
			if err != nil {
				t.Error(err)
			}
			if j != nil {
				won <- j
			}
		}()
	}
	wg.Wait()
	close(won)
	var winners []*compute.Job
	for j := range won {
		winners = append(winners, j)
	}
	if len(winners) != 1 || winners[0].ID != id || winners[0].Attempt != 1 || winners[0].State != compute.StateRunning {
		t.Fatalf("winners %+v", winners)
	}
	w := winners[0]
	if j, err := f.agentClient("late").Claim(ctx); err != nil || j != nil {
		t.Fatalf("a second claim got %+v, %v", j, err)
	}
	zero := 0
	if _, err := f.agentClient(w.Agent).Finish(ctx, w.ID, w.Attempt, compute.StateSucceeded, &zero, "", ""); err != nil {
		t.Fatal(err)
	}
	f.wait(t, id, "settled", settled(compute.StateSucceeded))
	f.money(t, "98", "0", "2")

	// Two agents, one job that appends a line: it runs once.
	out := filepath.Join(t.TempDir(), "ran")
	f.startAgent(t, "a", 2)
	f.startAgent(t, "b", 2)
	id2, err := f.submit(t, sh("echo ran >> "+out))
	if err != nil {
		t.Fatal(err)
	}
	j := f.wait(t, id2, "settled", settled(compute.StateSucceeded))
	time.Sleep(200 * time.Millisecond) // room for a wrong second run to show
	if n := lines(t, out); n != 1 || j.Attempt != 1 || j.ExitCode == nil || *j.ExitCode != 0 {
		t.Fatalf("ran %d times; job %+v", n, j)
	}
	f.money(t, "96", "0", "4")
	f.noPointers(t)
}

// An agent killed mid-job (its process group SIGKILLed, no report): after
// the lease, another agent runs the job again; the user pays once, and
// the dead attempt can no longer report.
func TestKilledAgentJobRunsAgainPaidOnce(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	out := filepath.Join(t.TempDir(), "ran")
	// The first run waits long; the second finds its line and ends.
	id, err := f.submit(t, sh(`echo ran >> `+out+`; [ "$(wc -l < `+out+`)" -ge 2 ] || sleep 60`))
	if err != nil {
		t.Fatal(err)
	}
	stopA := f.startAgent(t, "a", 1)
	first := f.wait(t, id, "running", func(j *compute.Job) bool { return j.State == compute.StateRunning })
	for lines(t, out) < 1 {
		time.Sleep(10 * time.Millisecond)
	}
	stopA() // the agent dies: its child is killed, nothing is reported
	if j, _ := f.cc.Status(ctx, f.alice, id); j.State != compute.StateRunning || j.Attempt != 1 {
		t.Fatalf("after the kill: %+v", j)
	}
	f.money(t, "100", "2", "0")
	// Before the lease passes, nobody else may take it.
	if j, err := f.agentClient("b").Claim(ctx); err != nil || j != nil {
		t.Fatalf("claimed under a live lease: %+v %v", j, err)
	}
	f.env.Clock.Advance(f.env.Host.Compute.Lease() + time.Second)
	f.startAgent(t, "b", 1)
	j := f.wait(t, id, "settled", settled(compute.StateSucceeded))
	if n := lines(t, out); n != 2 || j.Attempt != 2 || !strings.HasPrefix(j.Agent, "b-") {
		t.Fatalf("ran %d times; job %+v", n, j)
	}
	// The dead attempt's late report is refused and changes nothing.
	zero := 0
	_, err = f.agentClient(first.Agent).Finish(ctx, id, 1, compute.StateSucceeded, &zero, "", "")
	wantClass(t, err, compute.ErrLeaseLost)
	_, err = f.agentClient(first.Agent).Heartbeat(ctx, id, 1)
	wantClass(t, err, compute.ErrLeaseLost)
	f.money(t, "98", "0", "2")
	f.noPointers(t)
}

// noPointers checks the queue and the unsettled index are empty once every
// job is final and settled: claims never list finished jobs.
func (f *fixture) noPointers(t *testing.T) {
	t.Helper()
	b := f.env.Host.Compute.Service().Bucket()
	for _, pre := range []string{"compute/queue/", "compute/unsettled/"} {
		items, err := b.ListAll(context.Background(), pre, 100)
		if err != nil || len(items) != 0 {
			t.Fatalf("%s holds %d pointers (%v): %+v", pre, len(items), err, items)
		}
	}
}

// A job that exits non-zero is failed and refunded; so is one whose
// command cannot start.
func TestFailedJobRefunded(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	f.startAgent(t, "a", 1)
	id, err := f.submit(t, sh("echo oops >&2; exit 3"))
	if err != nil {
		t.Fatal(err)
	}
	j := f.wait(t, id, "settled", settled(compute.StateFailed))
	if j.ExitCode == nil || *j.ExitCode != 3 {
		t.Fatalf("job %+v", j)
	}
	id2, err := f.submit(t, compute.JobSpec{Command: "/no/such/command"})
	if err != nil {
		t.Fatal(err)
	}
	j2 := f.wait(t, id2, "settled", settled(compute.StateFailed))
	if !strings.Contains(j2.Message, "could not start") {
		t.Fatalf("job %+v", j2)
	}
	f.money(t, "100", "0", "0")
	// The user's retry of the request answers the failure.
	now := f.env.Clock.Now()
	ch, _ := accounting.WriteCheque(f.alice, accounting.ChequeSpec{Bank: f.env.Host.ServiceURL(accounting.Kind), Account: f.main, Recipient: f.ac.URL,
		Max: ledger.MustParse(price), Expires: now.Add(time.Hour), For: "job/run"}, now)
	_, err = f.ac.Request(ctx, f.alice, "other", "job/run", "{}", ch)
	wantClass(t, err, access.ErrFulfilmentFailed) // and a bad spec is refused, refunded
	f.money(t, "100", "0", "0")
}

// Cancelling a pending job refunds at once; cancelling a running one
// stops it on the agent's next heartbeat and refunds.
func TestCancelRefunds(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	id, err := f.submit(t, sh("sleep 60"))
	if err != nil {
		t.Fatal(err)
	}
	j, err := f.cc.Cancel(ctx, f.alice, id)
	if err != nil || j.State != compute.StateCancelled {
		t.Fatalf("%+v %v", j, err)
	}
	f.wait(t, id, "settled", settled(compute.StateCancelled))
	f.money(t, "100", "0", "0")
	if again, err := f.cc.Cancel(ctx, f.alice, id); err != nil || again.State != compute.StateCancelled {
		t.Fatalf("repeat: %+v %v", again, err)
	}
	// Nobody else may cancel or read it.
	_, err = f.cc.Cancel(ctx, f.env.Users(t, pw, "mallory")["mallory"], id)
	wantClass(t, err, call.ErrNotFound)

	id2, err := f.submit(t, sh("sleep 60"))
	if err != nil {
		t.Fatal(err)
	}
	f.startAgent(t, "a", 1)
	f.wait(t, id2, "running", func(j *compute.Job) bool { return j.State == compute.StateRunning })
	j, err = f.cc.Cancel(ctx, f.alice, id2)
	if err != nil || !j.CancelRequested {
		t.Fatalf("%+v %v", j, err)
	}
	f.wait(t, id2, "settled", settled(compute.StateCancelled))
	f.money(t, "100", "0", "0")
}

// A settlement that fails (access unreachable) leaves the job unsettled
// and the money held; the host's sweep settles it later, once.
func TestSweepSettlesLater(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	id, err := f.submit(t, compute.JobSpec{Command: "/bin/true"})
	if err != nil {
		t.Fatal(err)
	}
	ag := f.agentClient("a")
	j, err := ag.Claim(ctx)
	if err != nil || j == nil {
		t.Fatal(j, err)
	}
	hc := f.env.Host.Client.HTTP
	saved := hc.Transport
	hc.Transport = blockPath{inner: saved, path: "/access"}
	zero := 0
	done, err := ag.Finish(ctx, id, 1, compute.StateSucceeded, &zero, "", "")
	hc.Transport = saved
	if err != nil || done.State != compute.StateSucceeded || done.Settled {
		t.Fatalf("%+v %v", done, err)
	}
	f.money(t, "100", "2", "0")
	f.env.Host.Sweep(ctx)
	f.wait(t, id, "settled", settled(compute.StateSucceeded))
	f.money(t, "98", "0", "2")
	f.env.Host.Sweep(ctx) // nothing left to do, and nothing paid twice
	f.money(t, "98", "0", "2")
	f.noPointers(t)
}

// A queued job that can no longer end before its payment's hold ends is
// failed by the sweep and refunded, before the hold would have expired.
func TestSweepFailsJobPastItsDeadline(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	spec := compute.JobSpec{Command: "/bin/true", TimeoutS: 5 * 3600} // fits the 6 h hold when submitted
	id, err := f.submit(t, spec)
	if err != nil {
		t.Fatal(err)
	}
	f.env.Host.Sweep(ctx)
	if j, _ := f.cc.Status(ctx, f.alice, id); j.State != compute.StatePending {
		t.Fatalf("swept too early: %+v", j)
	}
	f.env.Clock.Advance(time.Hour) // now + 5 h passes the deadline (6 h - 5 min)
	f.env.Host.Sweep(ctx)
	j := f.wait(t, id, "settled", settled(compute.StateFailed))
	if !strings.Contains(j.Message, "hold") {
		t.Fatalf("job %+v", j)
	}
	f.money(t, "100", "0", "0")
	if j, err := f.agentClient("a").Claim(ctx); err != nil || j != nil {
		t.Fatalf("claimed a failed job: %+v %v", j, err)
	}
}

// TestListJobs: a user's jobs list newest first, in pages; nobody else
// sees them; a bad limit or page token is refused.
func TestListJobs(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	var ids []string
	for range 3 {
		id, err := f.submit(t, sh("sleep 60"))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
		f.env.Clock.Advance(time.Second)
	}
	first, err := f.cc.ListJobs(ctx, f.alice, "", 2)
	if err != nil || len(first.Jobs) != 2 || first.Next == "" {
		t.Fatalf("first page: %+v %v", first, err)
	}
	rest, err := f.cc.ListJobs(ctx, f.alice, first.Next, 2)
	if err != nil || len(rest.Jobs) != 1 || rest.Next != "" {
		t.Fatalf("second page: %+v %v", rest, err)
	}
	got := []string{first.Jobs[0].ID, first.Jobs[1].ID, rest.Jobs[0].ID}
	if !slices.Equal(got, []string{ids[2], ids[1], ids[0]}) {
		t.Fatalf("listed %v, want newest first %v", got, []string{ids[2], ids[1], ids[0]})
	}
	if j := first.Jobs[0]; j.State != compute.StatePending || j.Spec.Cluster != cluster {
		t.Fatalf("listed job %+v", j)
	}
	other, err := f.cc.ListJobs(ctx, f.carol, "", 0)
	if err != nil || len(other.Jobs) != 0 {
		t.Fatalf("another user's list: %+v %v", other, err)
	}
	_, err = f.cc.ListJobs(ctx, f.alice, "", compute.MaxListLimit+1)
	wantClass(t, err, call.ErrBadArguments)
	_, err = f.cc.ListJobs(ctx, f.alice, "not a token", 0)
	wantClass(t, err, call.ErrBadArguments)
}

// TestAdminCancelKeepsLinks: an admin who cancels a job sees its drive
// links without their secrets, but the job keeps them: its owner still
// reads them afterwards, pending or running.
func TestAdminCancelKeepsLinks(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	in, out := "https://drive.test/par/in#secret-in", "https://drive.test/par/out#secret-out"
	spec := compute.JobSpec{Command: "/bin/true", Input: in, Output: out}
	pending, err := f.submit(t, spec)
	if err != nil {
		t.Fatal(err)
	}
	running, err := f.submit(t, spec)
	if err != nil {
		t.Fatal(err)
	}
	// The agent claims the older job first; neither is run for real.
	if j, err := f.agentClient("a").Claim(ctx); err != nil || j == nil || j.ID != pending {
		t.Fatalf("claim: %+v %v", j, err)
	}
	pending, running = running, pending
	for _, id := range []string{pending, running} {
		j, err := f.cc.Cancel(ctx, f.carol, id)
		if err != nil {
			t.Fatalf("admin cancel %s: %v", id, err)
		}
		if strings.Contains(j.Spec.Input+j.Spec.Output, "secret") {
			t.Fatalf("the admin was answered the owner's secrets: %+v", j.Spec)
		}
		if again, err := f.cc.Status(ctx, f.carol, id); err != nil || strings.Contains(again.Spec.Input+again.Spec.Output, "secret") {
			t.Fatalf("admin status: %+v %v", again, err)
		}
		own, err := f.cc.Status(ctx, f.alice, id)
		if err != nil {
			t.Fatal(err)
		}
		if own.Spec.Input != in || own.Spec.Output != out {
			t.Fatalf("after an admin's cancel the job holds links %q %q; want %q %q", own.Spec.Input, own.Spec.Output, in, out)
		}
	}
	if j, _ := f.cc.Status(ctx, f.alice, running); !j.CancelRequested {
		t.Fatalf("running job not asked to cancel: %+v", j)
	}
}
