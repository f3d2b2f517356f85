package compute

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/openacquire/acquire/runtime/access"
	"github.com/openacquire/acquire/runtime/call"
	"github.com/openacquire/acquire/runtime/store"
)

// checkSpec checks a job spec before anything is written.
func checkSpec(s *JobSpec) error {
	bad := func(format string, args ...any) error { return call.Errorf(ErrBadJob, format, args...) }
	switch {
	case !clusterPattern.MatchString(s.Cluster):
		return bad("cluster %q must match %s", clip(s.Cluster), clusterPattern)
	case s.Command == "" || len(s.Command) > MaxCommandBytes || strings.ContainsRune(s.Command, 0):
		return bad("command must be 1 to %d bytes", MaxCommandBytes)
	case len(s.Args) > MaxArgs:
		return bad("at most %d args", MaxArgs)
	case len(s.Env) > MaxEnv:
		return bad("at most %d environment variables", MaxEnv)
	case s.TimeoutS < 1 || s.TimeoutS > int64(MaxJobTimeout/time.Second):
		return bad("timeout_s %d is not in [1, %d]", s.TimeoutS, int64(MaxJobTimeout/time.Second))
	case !linkOK(s.Input) || !linkOK(s.Output):
		return bad("input and output must be http(s) links of at most %d bytes", MaxLinkBytes)
	}
	if err := s.Limits.Check(); err != nil {
		return bad("%v", err)
	}
	for _, a := range s.Args {
		if len(a) > MaxArgBytes || strings.ContainsRune(a, 0) {
			return bad("an arg is over %d bytes or holds a NUL", MaxArgBytes)
		}
	}
	for k, v := range s.Env {
		if !envKeyPattern.MatchString(k) || len(v) > MaxEnvValueBytes || strings.ContainsRune(v, 0) {
			return bad("environment variable %q must match %s, its value at most %d bytes", clip(k), envKeyPattern, MaxEnvValueBytes)
		}
	}
	return nil
}

// Check says whether each limit is 0 (none) or in its range.
func (l JobLimits) Check() error {
	for _, f := range []struct {
		name   string
		v, min int64
	}{{"memory_mb", l.MemoryMB, MinJobMemoryMB}, {"cpu_s", l.CPUS, 1}, {"file_mb", l.FileMB, 1}, {"open_files", l.OpenFiles, MinJobOpenFiles}, {"processes", l.Processes, 1}} {
		if f.v != 0 && (f.v < f.min || f.v > MaxJobLimit) {
			return fmt.Errorf("limits.%s %d is not 0 (none) or in [%d, %d]", f.name, f.v, f.min, MaxJobLimit)
		}
	}
	return nil
}

// linkOK accepts an empty link or an http(s) one (a PAR) without spaces
// or control characters.
func linkOK(s string) bool {
	if s == "" {
		return true
	}
	return len(s) <= MaxLinkBytes && (strings.HasPrefix(s, "https://") || strings.HasPrefix(s, "http://")) &&
		!strings.ContainsFunc(s, func(r rune) bool { return r <= 0x20 || r == 0x7f })
}

// handleSubmit is the fulfiller the access catalogue names: it queues a
// pending job for the request and answers deferred. It is idempotent by
// the request uid (the job's id): the access service may ask twice.
func (c *Compute) handleSubmit(ctx context.Context, args *access.FulfilArgs) (*Submitted, error) {
	if args.Service == nil || args.Authorisation != nil {
		return nil, call.Errorf(call.ErrPermission, "submit_job is called by the access service in its own name")
	}
	accessURL, err := c.sv.Verify(ctx, args.Service, access.FulfilResource(args))
	if err != nil {
		return nil, err
	}
	if !jobIDPattern.MatchString(args.RequestUID) {
		return nil, call.Errorf(call.ErrBadArguments, "request uid %q is malformed", clip(args.RequestUID))
	}
	spec, err := ParseSpec(args.Details)
	if err != nil {
		return nil, call.Errorf(ErrBadJob, "the details are not a job spec: %v", err)
	}
	if err := checkSpec(spec); err != nil {
		return nil, err
	}
	if old, _, err := c.job(ctx, args.RequestUID); err == nil {
		return &Submitted{Deferred: true, JobID: old.ID, Cluster: old.Spec.Cluster, State: old.State}, nil
	} else if !errors.Is(err, call.ErrNotFound) {
		return nil, err
	}
	if _, err := c.cluster(ctx, spec.Cluster); err != nil {
		return nil, err
	}
	now := c.svc.Now().UTC().Truncate(time.Millisecond)
	deadline := args.HoldUntil.Add(-SettleMargin)
	if args.HoldUntil.IsZero() || now.Add(time.Duration(spec.TimeoutS)*time.Second+c.lease).After(deadline) {
		return nil, call.Errorf(ErrJobTooLong, "a %d s job cannot end before the payment's hold ends (%s, less %s); ask for a resource with a longer hold",
			spec.TimeoutS, args.HoldUntil.Format(time.RFC3339), SettleMargin)
	}
	j := &Job{ID: args.RequestUID, Spec: *spec, State: StatePending, RequestUID: args.RequestUID, AccessURL: accessURL,
		IdentityURL: args.IdentityURL, UserUID: args.UserUID, Resource: args.Resource, Price: args.Price,
		Deadline: deadline, Created: now}
	// The queue pointer first: a job record without one could never be
	// claimed. A pointer without a job is skipped (and removed) by claims.
	if _, err := c.b.PutJSON(ctx, pendingKey(j), &pointer{Created: now}); err != nil {
		return nil, err
	}
	// Its owner's index entry next, for list_jobs (see list.go).
	if err := c.indexJob(ctx, j); err != nil {
		return nil, err
	}
	if err := c.createJob(ctx, j); errors.Is(err, store.ErrPrecondition) {
		return c.handleSubmit(ctx, args) // a concurrent first call wrote it: answer as a repeat
	} else if err != nil {
		return nil, err
	}
	return &Submitted{Deferred: true, JobID: j.ID, Cluster: spec.Cluster, State: j.State}, nil
}
