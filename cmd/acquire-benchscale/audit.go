package main

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"time"

	"github.com/openacquire/acquire/runtime/bench"
)

// auditProgressEvery is how often a long audit reports how far it got.
const auditProgressEvery = time.Minute

// auditMemory audits a synthetic ledger (runtime/bench.SyntheticLedger:
// objects computed on the fly, no disk) of each size and prints the
// audit's peak memory: the audit's memory must not grow with the ledger.
func auditMemory(ctx context.Context, sizes []int, budget int) error {
	fmt.Printf("acquire-benchscale: ledger audit over a synthetic ledger, %d CPUs, load %s, audit budget %d entries (0: default)\n\n", runtime.NumCPU(), loadAvg(), budget)
	fmt.Println("| objects | transfers | objects read | peak heap in use | peak live heap | time | load |")
	fmt.Println("|---|---|---|---|---|---|---|")
	for _, n := range sizes {
		t0 := time.Now()
		m, err := bench.MeasureAuditProgress(ctx, n, budget, auditProgressEvery, func(reads int64, heap, live uint64) {
			fmt.Fprintf(os.Stderr, "audit of %d objects: %v, %d objects read, peak heap %d MiB (live %d MiB), load %s\n",
				n, time.Since(t0).Round(time.Second), reads, heap>>20, live>>20, loadAvg())
		})
		if err != nil {
			return fmt.Errorf("audit of %d objects: %w", n, err)
		}
		fmt.Printf("| %d | %d | %d | %d MiB | %d MiB | %v | %s |\n", m.Objects, m.Transfers, m.Reads, m.PeakHeap>>20, m.PeakLive>>20, m.Duration.Round(time.Second), loadAvg())
	}
	return nil
}
