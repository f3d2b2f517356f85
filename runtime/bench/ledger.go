package bench

import (
	"context"
	"fmt"

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
func benchLedger(ctx context.Context, _ *hostEnv, cfg Config, rep *Report, progress func(string)) error {
	progress(fmt.Sprintf("ledger alone, %v concurrent", cfg.Concurrency))
	lr, err := ledgerbench.Run(ctx, ledgerbench.Config{StoreURL: cfg.StoreURL, Duration: cfg.Duration, Concurrency: cfg.Concurrency})
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
