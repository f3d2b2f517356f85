// Package compute is the compute service: jobs paid through the access
// service and run by cluster agents. The access service's catalogue names
// this service's submit_job as a resource's fulfiller; submit_job queues a
// pending job and answers "deferred", so the payment stays held. Agents of
// a registered cluster (authenticated by the cluster's own Ed25519 key)
// claim jobs with a compare-and-swap under a lease, heartbeat, and report
// the end; the service then settles the payment with the access service:
// receipted on success, refunded on failure or cancellation.
//
// Rules (reasons in docs/design/compute.md):
//   - A job is claimed by exactly one agent at a time: pending → running
//     (attempt+1, lease) is a conditional write on the job's record.
//   - A running job whose lease passed (its agent died) is claimed again.
//     Only the agent holding the current attempt may finish it.
//   - A job reaches one final state (succeeded, failed, cancelled), once,
//     and its payment is settled once; a failed settlement is retried by
//     Sweep until it succeeds.
//   - A job must finish before its payment's hold ends: submit refuses a
//     timeout that cannot fit, claim fails a job that can no longer fit.
package compute

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"sync"
	"time"

	"github.com/openacquire/acquire/runtime/auth"
	"github.com/openacquire/acquire/runtime/call"
	"github.com/openacquire/acquire/runtime/identity"
	"github.com/openacquire/acquire/runtime/service"
	"github.com/openacquire/acquire/runtime/store"
)

// Kind is the service kind this package serves.
const Kind = "compute"

// Limits, in one place.
const (
	// DefaultLease is how long a claim or heartbeat keeps a job an agent's.
	DefaultLease = time.Minute
	// MinLease bounds Options.Lease from below (heartbeats need room).
	MinLease = 2 * time.Second
	// MaxLease bounds it from above: a dead agent's job waits a lease
	// before it runs again, and every submission must fit one before its
	// payment's hold ends.
	MaxLease = time.Hour
	// MaxJobTimeout bounds a job's timeout_s.
	MaxJobTimeout = 24 * time.Hour
	// SettleMargin is kept between a job's latest possible end and its
	// payment's hold end, for the final report and settlement.
	SettleMargin = 5 * time.Minute
	// MaxCommandBytes, MaxArgs, MaxArgBytes, MaxEnv, MaxEnvValueBytes,
	// MaxLinkBytes bound a job spec (which also fits access.MaxDetailsBytes).
	MaxCommandBytes  = 256
	MaxArgs          = 64
	MaxArgBytes      = 1024
	MaxEnv           = 32
	MaxEnvValueBytes = 1024
	MaxLinkBytes     = 1024
	// MinJobMemoryMB and MinJobOpenFiles: lower limits would stop a job
	// from starting at all (the dynamic loader and a shell need a few MiB
	// and descriptors). MaxJobLimit bounds every job limit's number.
	MinJobMemoryMB  = 16
	MinJobOpenFiles = 16
	MaxJobLimit     = 1 << 30
	// MaxClaimScan bounds the queue entries one claim looks at.
	MaxClaimScan = 100
	// MaxMessageBytes bounds an agent's final message.
	MaxMessageBytes = 1024
	// MaxClusters bounds the registered clusters.
	MaxClusters = 1000
	// ClusterAuthMaxAge bounds the age of a cluster's signed statement.
	ClusterAuthMaxAge = 2 * time.Minute
	// SweepBatch bounds the records one Sweep looks at per prefix.
	SweepBatch = 1000
	// settleTries are finish's attempts to settle before leaving it to Sweep.
	settleTries = 3
)

var (
	clusterPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)
	agentPattern   = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$`)
	jobIDPattern   = regexp.MustCompile(`^[0-9a-f]{32}$`)
	envKeyPattern  = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,63}$`)
)

// Error classes of the compute service. The names are part of the protocol.
var (
	ErrBadJob         = call.NewClass("BadJobError")         // the job spec is invalid
	ErrJobTooLong     = call.NewClass("JobTooLongError")     // the timeout cannot end before the payment's hold
	ErrUnknownCluster = call.NewClass("UnknownClusterError") // no such registered cluster
	ErrClusterAuth    = call.NewClass("ClusterAuthError")    // the cluster's statement does not verify or is stale
	ErrLeaseLost      = call.NewClass("LeaseLostError")      // another attempt holds the job now, or it ended
	ErrJobFinished    = call.NewClass("JobFinishedError")    // the job is already in a final state
)

// States of a job.
const (
	StatePending   = "pending"
	StateRunning   = "running"
	StateSucceeded = "succeeded"
	StateFailed    = "failed"
	StateCancelled = "cancelled"
)

// CheckLease refuses a lease outside [MinLease, MaxLease].
func CheckLease(d time.Duration) error {
	if d < MinLease || d > MaxLease {
		return fmt.Errorf("the lease must be %d to %d s", int(MinLease/time.Second), int(MaxLease/time.Second))
	}
	return nil
}

