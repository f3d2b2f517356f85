package compute

import (
	"context"
	"errors"
	"strings"

	"github.com/openacquire/acquire/runtime/call"
	"github.com/openacquire/acquire/runtime/store"
)

// ownJob reads a job for its owner, or for an admin of the service. The
// job is the stored one, links and all, so that whatever the caller saves
// back keeps them; answer turns it into what the caller may see.
func (c *Compute) ownJob(ctx context.Context, args *JobArgs, resource string) (j *Job, ver store.Version, answer func(*Job) *Job, err error) {
	if !jobIDPattern.MatchString(args.JobID) {
		return nil, "", nil, call.Errorf(call.ErrBadArguments, "job id %q is malformed", clip(args.JobID))
	}
	u, err := c.authoriseUser(ctx, args.Credentials, resource)
	if err != nil {
		return nil, "", nil, err
	}
	if j, ver, err = c.job(ctx, args.JobID); err != nil {
		return nil, "", nil, err
	}
	if j.IdentityURL == u.IdentityURL && j.UserUID == u.UserUID {
		return j, ver, ownerView, nil
	}
	if ok, err := c.svc.IsAdmin(ctx, u.IdentityURL, u.UserUID); err != nil {
		return nil, "", nil, err
	} else if !ok {
		// Not found, rather than forbidden: job ids are not to be probed.
		return nil, "", nil, call.Errorf(call.ErrNotFound, "no job %s", args.JobID)
	}
	return j, ver, adminView, nil
}

// ownerView answers the job as it is.
func ownerView(j *Job) *Job { return j }

// adminView answers a copy without the secrets of the owner's drive links:
// an admin sees the job, not its PARs. A copy, because the job itself may
// still be saved (cancel_job) and must keep them.
func adminView(j *Job) *Job {
	v := *j
	v.Spec.Input, v.Spec.Output = RedactLink(j.Spec.Input), RedactLink(j.Spec.Output)
	return &v
}

// RedactLink drops a link's secret: a PAR link carries it after '#'.
func RedactLink(link string) string {
	if i := strings.IndexByte(link, '#'); i >= 0 {
		return link[:i] + "#…"
	}
	return link
}

func (c *Compute) handleStatus(ctx context.Context, args *JobArgs) (*Job, error) {
	j, _, answer, err := c.ownJob(ctx, args, StatusResource(args.JobID))
	if err != nil {
		return nil, err
	}
	return answer(j), nil
}

// handleCancel cancels a job for its owner: a pending one at once (and
// refunds it), a running one by asking its agent, which sees the request
// on its next heartbeat, stops the command and finishes it cancelled. A
// cancelled job answers itself again; another final one is JobFinishedError.
func (c *Compute) handleCancel(ctx context.Context, args *JobArgs) (*Job, error) {
	for range 3 {
		j, ver, answer, err := c.ownJob(ctx, args, CancelResource(args.JobID))
		if err != nil {
			return nil, err
		}
		switch {
		case j.State == StateCancelled:
			return answer(j), nil
		case Final(j.State):
			return nil, call.Errorf(ErrJobFinished, "job %s already ended %s", j.ID, j.State)
		case j.State == StatePending:
			err = c.finalize(ctx, j, ver, StateCancelled, nil, "cancelled by its owner")
		case j.CancelRequested:
			return answer(j), nil
		default:
			j.CancelRequested = true
			_, err = c.saveJob(ctx, j, ver)
			if errors.Is(err, store.ErrPrecondition) {
				err = call.Errorf(call.ErrBusy, "changed")
			}
		}
		if errors.Is(err, call.ErrBusy) {
			continue // claimed or beaten meanwhile: look again
		}
		if err != nil {
			return nil, err
		}
		return answer(j), nil
	}
	return nil, call.Errorf(call.ErrBusy, "job %s keeps changing; retry", args.JobID)
}
