package compute

import (
	"context"
	"errors"

	"github.com/openacquire/acquire/runtime/call"
	"github.com/openacquire/acquire/runtime/store"
)

// storedJob is a job as kept in the store: its drive links carry their
// PAR secrets, so they are sealed with the service's data key at rest
// (Keyring.Seal) and opened only for the job's agent and owner.
type storedJob struct {
	Job
	SealedInput  string `json:"sealed_input,omitempty"`
	SealedOutput string `json:"sealed_output,omitempty"`
}

func (c *Compute) seal(ctx context.Context, j *Job) (*storedJob, error) {
	s := &storedJob{Job: *j}
	s.Spec.Input, s.Spec.Output = "", ""
	for _, l := range []struct {
		plain string
		to    *string
	}{{j.Spec.Input, &s.SealedInput}, {j.Spec.Output, &s.SealedOutput}} {
		if l.plain == "" {
			continue
		}
		sealed, err := c.svc.Keys().Seal(ctx, []byte(l.plain))
		if err != nil {
			return nil, err
		}
		*l.to = sealed
	}
	return s, nil
}

func (c *Compute) open(ctx context.Context, s *storedJob) (*Job, error) {
	j := s.Job
	for _, l := range []struct {
		sealed string
		to     *string
	}{{s.SealedInput, &j.Spec.Input}, {s.SealedOutput, &j.Spec.Output}} {
		if l.sealed == "" {
			continue
		}
		plain, err := c.svc.Keys().Unseal(ctx, l.sealed)
		if err != nil {
			return nil, err
		}
		*l.to = string(plain)
	}
	return &j, nil
}

// job reads a job's record.
func (c *Compute) job(ctx context.Context, id string) (*Job, store.Version, error) {
	var s storedJob
	ver, err := c.b.GetJSON(ctx, jobKey(id), &s)
	if errors.Is(err, store.ErrNotFound) {
		return nil, "", call.Errorf(call.ErrNotFound, "no job %s", clip(id))
	} else if err != nil {
		return nil, "", err
	}
	j, err := c.open(ctx, &s)
	return j, ver, err
}

// createJob writes a new job's record (ErrPrecondition if it exists).
func (c *Compute) createJob(ctx context.Context, j *Job) error {
	s, err := c.seal(ctx, j)
	if err != nil {
		return err
	}
	_, err = c.b.PutJSONIfAbsent(ctx, jobKey(j.ID), s)
	return err
}

// saveJob writes a job's record over version ver (ErrPrecondition if it
// changed meanwhile).
func (c *Compute) saveJob(ctx context.Context, j *Job, ver store.Version) (store.Version, error) {
	s, err := c.seal(ctx, j)
	if err != nil {
		return "", err
	}
	return c.b.PutJSONIfVersion(ctx, jobKey(j.ID), s, ver)
}
