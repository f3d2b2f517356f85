package compute

import (
	"context"
	"errors"
	"strings"

	"github.com/openacquire/acquire/runtime/call"
	"github.com/openacquire/acquire/runtime/store"
)

// ownJob reads a job for its owner, or for an admin of the service.
func (c *Compute) ownJob(ctx context.Context, args *JobArgs, resource string) (*Job, store.Version, error) {
	if !jobIDPattern.MatchString(args.JobID) {
		return nil, "", call.Errorf(call.ErrBadArguments, "job id %q is malformed", clip(args.JobID))
	}
	u, err := c.authoriseUser(ctx, args.Credentials, resource)
	if err != nil {
		return nil, "", err
	}
	j, ver, err := c.job(ctx, args.JobID)
	if err != nil {
		return nil, "", err
	}
	if j.IdentityURL == u.IdentityURL && j.UserUID == u.UserUID {
		return j, ver, nil
	}
	if ok, err := c.svc.IsAdmin(ctx, u.IdentityURL, u.UserUID); err != nil {
		return nil, "", err
	} else if !ok {
		// Not found, rather than forbidden: job ids are not to be probed.
		return nil, "", call.Errorf(call.ErrNotFound, "no job %s", args.JobID)
	}
	// An admin sees the job, not the secrets of its owner's drive links.
	j.Spec.Input, j.Spec.Output = RedactLink(j.Spec.Input), RedactLink(j.Spec.Output)
	return j, ver, nil
}

// RedactLink drops a link's secret: a PAR link carries it after '#'.
func RedactLink(link string) string {
	if i := strings.IndexByte(link, '#'); i >= 0 {
		return link[:i] + "#…"
	}
	return link
}

func (c *Compute) handleStatus(ctx context.Context, args *JobArgs) (*Job, error) {
	j, _, err := c.ownJob(ctx, args, StatusResource(args.JobID))
	return j, err
}

// handleCancel cancels a job for its owner: a pending one at once (and
// refunds it), a running one by asking its agent, which sees the request
// on its next heartbeat, stops the command and finishes it cancelled. A
// cancelled job answers itself again; another final one is JobFinishedError.
func (c *Compute) handleCancel(ctx context.Context, args *JobArgs) (*Job, error) {
	for range 3 {
		j, ver, err := c.ownJob(ctx, args, CancelResource(args.JobID))
		if err != nil {
			return nil, err
		}
		switch {
		case j.State == StateCancelled:
			return j, nil
		case Final(j.State):
			return nil, call.Errorf(ErrJobFinished, "job %s already ended %s", j.ID, j.State)
		case j.State == StatePending:
			err = c.finalize(ctx, j, ver, StateCancelled, nil, "cancelled by its owner")
		case j.CancelRequested:
			return j, nil
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
		return j, err
	}
	return nil, call.Errorf(call.ErrBusy, "job %s keeps changing; retry", args.JobID)
}
