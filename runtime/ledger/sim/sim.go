// Package sim is a deterministic simulation of the ledger under store
// faults. One seed decides everything: which simulated client does what to
// which account, on which of several processes sharing one store, which
// store writes fail before or after they land, where processes crash (and
// are restarted as fresh ledgers over the same store), how two processes
// racing on one transfer id interleave, and when the clock moves. After
// the run it recovers every transfer and checks the ledger's invariants
// against its own bookkeeping of what clients were told.
//
// Determinism: clients are driven one step at a time by a single scheduler
// loop; a race is two calls whose order at the contested write is fixed by
// a faultstore gate; background writes are waited for after every step;
// faults are a function of (seed, operation, key, occurrence). So a seed
// replays exactly, and a failing seed is its own reproduction.
//
// The flows of the accounting service are simulated by the ledger
// requests they make: a cheque is a transfer under an id fixed by the
// cheque, cashed again (also concurrently) by the payee; an invoice payment
// is a transfer per attempt, the next attempt opened only after the last
// was seen refused.
package sim

import (
	"context"
	"errors"
	"fmt"
	"hash"
	"hash/fnv"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"strings"
	"time"

	"github.com/openacquire/acquire/runtime/clock"
	"github.com/openacquire/acquire/runtime/ledger"
	"github.com/openacquire/acquire/runtime/store"
	"github.com/openacquire/acquire/runtime/store/faultstore"
	"github.com/openacquire/acquire/runtime/store/memstore"
)

// Config is one run. Zero fields take the defaults.
type Config struct {
	Seed      uint64
	Steps     int // client steps (default 150)
	Accounts  int // user accounts besides the mint (default 5)
	Processes int // ledger processes sharing the store (default 3)
	// Fault rates per store write (default: DefaultFaults).
	Faults *faultstore.Options
	// Trace, if set, receives one line per step and per answer.
	Trace io.Writer
}

// DefaultFaults are the rates a run uses unless told otherwise: about one
// write in twelve goes wrong.
var DefaultFaults = faultstore.Options{FailBefore: 0.03, FailAfter: 0.03, CrashBefore: 0.01, CrashAfter: 0.015, Delay: 0.01, DelayMax: 50 * time.Microsecond}

// Limits of a run.
const (
	MaxSteps     = 100_000
	MaxAccounts  = 100
	MaxProcesses = 16
	// restartAttempts bounds how often a process start may meet faults.
	restartAttempts = 20
)

// Result is what one run did.
type Result struct {
	Seed      uint64
	Steps     int
	Faults    int // faults injected (all kinds)
	ByKind    map[faultstore.Fault]int
	Crashes   int
	Restarts  int
	Transfers int // transfer ids used
	Races     int // same-id races staged
	// CrashPoints counts the crashes at each named point.
	CrashPoints map[string]int
	// Trace is a hash of every step and every answer, in order: two runs
	// with one Trace did the same thing.
	Trace uint64
}

// Violation is an invariant the run broke, with the seed that reproduces it.
type Violation struct {
	Seed uint64
	Step int
	What string
}

func (v *Violation) Error() string {
	return fmt.Sprintf("sim seed %d, step %d: %s", v.Seed, v.Step, v.What)
}

// proc is one simulated process: a store handle and a ledger over it.
type proc struct {
	p *faultstore.Process
	l *ledger.Ledger
}

// transfer is the sim's bookkeeping of one transfer id: what was asked and
// what clients were told.
type transfer struct {
	req      ledger.TransferRequest
	accepted *ledger.TransferRequest // the content answered applied or refused
	acked    *ledger.TransferResult  // the first success answered, if any
	refused  bool                    // answered ErrInsufficientFunds
	// alts are the other contents raced under this id (an id conflict
	// decides which content is recorded).
	alts []ledger.TransferRequest
	// res is the resolution a client was told succeeded.
	res *ledger.Resolution
}

type invoice struct {
	from, to string
	amount   ledger.Amount
	attempts []string // transfer ids, one per attempt
	paid     string   // the attempt a client was told was applied
}

