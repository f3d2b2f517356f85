package compute

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/openacquire/acquire/runtime/call"
	"github.com/openacquire/acquire/runtime/store"
)

// Queue pointers. A pending job has one under pending/, ordered by its
// creation (first come, first claimed); a claimed one under running/,
// where a claim looks for expired leases. Pointers are hints: the job's
// record decides, and a claim removes the pointers of final jobs it meets.
func pendingKey(j *Job) string {
	return queuePrefix(j.Spec.Cluster) + "pending/" + fmt.Sprintf("%013d", j.Created.UnixMilli()) + "-" + j.ID
}
func runningKey(j *Job) string { return queuePrefix(j.Spec.Cluster) + "running/" + j.ID }

// pointer is a queue pointer's body: when it was written, so Sweep can
// remove one whose job was never written (a submit that stopped midway).
type pointer struct {
	Created time.Time `json:"created"`
}

// handleClaim gives the agent one job of its cluster: the oldest pending
// one, else a running one whose lease has passed. The pending → running
// step is a compare-and-swap on the job's record, so of agents racing for
// one job exactly one wins; a loser tries the next.
func (c *Compute) handleClaim(ctx context.Context, args *ClaimArgs) (*Claim, error) {
	if err := c.verifyCluster(ctx, &args.Auth, ClaimResource); err != nil {
		return nil, err
	}
	for _, sub := range []string{"pending/", "running/"} {
		page, err := c.b.List(ctx, queuePrefix(args.Auth.Cluster)+sub, "", MaxClaimScan)
		if err != nil {
			return nil, err
		}
		for _, it := range page.Items {
			id := it.Key[strings.LastIndexByte(it.Key, '/')+1:]
			if i := strings.IndexByte(id, '-'); i >= 0 {
				id = id[i+1:]
			}
			j, err := c.tryClaim(ctx, &args.Auth, id, it.Key)
			if err != nil || j != nil {
				return &Claim{Job: j}, err
			}
		}
	}
	return &Claim{}, nil
}

// tryClaim claims job id for the agent, or answers nil (taken, not
// claimable, or finished here because it can no longer run).
func (c *Compute) tryClaim(ctx context.Context, a *ClusterAuth, id, ptr string) (*Job, error) {
	j, ver, err := c.job(ctx, id)
	if errors.Is(err, call.ErrNotFound) {
		return nil, nil // its submit is still writing it, or stopped: Sweep removes the pointer later
	} else if err != nil {
		return nil, err
	}
	now := c.svc.Now().UTC()
	switch {
	case j.Spec.Cluster != a.Cluster:
		return nil, fmt.Errorf("compute: job %s is queued under cluster %s but belongs to %s", id, a.Cluster, j.Spec.Cluster)
	case Final(j.State):
		c.unqueue(ctx, j)
		_ = c.b.Delete(ctx, ptr) // the pointer met may be another (two first submits raced)
		return nil, nil
	case j.State == StateRunning && now.Before(j.LeaseUntil):
		if strings.Contains(ptr, "/pending/") {
			_ = c.b.Delete(ctx, ptr) // claimed; its running pointer was written before the claim
		}
		return nil, nil
	case j.CancelRequested:
		// Its agent died after the owner asked to cancel: end it here.
		return nil, skipBusy(c.finalize(ctx, j, ver, StateCancelled, nil, "cancelled by its owner"))
	case now.Add(j.Timeout()).After(j.Deadline):
		return nil, skipBusy(c.finalize(ctx, j, ver, StateFailed, nil, "not started in time to end before its payment's hold ends"))
	}
	// The running pointer first: once the claim lands, a crash must not
	// leave a running job that no claim would look at when its lease passes.
	if _, err := c.b.PutJSON(ctx, runningKey(j), &pointer{Created: now}); err != nil {
		return nil, err
	}
	j.State, j.Attempt, j.Agent = StateRunning, j.Attempt+1, a.Agent
	j.LeaseUntil, j.Started = now.Add(c.lease), now.Truncate(time.Millisecond)
	if _, err := c.saveJob(ctx, j, ver); errors.Is(err, store.ErrPrecondition) {
		return nil, nil // another agent won it
	} else if err != nil {
		return nil, err
	}
	if err := c.b.Delete(ctx, pendingKey(j)); err != nil && !errors.Is(err, store.ErrNotFound) {
		c.svc.Logger().Warn("pending pointer not removed", "job", j.ID, "err", err)
	}
	return j, nil
}

// unqueue removes a final job's queue pointers (best effort: claims skip
// and remove stale ones).
func (c *Compute) unqueue(ctx context.Context, j *Job) {
	for _, k := range []string{pendingKey(j), runningKey(j)} {
		if err := c.b.Delete(ctx, k); err != nil && !errors.Is(err, store.ErrNotFound) {
			c.svc.Logger().Warn("queue pointer not removed", "job", j.ID, "err", err)
		}
	}
}

