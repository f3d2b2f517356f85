package bench

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"time"

	"github.com/openacquire/acquire/runtime/identity"
	"github.com/openacquire/acquire/runtime/ledger/ledgerbench"
)

// Floors of the session fast path (issue 23): authenticated calls
// (balance reads) and transfers between distinct accounts per second, on
// the machine's cores shared by the clients and the host.
const (
	FastReadFloor     = 5000
	FastTransferFloor = 1000
)

// benchFastPath measures calls carried on fast-path channels beside the
// same calls through the envelope, in the same run and on the same users:
// balance reads (one authenticated call and a ledger read each) and
// transfers between distinct accounts, whose bound is the ledger's own
// rate at the same clients (no envelope, no network). It also times the
// per-call price of ending sessions at once: one store read of a missing
// object.
func benchFastPath(ctx context.Context, env *hostEnv, cfg Config, rep *Report, progress func(string)) error {
	users := slices.Max(cfg.Concurrency)
	progress(fmt.Sprintf("fast path: registering %d users and funding their accounts", users))
	te, err := newTransferEnv(ctx, env, users)
	if err != nil {
		return err
	}
	fast := make([]*identity.Session, users)
	for i, p := range te.payers {
		s := *p.s // the same session, with its calls on channels
		fast[i] = s.UseFastPath()
		if err := te.expect(ctx, fast[i], p.out, fundsUnits*1_000_000); err != nil { // opens the channel
			return fmt.Errorf("bench: opening a fast-path channel: %w", err)
		}
	}
	rep.Figures = append(rep.Figures, markerRead(ctx, env))
	noCosts := func(*Costs) {}
	distinctOps := 0
	for _, n := range cfg.Concurrency {
		reads := func(s func(client int) *identity.Session) workload {
			return workload{conc: n, d: cfg.Duration, rounds: timedRounds, op: func(ctx context.Context, client, _ int) error {
				_, err := te.acc.Balance(ctx, s(client), te.payers[client].out, time.Time{})
				return err
			}}
		}
		progress(fmt.Sprintf("balance reads through the envelope, %d concurrent", n))
		old, _, err := measured(ctx, noCosts, reads(func(c int) *identity.Session { return te.payers[c].s }))
		if err != nil {
			return err
		}
		progress(fmt.Sprintf("balance reads on fast-path channels, %d concurrent", n))
		fr, err := withCPU(func() (Figure, error) {
			f, _, err := measured(ctx, noCosts, reads(func(c int) *identity.Session { return fast[c] }))
			return f, err
		})
		if err != nil {
			return err
		}
		old.Name, fr.Name = "balance reads, envelope", "balance reads, fast path"
		fr.BoundName, fr.BoundPerSec = "the envelope's figure at these clients", old.PerSecond
		fr.Floor = FastReadFloor
		progress(fmt.Sprintf("transfers between distinct accounts on fast-path channels, %d concurrent", n))
		ft, err := withCPU(func() (Figure, error) {
			f, _, err := measured(ctx, noCosts, workload{conc: n, d: cfg.Duration, rounds: timedRounds, op: func(ctx context.Context, client, _ int) error {
				return te.pay(ctx, fast[client], te.payers[client].out, te.distinctPayee(client))
			}})
			return f, err
		})
		if err != nil {
			return err
		}
		distinctOps += ft.Ops
		ft.Name, ft.Floor = "transfers, distinct accounts, fast path", FastTransferFloor
		if ft.BoundPerSec, err = ledgerRate(ctx, env, cfg, rep, n); err != nil {
			return err
		}
		ft.BoundName = "the ledger alone, distinct accounts, at these clients (no envelope, no network)"
		rep.Figures = append(rep.Figures, old, withRatio(fr), cpuBound(fr, rep.Cores), withRatio(ft), cpuBound(ft, rep.Cores))
	}
	return te.check(ctx, distinctOps, 0)
}

// ledgerRate is the ledger's own rate over distinct accounts at n
// clients: the figure the ledger step printed in this run, or, when it
// did not run, a measurement made now.
func ledgerRate(ctx context.Context, env *hostEnv, cfg Config, rep *Report, n int) (float64, error) {
	for _, f := range rep.Figures {
		if f.Name == "ledger alone, distinct accounts" && f.Concurrency == n {
			return f.PerSecond, nil
		}
	}
	storeURL := cfg.StoreURL
	if env.tmp != "" {
		storeURL = "file://" + filepath.Join(env.tmp, fmt.Sprintf("ledger-fastpath-%d", n))
	}
	lr, err := ledgerbench.Run(ctx, ledgerbench.Config{StoreURL: storeURL, Duration: cfg.Duration, Concurrency: []int{n}})
	if err != nil {
		return 0, err
	}
	return lr.Levels[0].Distinct.PerSecond, nil
}

// markerRead times the read every fast-path call makes of its session's
// end marker, which is absent while the session lives, on the accounting
// service's own store.
func markerRead(ctx context.Context, env *hostEnv) Figure {
	b := env.h.Accounting.Service().Bucket()
	const n = 2000
	lat := make([]time.Duration, 0, n)
	start := time.Now()
	for i := range n {
		t0 := time.Now()
		_, _, _ = b.Get(ctx, fmt.Sprintf("fastpath/ended/bench-%d", i))
		lat = append(lat, time.Since(t0))
	}
	el := time.Since(start)
	slices.Sort(lat)
	return Figure{Name: "session-end marker reads (context: one per fast-path call)", Concurrency: 1, Ops: n,
		PerSecond: n / el.Seconds(), P50ms: ms(lat[n/2]), P99ms: ms(lat[n*99/100])}
}

// withCPU runs a measurement and sets its figure's CPU time per operation:
// this process's, client and host together, over the operations counted.
func withCPU(run func() (Figure, error)) (Figure, error) {
	before := processCPU()
	f, err := run()
	if f.Ops > 0 {
		f.CPUms = ms(processCPU()-before) / float64(f.Ops)
	}
	return f, err
}

// cpuBound is the rate a figure's CPU cost per operation allows when this
// process has every core to itself: the fair anchor on a machine shared
// with other work, where the process gets only part of the cores.
func cpuBound(f Figure, cores int) Figure {
	out := Figure{Name: f.Name + ": cores ÷ CPU per op (context)", Concurrency: f.Concurrency, Ops: f.Ops, CPUms: f.CPUms}
	if f.CPUms > 0 {
		out.PerSecond = float64(cores) * 1000 / f.CPUms
	}
	return out
}