type world struct {
	cfg   Config
	rng   *rand.Rand
	fs    *faultstore.Store
	procs []*proc

	clock *clock.Manual

	accounts  []string
	transfers map[string]*transfer
	order     []string // transfer ids in the order first used
	invoices  []*invoice
	step      int
	res       Result
	next      int // id counter
	trace     hash.Hash64
	log       *slog.Logger // the ledger's log: the trace writer, or nowhere
}

func (c *Config) fill() error {
	if c.Steps == 0 {
		c.Steps = 150
	}
	if c.Accounts == 0 {
		c.Accounts = 5
	}
	if c.Processes == 0 {
		c.Processes = 3
	}
	if c.Faults == nil {
		f := DefaultFaults
		c.Faults = &f
	}
	if c.Steps < 0 || c.Steps > MaxSteps || c.Accounts < 2 || c.Accounts > MaxAccounts || c.Processes < 2 || c.Processes > MaxProcesses {
		return fmt.Errorf("sim: steps %d, accounts %d, processes %d outside [0, %d], [2, %d], [2, %d]",
			c.Steps, c.Accounts, c.Processes, MaxSteps, MaxAccounts, MaxProcesses)
	}
	return nil
}

// Run runs one seed. A broken invariant is a *Violation.
func Run(ctx context.Context, cfg Config) (Result, error) {
	if err := cfg.fill(); err != nil {
		return Result{}, err
	}
	w := &world{
		cfg: cfg, rng: rand.New(rand.NewPCG(cfg.Seed, 0x51ed)), transfers: map[string]*transfer{},
		clock: clock.NewManual(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)), trace: fnv.New64a(),
	}
	w.res.Seed = cfg.Seed
	out := io.Discard
	if cfg.Trace != nil {
		out = cfg.Trace
	}
	w.log = slog.New(slog.NewTextHandler(out, nil))
	opt := *cfg.Faults
	opt.Seed, opt.Point = cfg.Seed, point
	if cfg.Trace != nil && os.Getenv("SIM_TRACE") == "2" {
		opt.Point = func(op, key string) string {
			_, _ = fmt.Fprintf(cfg.Trace, "    store %s %s\n", op, key)
			return point(op, key)
		}
	}
	fs, err := faultstore.New(memstore.New(), opt)
	if err != nil {
		return Result{}, err
	}
	w.fs = fs
	err = w.run(ctx)
	st := fs.Stats()
	w.res.ByKind = st
	for _, n := range st {
		w.res.Faults += n
	}
	w.res.Crashes = len(fs.Crashes())
	w.res.CrashPoints = map[string]int{}
	for _, c := range fs.Crashes() {
		w.res.CrashPoints[c]++
	}
	w.res.Transfers = len(w.order)
	w.res.Trace = w.trace.Sum64()
	for _, p := range w.procs {
		if p.l != nil {
			_ = p.l.Close()
		}
	}
	return w.res, err
}

// point names the store writes faults may hit by what they are to the
// ledger, so a crash is reported at a named step ("crash-after@record").
// Reads stay free of faults: the bucket retries them, so they would only
// cost time.
func point(op, key string) string {
	if op == faultstore.OpGet || op == faultstore.OpList {
		return ""
	}
	for _, p := range points {
		if strings.HasPrefix(key, p.prefix) && strings.Contains(key[len(p.prefix):], p.contains) {
			switch {
			case p.name == "record" && op == faultstore.OpPutIfVersion:
				return "outcome-cache"
			case p.name == "expiry-index" && op == faultstore.OpDelete:
				return "expiry-cleanup"
			}
			return p.name
		}
	}
	return op + " " + key
}

// points are the ledger's write steps, by key (see the layout in
// runtime/ledger/DESIGN.md).
var points = []struct{ prefix, contains, name string }{
	{"ledger/index/accounts/", "", "account-index"},
	{"ledger/accounts/", "/items/", "item"},
	{"ledger/accounts/", "/head", "head-hint"},
	{"ledger/transfers/", "", "record"},
	{"ledger/resolutions/", "", "resolution"},
	{"ledger/expiry/", "", "expiry-index"},
}

