package bench

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/openacquire/acquire/runtime/ledger/ledgerbench"
)

// LedgerTarget is the durable transfers per second the ledger alone must
// reach on the local-files store (issue 3).
const LedgerTarget = 2000

// benchLedger measures the ledger with no envelope and no network on the
// local-files store: durable transfers per second over distinct accounts
// and into one hot account, beside the store's own durable put rate in
// the same run (a distinct transfer creates three new objects: its record
// and one log item on each side).
//
// It runs first, and in a folder inside the run's own temp folder that is
// removed only when the whole run ends: on ext4 without a journal, files
// deleted in the last minutes make new files slower to create, so a step
// must neither follow deletions (the host's replay-marker sweeps) nor leave
// its own for the next step.
func benchLedger(ctx context.Context, env *hostEnv, cfg Config, rep *Report, progress func(string)) error {
	progress(fmt.Sprintf("ledger alone, %v concurrent", cfg.Concurrency))
	storeURL := cfg.StoreURL
	if env.tmp != "" {
		storeURL = "file://" + filepath.Join(env.tmp, "ledger-alone")
	}
	lr, err := ledgerbench.Run(ctx, ledgerbench.Config{StoreURL: storeURL, Duration: cfg.Duration, Concurrency: cfg.Concurrency})
	if err != nil {
		return err
	}
	for _, lv := range lr.Levels {
		rep.Figures = append(rep.Figures,
			ledgerFigure("ledger alone, distinct accounts", lv.Concurrency, lv.Distinct, LedgerTarget),
			ledgerFigure("ledger alone, one hot account", lv.Concurrency, lv.Hot, LedgerTarget),
			Figure{Name: "store durable puts (context)", Concurrency: lv.Concurrency, PerSecond: lv.StorePutsPerSecond})
	}
	return nil
}

func ledgerFigure(name string, conc int, f ledgerbench.Figure, floor float64) Figure {
	return Figure{Name: name, Concurrency: conc, Ops: f.Transfers, PerSecond: f.PerSecond, P50ms: f.P50Millis,
		P99ms: f.P99Millis, Target: floor}
}
