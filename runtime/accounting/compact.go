package accounting

import "context"

// CompactBudget bounds the segments one Compact call stores.
const CompactBudget = 256

// RecordCompactBudget bounds how many transfer records one Compact call
// looks at (it goes on where the last stopped).
const RecordCompactBudget = 20_000

// Compact moves settled ledger history into segment objects and the
// records of final transfers older than the retry horizon into record runs
// (runtime/ledger/DESIGN.md, "Compaction"): what lets the local store hold
// 10^8 transfers. A host calls it from its sweep on the local store; on
// the clouds it would add requests and save nothing they charge for. It
// answers how many segments it stored.
func (a *Accounting) Compact(ctx context.Context) (int, error) {
	n, err := a.l.CompactAll(ctx, CompactBudget)
	if err != nil {
		return n, err
	}
	_, err = a.l.CompactRecords(ctx, RecordCompactBudget)
	return n, err
}