// attempt reads the job and checks that the agent holds its current attempt.
func (c *Compute) attempt(ctx context.Context, a *ClusterAuth, id string, attempt int) (*Job, store.Version, error) {
	j, ver, err := c.job(ctx, id)
	if err != nil {
		return nil, "", err
	}
	if j.Spec.Cluster != a.Cluster {
		return nil, "", call.Errorf(call.ErrNotFound, "no job %s", clip(id)) // not this cluster's to know about
	}
	if j.Attempt != attempt || j.Agent != a.Agent {
		return j, ver, call.Errorf(ErrLeaseLost, "job %s is on attempt %d by another agent; stop this one", id, j.Attempt)
	}
	return j, ver, nil
}

// handleHeartbeat extends the lease of the agent's attempt, and tells it
// whether the owner asked to cancel. The lease runs from the statement's
// time, so a delayed or repeated statement cannot stretch it.
func (c *Compute) handleHeartbeat(ctx context.Context, args *HeartbeatArgs) (*Beat, error) {
	if err := c.verifyCluster(ctx, &args.Auth, HeartbeatResource(args.JobID, args.Attempt)); err != nil {
		return nil, err
	}
	at, _ := time.Parse(time.RFC3339Nano, args.Auth.Time) // verified above
	for range 3 {
		j, ver, err := c.attempt(ctx, &args.Auth, args.JobID, args.Attempt)
		if err != nil {
			return nil, err
		}
		if j.State != StateRunning {
			return nil, call.Errorf(ErrLeaseLost, "job %s is %s", j.ID, j.State)
		}
		if until := at.UTC().Add(c.lease); until.After(j.LeaseUntil) {
			j.LeaseUntil = until
		}
		if _, err := c.saveJob(ctx, j, ver); errors.Is(err, store.ErrPrecondition) {
			continue // a cancel request or a claim changed it: look again
		} else if err != nil {
			return nil, err
		}
		return &Beat{LeaseUntil: j.LeaseUntil, CancelRequested: j.CancelRequested}, nil
	}
	return nil, call.Errorf(call.ErrBusy, "job %s changed under the heartbeat; retry", args.JobID)
}

func checkFinish(args *FinishArgs) error {
	switch {
	case !Final(args.State):
		return call.Errorf(call.ErrBadArguments, "state must be %s, %s or %s", StateSucceeded, StateFailed, StateCancelled)
	case len(args.Message) > MaxMessageBytes || strings.ContainsFunc(args.Message, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		return call.Errorf(call.ErrBadArguments, "message must be at most %d bytes without control characters", MaxMessageBytes)
	case args.State == StateSucceeded && (args.ExitCode == nil || *args.ExitCode != 0):
		return call.Errorf(call.ErrBadArguments, "a succeeded job exits 0")
	case len(args.Isolation) > MaxIsolationBytes || strings.ContainsFunc(args.Isolation, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		return call.Errorf(call.ErrBadArguments, "isolation must be at most %d bytes without control characters", MaxIsolationBytes)
	}
	return nil
}

// handleFinish records the end of the agent's attempt (once: a repeat of
// the same report answers the job; an agent whose lease was taken over is
// LeaseLostError) and settles the payment.
func (c *Compute) handleFinish(ctx context.Context, args *FinishArgs) (*Job, error) {
	if err := checkFinish(args); err != nil {
		return nil, err
	}
	if err := c.verifyCluster(ctx, &args.Auth, FinishResource(args)); err != nil {
		return nil, err
	}
	j, ver, err := c.attempt(ctx, &args.Auth, args.JobID, args.Attempt)
	if err != nil {
		return nil, err
	}
	if Final(j.State) {
		if j.State != args.State {
			return nil, call.Errorf(ErrJobFinished, "job %s already ended %s", j.ID, j.State)
		}
		if !j.Settled {
			c.settle(ctx, j, ver)
		}
		return j, nil
	}
	j.Isolation = args.Isolation
	if err := c.finalize(ctx, j, ver, args.State, args.ExitCode, args.Message); err != nil {
		return nil, err
	}
	return j, nil
}

// finalize moves j to its final state (compare-and-swap: once), removes
// its queue pointers and settles its payment. An unsettled pointer is
// written first, so a crash before settling leaves work for Sweep.
func (c *Compute) finalize(ctx context.Context, j *Job, ver store.Version, state string, exit *int, msg string) error {
	if _, err := c.b.PutJSON(ctx, unsettledKey(j.ID), &pointer{Created: c.svc.Now().UTC()}); err != nil {
		return err
	}
	j.State, j.ExitCode, j.Message, j.Settled = state, exit, msg, false
	j.Finished, j.LeaseUntil = c.svc.Now().UTC().Truncate(time.Millisecond), time.Time{}
	ver, err := c.saveJob(ctx, j, ver)
	if errors.Is(err, store.ErrPrecondition) {
		return call.Errorf(call.ErrBusy, "job %s changed meanwhile; retry", j.ID)
	} else if err != nil {
		return err
	}
	c.unqueue(ctx, j)
	c.settle(ctx, j, ver)
	return nil
}

// skipBusy lets a claim move on when a job changed under it.
func skipBusy(err error) error {
	if errors.Is(err, call.ErrBusy) {
		return nil
	}
	return err
}
