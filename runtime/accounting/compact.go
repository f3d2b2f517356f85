package accounting

import "context"

// CompactBudget bounds the segments one Compact call stores.
const CompactBudget = 256

// Compact moves settled ledger history into segment objects
// (runtime/ledger/DESIGN.md, "Compaction"): what lets the local store hold
// 10^8 transfers. A host calls it from its sweep on the local store; on
// the clouds it would add requests and save nothing they charge for.
func (a *Accounting) Compact(ctx context.Context) (int, error) {
	return a.l.CompactAll(ctx, CompactBudget)
}
