package compute

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/openacquire/acquire/runtime/access"
	"github.com/openacquire/acquire/runtime/call"
	"github.com/openacquire/acquire/runtime/store"
	"github.com/openacquire/acquire/runtime/wait"
)

// settle reports a final job to its access service: succeeded receipts
// the held payment, failed and cancelled refund it. Access settles a
// request once, so calling again (a retry, Sweep) can never pay twice. A
// transient failure leaves the job unsettled, for Sweep.
func (c *Compute) settle(ctx context.Context, j *Job, ver store.Version) {
	if !Final(j.State) {
		// Asserted: only a final job's payment is settled.
		c.svc.Logger().Error("settle asked for a job that has not ended", "job", j.ID, "state", j.State)
		return
	}
	ac := &access.Client{C: c.c, URL: j.AccessURL}
	var err error
	for i := range settleTries {
		_, err = ac.Settle(ctx, c.svc, j.RequestUID, j.State, j.Message)
		// InProgress: access has not saved the fulfilment yet (a job can
		// end before submit_job's answer is recorded); it will shortly.
		if !errors.Is(err, call.ErrInProgress) {
			break
		}
		if wait.Sleep(ctx, time.Duration(50<<i)*time.Millisecond) != nil {
			break
		}
	}
	if err != nil {
		c.svc.Logger().Warn("job not settled yet; the sweep retries", "job", j.ID, "err", err)
		return
	}
	j.Settled = true
	if _, err := c.saveJob(ctx, j, ver); err != nil && !errors.Is(err, store.ErrPrecondition) {
		c.svc.Logger().Warn("job settled at access, not marked here; the sweep marks it", "job", j.ID, "err", err)
		return
	}
	// A precondition failure means another settle marked it: done either way.
	if err := c.b.Delete(ctx, unsettledKey(j.ID)); err != nil && !errors.Is(err, store.ErrNotFound) {
		c.svc.Logger().Warn("unsettled pointer not removed", "job", j.ID, "err", err)
	}
}

// orphanAge is how old a queue pointer without a job must be before
// Sweep removes it: a submit writes the pointer just before the job.
const orphanAge = 10 * time.Minute

// Sweep settles final jobs whose settlement failed before, ends queued
// jobs that can no longer finish before their payment's hold ends, and
// removes stale queue pointers. It looks at most SweepBatch records of
// each kind and answers how many it changed. The host calls it with its
// other sweeps.
func (c *Compute) Sweep(ctx context.Context) (int, error) {
	n := 0
	page, err := c.b.List(ctx, unsettledPre, "", SweepBatch)
	if err != nil {
		return n, err
	}
	for _, it := range page.Items {
		j, ver, err := c.job(ctx, strings.TrimPrefix(it.Key, unsettledPre))
		switch {
		case err != nil:
			continue
		case j.Settled:
			_ = c.b.Delete(ctx, it.Key)
		case Final(j.State):
			c.settle(ctx, j, ver)
			n++
		}
	}
	q, err := c.b.List(ctx, queuePre, "", SweepBatch)
	if err != nil {
		return n, err
	}
	now := c.svc.Now()
	for _, it := range q.Items {
		if c.sweepQueued(ctx, it.Key, now) {
			n++
		}
	}
	return n, nil
}

// sweepQueued ends one queued job that can no longer run in time, or
// removes a pointer whose job ended or was never written.
func (c *Compute) sweepQueued(ctx context.Context, key string, now time.Time) bool {
	id := key[strings.LastIndexByte(key, '/')+1:]
	if i := strings.IndexByte(id, '-'); i >= 0 {
		id = id[i+1:]
	}
	j, ver, err := c.job(ctx, id)
	if errors.Is(err, call.ErrNotFound) {
		var p pointer
		if _, err := c.b.GetJSON(ctx, key, &p); err == nil && now.Sub(p.Created) > orphanAge {
			return c.b.Delete(ctx, key) == nil
		}
		return false
	} else if err != nil {
		return false
	}
	switch {
	case Final(j.State):
		c.unqueue(ctx, j)
		_ = c.b.Delete(ctx, key) // it may be another pointer (two first submits raced)
		return true
	case j.State == StatePending && now.Add(j.Timeout()).After(j.Deadline),
		j.State == StateRunning && now.After(j.LeaseUntil) && now.After(j.Deadline):
		return c.finalize(ctx, j, ver, StateFailed, nil, "could not end before its payment's hold ends") == nil
	}
	return false
}