// OutputName is where a job's file rel ("out/result.txt", "logs/stdout.txt")
// goes behind its output link: in a folder named for the job, so jobs that
// share an output drive keep their outputs and logs apart.
func OutputName(jobID, rel string) string { return jobID + "/" + rel }

// Final says whether a state is final.
func Final(state string) bool {
	return state == StateSucceeded || state == StateFailed || state == StateCancelled
}

// Keys of the service's records. The queue holds a pointer per job that
// may still be claimed (pending, or running under a lease that may pass),
// so claims never list finished jobs; unsettled holds a pointer per final
// job whose payment is not yet settled, for Sweep.
const (
	clustersPre  = "compute/clusters/"
	jobsPre      = "compute/jobs/"
	queuePre     = "compute/queue/"
	unsettledPre = "compute/unsettled/"
)

func clusterKey(name string) string     { return clustersPre + name }
func jobKey(id string) string           { return jobsPre + id }
func queuePrefix(cluster string) string { return queuePre + cluster + "/" }
func unsettledKey(id string) string     { return unsettledPre + id }

// Compute is the compute service on top of the function framework.
type Compute struct {
	svc   *service.Service
	b     *store.Bucket
	v     *auth.Verifier
	sv    *auth.ServiceVerifier // the access services this one fulfils for
	c     *call.Client
	lease time.Duration

	mu       sync.Mutex
	clusters map[string]cachedCluster // registered clusters, read at most every ClusterCacheFor
}

// Options configure the service.
type Options struct {
	// Client makes identity lookups and settle calls.
	Client *call.Client
	// AccessURLs are the access services whose fulfilment calls are
	// accepted (and settled with). Required.
	AccessURLs []string
	// TrustedIdentities lists the identity services whose users may act
	// here; empty trusts any.
	TrustedIdentities []string
	// Lease is how long a claim or heartbeat holds a job (default DefaultLease).
	Lease time.Duration
}

// New registers the compute functions on svc.
func New(svc *service.Service, o Options) (*Compute, error) {
	if o.Client == nil || len(o.AccessURLs) == 0 {
		return nil, errors.New("compute: a call client and an access service URL are required")
	}
	if o.Lease == 0 {
		o.Lease = DefaultLease
	}
	if err := CheckLease(o.Lease); err != nil {
		return nil, fmt.Errorf("compute: %w", err)
	}
	v := &auth.Verifier{Lookup: identity.Lookup(o.Client), Clock: svc.Clock(), Audience: svc.URL()}
	if len(o.TrustedIdentities) > 0 {
		v.Identities = map[string]bool{}
		for _, u := range o.TrustedIdentities {
			v.Identities[u] = true
		}
	}
	sv := &auth.ServiceVerifier{Certs: auth.ServiceCertsFrom(o.Client), Clock: svc.Clock(), Audience: svc.URL(), Services: map[string]bool{}}
	for _, u := range o.AccessURLs {
		sv.Services[u] = true
	}
	c := &Compute{svc: svc, b: svc.Bucket(), v: v, sv: sv, c: o.Client, lease: o.Lease, clusters: map[string]cachedCluster{}}
	c.register()
	return c, nil
}

func (c *Compute) register() {
	s := c.svc
	service.Handle(s, "submit_job", service.Options{}, c.handleSubmit)
	service.Handle(s, "register_cluster", service.Options{Idempotent: true}, c.handleRegisterCluster)
	service.Handle(s, "claim_job", service.Options{}, c.handleClaim)
	service.Handle(s, "heartbeat", service.Options{}, c.handleHeartbeat)
	service.Handle(s, "finish_job", service.Options{}, c.handleFinish)
	service.Handle(s, "job_status", service.Options{}, c.handleStatus)
	service.Handle(s, "cancel_job", service.Options{}, c.handleCancel)
	service.Handle(s, "list_jobs", service.Options{}, c.handleListJobs)
}

// Service returns the framework service this runs on.
func (c *Compute) Service() *service.Service { return c.svc }

// Lease is how long a claim or heartbeat holds a job.
func (c *Compute) Lease() time.Duration { return c.lease }

// AddAdmin makes a user an admin of the compute service (registers clusters).
func (c *Compute) AddAdmin(ctx context.Context, identityURL, userUID string) error {
	return c.svc.AddAdmin(ctx, service.Admin{IdentityURL: identityURL, UserUID: userUID})
}

// user is who a user authorisation speaks for.
type user struct {
	IdentityURL, UserUID string
}

func (c *Compute) authoriseUser(ctx context.Context, cr auth.Credentials, resource string) (*user, error) {
	if cr.Service != nil || cr.Authorisation == nil {
		return nil, call.Errorf(auth.ErrAuthorisation, "give a user's authorisation (and no service's)")
	}
	s, err := c.v.Verify(ctx, cr.Authorisation, resource)
	if err != nil {
		return nil, err
	}
	return &user{IdentityURL: cr.Authorisation.IdentityURL, UserUID: s.UserUID}, nil
}

func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}
