// Package ledgerbench measures the ledger's durable transfer rate on a
// store, for a CLI or a test to call: transfers per second and their
// latency over many distinct accounts and into one hot account, at several
// concurrencies, with the store's own durable put rate measured in the same
// run as context (a direct transfer is at least three dependent durable
// writes: record, debit, credit).
package ledgerbench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/openacquire/acquire/runtime/ledger"
	"github.com/openacquire/acquire/runtime/store"
)

// Defaults and limits.
const (
	DefaultDuration = 2 * time.Second
	DefaultAccounts = 256
	MaxConcurrency  = 4096
	MaxAccounts     = 100_000
	// depositUnits funds each account; transfers move 0.01 within a
	// goroutine's own accounts (or to the hot one), so none runs dry.
	depositUnits  = "1000000"
	transferUnits = "0.01"
)

// DefaultConcurrency is used when Config.Concurrency is empty.
var DefaultConcurrency = []int{1, 16, 64}

// Config says what to measure.
type Config struct {
	// StoreURL is where to run, e.g. "file:///var/tmp/bench"; empty means a
	// new temp folder, removed afterwards. Every run uses fresh ids, so a
	// store may be reused; its ledger's mint account is shared.
	StoreURL string
	// Duration of each measurement (store puts, distinct, hot) per level.
	Duration time.Duration
	// Concurrency lists the goroutine counts to measure at.
	Concurrency []int
	// Accounts is the number of distinct payer accounts; at least twice the
	// largest concurrency, so no two goroutines share an account.
	Accounts int
}

// Report is what a run measured.
type Report struct {
	StoreURL        string  `json:"store_url"`
	DurationSeconds float64 `json:"duration_s"`
	Accounts        int     `json:"accounts"`
	Levels          []Level `json:"levels"`
}

// Level is one concurrency's figures.
type Level struct {
	Concurrency int `json:"concurrency"`
	// StorePutsPerSecond: durable put-if-absent calls of small objects per
	// second at this concurrency, measured just before the transfers.
	StorePutsPerSecond float64 `json:"store_puts_per_s"`
	Distinct           Figure  `json:"distinct"` // no two goroutines share an account
	Hot                Figure  `json:"hot"`      // every transfer credits one account
}

// Figure is one measurement of transfers.
type Figure struct {
	Transfers int     `json:"transfers"`
	PerSecond float64 `json:"per_s"`
	P50Millis float64 `json:"p50_ms"`
	P99Millis float64 `json:"p99_ms"`
}

// Run measures as cfg says. It fails on the first failed transfer or put:
// a benchmark that loses writes is not measuring anything.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	cfg, err := withDefaults(cfg)
	if err != nil {
		return nil, err
	}
	url, cleanup, err := storeURL(cfg.StoreURL)
	if err != nil {
		return nil, err
	}
	defer cleanup()
	b, err := store.Open(ctx, url)
	if err != nil {
		return nil, fmt.Errorf("ledgerbench: %w", err)
	}
	defer func() { _ = b.Close() }()
	l, err := ledger.New(ctx, b)
	if err != nil {
		return nil, fmt.Errorf("ledgerbench: %w", err)
	}
	defer func() { _ = l.Close() }()
	r := &runner{l: l, b: b, cfg: cfg, run: newRunID()}
	if err := r.setup(ctx); err != nil {
		return nil, err
	}
	rep := &Report{StoreURL: url, DurationSeconds: cfg.Duration.Seconds(), Accounts: cfg.Accounts}
	if cfg.StoreURL == "" {
		rep.StoreURL = "file:// (temp folder)"
	}
	for _, conc := range cfg.Concurrency {
		lv, err := r.level(ctx, conc)
		if err != nil {
			return nil, err
		}
		rep.Levels = append(rep.Levels, lv)
	}
	return rep, nil
}

func withDefaults(cfg Config) (Config, error) {
	if cfg.Duration <= 0 {
		cfg.Duration = DefaultDuration
	}
	if len(cfg.Concurrency) == 0 {
		cfg.Concurrency = DefaultConcurrency
	}
	if cfg.Accounts == 0 {
		cfg.Accounts = max(DefaultAccounts, 2*slices.Max(cfg.Concurrency))
	}
	for _, c := range cfg.Concurrency {
		if c < 1 || c > MaxConcurrency {
			return cfg, fmt.Errorf("ledgerbench: concurrency %d not in [1, %d]", c, MaxConcurrency)
		}
		if 2*c > cfg.Accounts {
			return cfg, fmt.Errorf("ledgerbench: %d accounts cannot give %d goroutines two each", cfg.Accounts, c)
		}
	}
	if cfg.Accounts > MaxAccounts {
		return cfg, fmt.Errorf("ledgerbench: %d accounts, limit %d", cfg.Accounts, MaxAccounts)
	}
	return cfg, nil
}

// storeURL returns the URL to open and what to do afterwards.
func storeURL(url string) (string, func(), error) {
	if url != "" {
		return url, func() {}, nil
	}
	dir, err := os.MkdirTemp("", "ledgerbench-")
	if err != nil {
		return "", nil, fmt.Errorf("ledgerbench: %w", err)
	}
	return "file://" + dir, func() { _ = os.RemoveAll(dir) }, nil
}

func newRunID() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

type runner struct {
	l   *ledger.Ledger
	b   *store.Bucket
	cfg Config
	run string // prefix of every id this run makes
}

func (r *runner) account(i int) string { return fmt.Sprintf("lb-%s-a%d", r.run, i) }
func (r *runner) hot() string          { return fmt.Sprintf("lb-%s-hot", r.run) }

