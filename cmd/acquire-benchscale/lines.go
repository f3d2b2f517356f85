package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/openacquire/acquire/runtime/ledger"
	"github.com/openacquire/acquire/runtime/store"
)

// The keys below are the services' own (compute/queue.go, storage's heads,
// ledger's account index, registry records, service's calls/seen, ledger
// expiry), written directly: what is timed is the read each service makes.

var pointer = []byte(`{"created":"2026-01-01T00:00:00Z"}`)

func init() {
	lines = append(lines,
		line{
			name:  "compute claim scan, empty queue after n jobs ran",
			build: buildRanJobs,
			op:    func(ctx context.Context, e *env, _ int) error { return claimScan(ctx, e, 0) },
		},
		line{
			name: "compute claim scan, n jobs pending",
			build: func(ctx context.Context, e *env, from, to int) error {
				return parallel(from, to, func(i int) error {
					_, err := e.b.Put(ctx, fmt.Sprintf("compute/queue/c1/pending/%013d-job%09d", 1_700_000_000_000+i, i), pointer)
					return err
				})
			},
			op: func(ctx context.Context, e *env, _ int) error { return claimScan(ctx, e, 100) },
		},
		line{
			name:  "list_files page of 100 (heads, also read)",
			build: buildHeads,
			data:  "heads",
			op: func(ctx context.Context, e *env, _ int) error {
				return filesPage(ctx, e, "storage/heads/drive1/", 100)
			},
		},
		line{
			name:  "list_files page of a folder of 100 (prefix)",
			build: buildHeads,
			data:  "heads",
			op: func(ctx context.Context, e *env, n int) error {
				dir := fmt.Sprintf("dir%06d", n/100/2)
				return filesPage(ctx, e, "storage/heads/drive1/"+store.EncodeName(dir+"/"), 100)
			},
		},
		line{
			name:  "list_files page of 100, heads under one long folder prefix",
			build: buildDeepHeads,
			op: func(ctx context.Context, e *env, _ int) error {
				return filesPage(ctx, e, "storage/heads/drive1/", 100)
			},
			max: 100_000,
		},
		line{
			name: "ledger.ListAccounts, page of 100 from the middle",
			build: func(ctx context.Context, e *env, from, to int) error {
				if from == 0 {
					l, err := ledger.New(ctx, e.b)
					if err != nil {
						return err
					}
					e.aux["ledger"] = l
				}
				return parallel(from, to, func(i int) error {
					_, err := e.b.Put(ctx, "ledger/index/accounts/"+store.EncodeName(fmt.Sprintf("acct-%09d", i*7919%max(to, 1)+to)), []byte("{}"))
					return err
				})
			},
			op: func(ctx context.Context, e *env, n int) error {
				l := e.aux["ledger"].(*ledger.Ledger)
				ids, _, err := l.ListAccounts(ctx, "", 100)
				if err != nil || len(ids) != 100 {
					return fmt.Errorf("first page: %d ids, %w", len(ids), err)
				}
				_, _, err = l.ListAccounts(ctx, store.EncodeName(fmt.Sprintf("acct-%09d", n+n/2)), 100)
				return err
			},
		},
		line{
			name: "Service.Sweep scan after n calls swept (10 due)",
			build: func(ctx context.Context, e *env, from, to int) error {
				return sweepHistory(ctx, e, "calls/seen/", from, to, func(i int) string {
					return time.UnixMilli(1_700_000_000_000).Add(time.Duration(i/50) * time.Minute).UTC().Format("2006-01-02T15:04")
				})
			},
			op: func(ctx context.Context, e *env, _ int) error { return sweepScan(ctx, e, "calls/seen/") },
		},
		line{
			name: "Ledger.Expire scan after n expiries swept (10 due)",
			build: func(ctx context.Context, e *env, from, to int) error {
				return sweepHistory(ctx, e, "ledger/expiry/", from, to, func(i int) string {
					return fmt.Sprintf("%020d", 1_700_000_000_000+i)
				})
			},
			op: func(ctx context.Context, e *env, _ int) error { return sweepScan(ctx, e, "ledger/expiry/") },
		},
	)
}

// claimWave is how many jobs are queued at once while building the
// history of jobs that ran: the queue fills to a backlog (so its folders
// split into buckets) and drains (so they are pruned and removed), as a
// busy cluster's does, rather than holding a handful of pointers at a time.
const claimWave = 10_000

