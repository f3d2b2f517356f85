package compute

import (
	"context"

	"github.com/openacquire/acquire/runtime/auth"
	"github.com/openacquire/acquire/runtime/call"
	"github.com/openacquire/acquire/runtime/service"
)

// Client is the typed client of a compute service for users and admins.
type Client struct {
	C   *call.Client
	URL string
}

// RegisterCluster registers a cluster's public key (admins of the service).
func (c *Client) RegisterCluster(ctx context.Context, s auth.Signer, name, publicKey string) (*Cluster, error) {
	var out Cluster
	return &out, service.SignedCall(ctx, c.C, c.URL, s, "register_cluster", RegisterClusterResource(name, publicKey), func(cr auth.Credentials) any {
		return &RegisterClusterArgs{Credentials: cr, Name: name, PublicKey: publicKey}
	}, &out, true)
}

// Status reads a job (its owner, or an admin).
func (c *Client) Status(ctx context.Context, s auth.Signer, jobID string) (*Job, error) {
	return c.jobCall(ctx, s, "job_status", StatusResource(jobID), jobID)
}

// ListJobs pages through the caller's jobs, newest first (limit 0: the
// service's default).
func (c *Client) ListJobs(ctx context.Context, s auth.Signer, page string, limit int) (*JobList, error) {
	args := &ListJobsArgs{Page: page, Limit: limit}
	var out JobList
	return &out, service.SignedCall(ctx, c.C, c.URL, s, "list_jobs", ListJobsResource(args), func(cr auth.Credentials) any {
		args.Credentials = cr
		return args
	}, &out, false)
}

// Cancel cancels a job (its owner, or an admin).
func (c *Client) Cancel(ctx context.Context, s auth.Signer, jobID string) (*Job, error) {
	return c.jobCall(ctx, s, "cancel_job", CancelResource(jobID), jobID)
}

func (c *Client) jobCall(ctx context.Context, s auth.Signer, fn, resource, jobID string) (*Job, error) {
	var out Job
	return &out, service.SignedCall(ctx, c.C, c.URL, s, fn, resource, func(cr auth.Credentials) any {
		return &JobArgs{Credentials: cr, JobID: jobID}
	}, &out, false)
}

// AgentClient is the client a cluster's agent uses: every call carries a
// statement signed with the cluster key.
type AgentClient struct {
	C     *call.Client
	URL   string
	Key   *ClusterKey
	Agent string // this agent's name, unique within the cluster
}

func (a *AgentClient) sign(resource string) ClusterAuth {
	return a.Key.Sign(a.URL, a.Agent, resource, a.C.Clock())
}

// Claim asks for one job; the answer's Job is nil when there is none.
func (a *AgentClient) Claim(ctx context.Context) (*Job, error) {
	var out Claim
	err := a.C.Call(ctx, a.URL, "claim_job", &ClaimArgs{Auth: a.sign(ClaimResource)}, &out)
	return out.Job, err
}

// Heartbeat extends the lease of this agent's attempt of a job.
func (a *AgentClient) Heartbeat(ctx context.Context, jobID string, attempt int) (*Beat, error) {
	var out Beat
	return &out, a.C.Call(ctx, a.URL, "heartbeat", &HeartbeatArgs{Auth: a.sign(HeartbeatResource(jobID, attempt)),
		JobID: jobID, Attempt: attempt}, &out)
}

// Finish reports the end of this agent's attempt of a job.
// isolation says how the job ran (see Job.Isolation; empty: not said).
func (a *AgentClient) Finish(ctx context.Context, jobID string, attempt int, state string, exit *int, message, isolation string) (*Job, error) {
	args := &FinishArgs{JobID: jobID, Attempt: attempt, State: state, ExitCode: exit, Message: message, Isolation: isolation}
	args.Auth = a.sign(FinishResource(args))
	var out Job
	return &out, a.C.Call(ctx, a.URL, "finish_job", args, &out)
}