// setup creates and funds the accounts, a few at a time.
func (r *runner) setup(ctx context.Context) error {
	ids := make([]int, r.cfg.Accounts)
	for i := range ids {
		ids[i] = i
	}
	err := parallel(ctx, 16, ids, func(ctx context.Context, i int) error {
		acc := r.account(i)
		if _, err := r.l.CreateAccount(ctx, ledger.AccountSpec{ID: acc, Owner: "ledgerbench", Name: acc}); err != nil {
			return err
		}
		_, err := r.l.Transfer(ctx, ledger.TransferRequest{
			ID: acc + "-deposit", From: ledger.MintAccount, To: acc, Amount: ledger.MustParse(depositUnits),
		})
		return err
	})
	if err == nil {
		_, err = r.l.CreateAccount(ctx, ledger.AccountSpec{ID: r.hot(), Owner: "ledgerbench", Name: "hot"})
	}
	if err != nil {
		return fmt.Errorf("ledgerbench: setup: %w", err)
	}
	return nil
}

// parallel runs fn over items with at most n at once, stopping at the first error.
func parallel(ctx context.Context, n int, items []int, fn func(context.Context, int) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	sem := make(chan struct{}, n)
	var wg sync.WaitGroup
	for _, it := range items {
		if ctx.Err() != nil {
			break
		}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			if err := fn(ctx, it); err != nil {
				cancel(err)
			}
		})
	}
	wg.Wait()
	return context.Cause(ctx)
}

// level measures the store's put rate, then distinct and hot transfers.
func (r *runner) level(ctx context.Context, conc int) (Level, error) {
	lv := Level{Concurrency: conc}
	puts, err := r.measure(ctx, conc, func(ctx context.Context, g, n int) error {
		_, err := r.b.PutIfAbsent(ctx, fmt.Sprintf("ledgerbench/%s/probe/c%d/g%d/%d", r.run, conc, g, n), []byte(`{"probe":true}`))
		return err
	})
	if err != nil {
		return lv, fmt.Errorf("ledgerbench: store puts at %d: %w", conc, err)
	}
	lv.StorePutsPerSecond = puts.PerSecond
	for _, mode := range []string{"distinct", "hot"} {
		f, err := r.measure(ctx, conc, func(ctx context.Context, g, n int) error {
			return r.transfer(ctx, mode, conc, g, n)
		})
		if err != nil {
			return lv, fmt.Errorf("ledgerbench: %s transfers at %d: %w", mode, conc, err)
		}
		if mode == "distinct" {
			lv.Distinct = f
		} else {
			lv.Hot = f
		}
	}
	return lv, nil
}

// transfer is goroutine g's n-th transfer. Goroutine g owns the accounts
// whose number is g modulo conc and pays between two of them (distinct) or
// from one of them to the hot account.
func (r *runner) transfer(ctx context.Context, mode string, conc, g, n int) error {
	own := (r.cfg.Accounts - g + conc - 1) / conc // accounts g, g+conc, ... below Accounts
	from := g + conc*(n%own)
	to := r.account(g + conc*((n+1)%own))
	if mode == "hot" {
		to = r.hot()
	}
	_, err := r.l.Transfer(ctx, ledger.TransferRequest{
		ID:   fmt.Sprintf("lb-%s-%s-c%d-g%d-%d", r.run, mode, conc, g, n),
		From: r.account(from), To: to, Amount: ledger.MustParse(transferUnits),
	})
	return err
}

// measure runs op on conc goroutines for the configured duration and
// returns the rate and latency of the calls that completed in it.
func (r *runner) measure(ctx context.Context, conc int, op func(ctx context.Context, g, n int) error) (Figure, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	lat := make([][]time.Duration, conc)
	start := time.Now()
	deadline := start.Add(r.cfg.Duration)
	var wg sync.WaitGroup
	for g := range conc {
		wg.Go(func() {
			for n := 0; ctx.Err() == nil && time.Now().Before(deadline); n++ {
				t := time.Now()
				if err := op(ctx, g, n); err != nil {
					cancel(err)
					return
				}
				lat[g] = append(lat[g], time.Since(t))
			}
		})
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return Figure{}, err
	}
	return figure(slices.Concat(lat...), time.Since(start)), nil
}

func figure(lat []time.Duration, elapsed time.Duration) Figure {
	f := Figure{Transfers: len(lat)}
	if len(lat) == 0 {
		return f
	}
	slices.Sort(lat)
	ms := func(q float64) float64 { return float64(lat[int(q*float64(len(lat)-1))]) / float64(time.Millisecond) }
	f.PerSecond = float64(len(lat)) / elapsed.Seconds()
	f.P50Millis, f.P99Millis = ms(0.50), ms(0.99)
	return f
}

// WriteText writes the report as a table.
func (rep *Report) WriteText(w io.Writer) error {
	var errs []error
	pr := func(format string, args ...any) {
		_, err := fmt.Fprintf(w, format, args...)
		errs = append(errs, err)
	}
	pr("ledger on %s, %d accounts, %.1fs per figure\n", rep.StoreURL, rep.Accounts, rep.DurationSeconds)
	pr("%6s %12s | %12s %9s %9s | %12s %9s %9s\n", "conc", "store puts/s", "distinct/s", "p50 ms", "p99 ms", "hot/s", "p50 ms", "p99 ms")
	for _, lv := range rep.Levels {
		pr("%6d %12.0f | %12.0f %9.2f %9.2f | %12.0f %9.2f %9.2f\n", lv.Concurrency, lv.StorePutsPerSecond,
			lv.Distinct.PerSecond, lv.Distinct.P50Millis, lv.Distinct.P99Millis,
			lv.Hot.PerSecond, lv.Hot.P50Millis, lv.Hot.P99Millis)
	}
	return errors.Join(errs...)
}