// buildRanJobs runs jobs [from, to) through the queue as the service
// moves their pointers (compute/queue.go): submitted (pending pointer),
// claimed (running pointer written, pending removed), finished (running
// removed), a wave at a time. Only the queue's keys are written: the job
// records live in another folder, which a claim on an empty queue never
// reads.
func buildRanJobs(ctx context.Context, e *env, from, to int) error {
	for lo := from; lo < to; lo += claimWave {
		hi := min(lo+claimWave, to)
		steps := []func(i int) error{
			func(i int) error { _, err := e.b.Put(ctx, claimPendingKey(i), pointer); return err },
			func(i int) error {
				if _, err := e.b.Put(ctx, claimRunningKey(i), pointer); err != nil {
					return err
				}
				return e.b.Delete(ctx, claimPendingKey(i))
			},
			func(i int) error { return e.b.Delete(ctx, claimRunningKey(i)) },
		}
		for _, step := range steps {
			if err := parallel(lo, hi, step); err != nil {
				return err
			}
		}
	}
	return nil
}

// claimPendingKey and claimRunningKey are job i's queue pointers, as
// compute's pendingKey and runningKey spell them.
func claimPendingKey(i int) string {
	return fmt.Sprintf("compute/queue/c1/pending/%013d-job%09d", 1_700_000_000_000+i, i)
}
func claimRunningKey(i int) string { return fmt.Sprintf("compute/queue/c1/running/job%09d", i) }

// claimScan is what handleClaim lists before it claims: a page of pending
// pointers and one of running ones.
func claimScan(ctx context.Context, e *env, wantPending int) error {
	if _, err := page(ctx, e.b, "compute/queue/c1/pending/", "", 100, wantPending); err != nil {
		return err
	}
	_, err := page(ctx, e.b, "compute/queue/c1/running/", "", 100, 0)
	return err
}

// buildHeads writes heads of files dir<k>/file<j>, 100 per folder.
func buildHeads(ctx context.Context, e *env, from, to int) error {
	return parallel(from, to, func(i int) error {
		name := fmt.Sprintf("dir%06d/file%03d", i/100, i%100)
		_, err := e.b.PutJSON(ctx, "storage/heads/drive1/"+store.EncodeName(name), map[string]any{"name": name, "size": i})
		return err
	})
}

// deepFolder is a folder path longer than the first bucket tree followed
// (20 bytes of a name; '/' is escaped in a head's name, see buildHeads).
const deepFolder = "docs/2026/quarterly-reports/engineering/"

// buildDeepHeads writes heads of files deepFolder + report-<i>: a drive
// whose files all sit in one deep folder.
func buildDeepHeads(ctx context.Context, e *env, from, to int) error {
	return parallel(from, to, func(i int) error {
		name := fmt.Sprintf("%sreport-%07d", deepFolder, i*7919%max(to, 1)+to)
		_, err := e.b.PutJSON(ctx, "storage/heads/drive1/"+store.EncodeName(name), map[string]any{"name": name, "size": i})
		return err
	})
}

// filesPage is what list_files does: a page of heads, each read.
func filesPage(ctx context.Context, e *env, prefix string, want int) error {
	p, err := page(ctx, e.b, prefix, "", 100, want)
	if err != nil {
		return err
	}
	for _, it := range p.Items {
		var h map[string]any
		if _, err := e.b.GetJSON(ctx, it.Key, &h); err != nil {
			return err
		}
	}
	return nil
}

// sweepHistory writes and deletes n entries of past folders (a sweep's
// history), keeping the newest 10 as the ones due.
func sweepHistory(ctx context.Context, e *env, prefix string, from, to int, folder func(i int) string) error {
	if from > 0 { // the 10 left due last time are swept now
		for i := from - 10; i < from; i++ {
			if err := e.b.Delete(ctx, fmt.Sprintf("%s%s/id%09d", prefix, folder(i), i)); err != nil && !errors.Is(err, store.ErrNotFound) {
				return err
			}
		}
	}
	return parallel(from, to, func(i int) error {
		k := fmt.Sprintf("%s%s/id%09d", prefix, folder(i), i)
		if _, err := e.b.Put(ctx, k, pointer); err != nil {
			return err
		}
		if i >= to-10 {
			return nil
		}
		return e.b.Delete(ctx, k)
	})
}

// sweepScan lists the first page a sweep reads: the 10 due entries.
func sweepScan(ctx context.Context, e *env, prefix string) error {
	_, err := page(ctx, e.b, prefix, "", 100, 10)
	return err
}