// note folds a line into the trace (and writes it out if asked).
func (w *world) note(format string, args ...any) {
	line := fmt.Sprintf("%d: "+format+"\n", append([]any{w.step}, args...)...)
	_, _ = w.trace.Write([]byte(line))
	if w.cfg.Trace != nil {
		_, _ = io.WriteString(w.cfg.Trace, line)
	}
}

func (w *world) fail(format string, args ...any) error {
	return &Violation{Seed: w.cfg.Seed, Step: w.step, What: fmt.Sprintf(format, args...)}
}

func (w *world) run(ctx context.Context) error {
	w.procs = make([]*proc, w.cfg.Processes)
	for i := range w.procs {
		w.procs[i] = &proc{}
		if err := w.restart(ctx, i); err != nil {
			return err
		}
	}
	if err := w.openAccounts(ctx); err != nil {
		return err
	}
	for w.step = 1; w.step <= w.cfg.Steps; w.step++ {
		if err := w.doStep(ctx); err != nil {
			return err
		}
		w.res.Steps = w.step
	}
	return w.finish(ctx)
}

// restart replaces process i with a fresh one over the same store: what a
// crashed (or redeployed) instance's successor sees.
func (w *world) restart(ctx context.Context, i int) error {
	old := w.procs[i]
	if old.l != nil {
		_ = old.l.Close()
	}
	for range restartAttempts {
		p := w.fs.Process()
		l, err := ledger.New(ctx, store.NewBucket(p), ledger.WithClock(w.clock.Now), ledger.WithInlineBackground(),
			ledger.WithLogger(w.log))
		if err == nil {
			w.procs[i] = &proc{p: p, l: l}
			w.res.Restarts++
			return nil
		}
		if !faulted(err) {
			return w.fail("a process could not start: %v", err)
		}
	}
	return w.fail("a process failed to start %d times", restartAttempts)
}

// faulted reports whether err is an injected store fault (the caller may
// not know whether its call took effect).
func faulted(err error) bool {
	return errors.Is(err, store.ErrTransient) || errors.Is(err, faultstore.ErrCrashed)
}

// on runs fn on process i, waits for its background writes (so the next
// step starts from a settled store), and restarts the process if it died.
func (w *world) on(ctx context.Context, i int, fn func(l *ledger.Ledger) error) error {
	pr := w.procs[i]
	err := fn(pr.l)
	_ = pr.l.Close()
	if pr.p.Crashed() {
		if rerr := w.restart(ctx, i); rerr != nil {
			return rerr
		}
	}
	return err
}

func (w *world) openAccounts(ctx context.Context) error {
	for i := range w.cfg.Accounts {
		id := fmt.Sprintf("acc%d", i)
		spec := ledger.AccountSpec{ID: id, Owner: fmt.Sprintf("user%d", i), Name: id}
		for {
			err := w.on(ctx, w.rng.IntN(len(w.procs)), func(l *ledger.Ledger) error {
				_, err := l.CreateAccount(ctx, spec)
				return err
			})
			if err == nil {
				break
			}
			if !faulted(err) {
				return w.fail("create account %s: %v", id, err)
			}
		}
		w.accounts = append(w.accounts, id)
	}
	return nil
}

func (w *world) newID(kind string) string {
	w.next++
	return fmt.Sprintf("%s%d", kind, w.next)
}

func (w *world) account() string { return w.accounts[w.rng.IntN(len(w.accounts))] }

func (w *world) pair() (string, string) {
	a := w.rng.IntN(len(w.accounts))
	b := (a + 1 + w.rng.IntN(len(w.accounts)-1)) % len(w.accounts)
	return w.accounts[a], w.accounts[b]
}

// amount is in (0, maxUnits] units, with micro-units.
func (w *world) amount(maxUnits int64) ledger.Amount {
	a, _ := ledger.Micros(1 + w.rng.Int64N(maxUnits*1_000_000))
	return a
}

func (w *world) proc() int { return w.rng.IntN(len(w.procs)) }
