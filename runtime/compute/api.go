package compute

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/openacquire/acquire/runtime/auth"
	"github.com/openacquire/acquire/runtime/ledger"
)

// JobSpec is what a user asks to run: the access request's details, as
// JSON. Command runs with Args directly (no shell), in a fresh folder,
// with Env beside a minimal environment, for at most TimeoutS seconds.
// Input is a read link to a drive whose files are placed in in/ first;
// the files the job writes to out/ and its logs go to Output, a write
// link to a drive. Limits bound each of the job's processes, within the
// agent's own limits.
type JobSpec struct {
	Cluster  string            `json:"cluster"`
	Command  string            `json:"command"`
	Args     []string          `json:"args,omitempty"`
	Env      map[string]string `json:"env,omitempty"`
	TimeoutS int64             `json:"timeout_s"`
	Input    string            `json:"input,omitempty"`
	Output   string            `json:"output,omitempty"`
	Limits   JobLimits         `json:"limits,omitzero"`
}

// JobLimits are the resource limits a job asks for, each process its own
// (POSIX limits; see agent.Limits). Zero asks for none. The agent applies
// the tighter of these and its own, so a job can narrow an agent's limits
// but never widen them.
type JobLimits struct {
	MemoryMB  int64 `json:"memory_mb,omitempty"`  // heap and private mappings, MiB
	CPUS      int64 `json:"cpu_s,omitempty"`      // CPU time, seconds
	FileMB    int64 `json:"file_mb,omitempty"`    // size of any file written, MiB
	OpenFiles int64 `json:"open_files,omitempty"` // open descriptors
	// Processes caps the processes (and threads) the job has at once: a
	// total for the job, counted in its sandbox's user namespace; an agent
	// without a sandbox refuses a job that asks for it.
	Processes int64 `json:"processes,omitempty"`
}

// Job is a job's record, as users and agents see it.
type Job struct {
	ID          string        `json:"id"`
	Spec        JobSpec       `json:"spec"`
	State       string        `json:"state"`
	RequestUID  string        `json:"request_uid"`
	AccessURL   string        `json:"access_url"`
	IdentityURL string        `json:"identity_url"`
	UserUID     string        `json:"user_uid"`
	Resource    string        `json:"resource"`
	Price       ledger.Amount `json:"price"`
	// Deadline is when the job's payment hold ends, less SettleMargin: no
	// attempt may start that could run past it.
	Deadline        time.Time `json:"deadline"`
	Attempt         int       `json:"attempt"`
	Agent           string    `json:"agent,omitempty"`
	LeaseUntil      time.Time `json:"lease_until,omitzero"`
	CancelRequested bool      `json:"cancel_requested,omitempty"`
	ExitCode        *int      `json:"exit_code,omitempty"`
	Message         string    `json:"message,omitempty"`
	Settled         bool      `json:"settled"`
	Created         time.Time `json:"created"`
	Started         time.Time `json:"started,omitzero"`
	Finished        time.Time `json:"finished,omitzero"`
	// Isolation is how the agent isolated the attempt that ended the job,
	// as it reported it (agent.Isolation: e.g. "sandbox: user, mount, pid,
	// ipc, uts, net namespaces; limits: rlimits"); empty from agents that
	// do not say.
	Isolation string `json:"isolation,omitempty"`
}

// Timeout is the job's hard time limit.
func (j *Job) Timeout() time.Duration { return time.Duration(j.Spec.TimeoutS) * time.Second }

// Submitted is submit_job's answer: access.Deferred, so the access service
// holds the payment until the job ends.
type Submitted struct {
	Deferred bool   `json:"deferred"`
	JobID    string `json:"job_id"`
	Cluster  string `json:"cluster"`
	State    string `json:"state"`
}

// Cluster is a registered cluster: its name and its agents' public key.
type Cluster struct {
	Name       string    `json:"name"`
	PublicKey  string    `json:"public_key"` // base64 Ed25519
	Registered time.Time `json:"registered"`
}

// RegisterClusterArgs registers a cluster's public key (admins).
type RegisterClusterArgs struct {
	auth.Credentials
	Name      string `json:"name"`
	PublicKey string `json:"public_key"`
}

// RegisterClusterResource is "register_cluster <name> key <public key>".
func RegisterClusterResource(name, publicKey string) string {
	return "register_cluster " + name + " key " + publicKey
}

// ClusterAuth is a cluster agent's signed statement: "agent A of cluster C
// asks resource R of the compute service at URL, at time T", signed with
// the cluster's Ed25519 key. It travels inside the encrypted envelope, so
// only the service sees it, and the envelope's replay marker refuses a
// second delivery; the time bounds how long it could be used at all.
type ClusterAuth struct {
	Cluster   string `json:"cluster"`
	Agent     string `json:"agent"`
	Time      string `json:"time"`
	Signature string `json:"signature"`
}

// ClusterMessage is the exact text a cluster key signs.
func ClusterMessage(serviceURL, cluster, agent, resource, at string) []byte {
	return []byte(strings.Join([]string{"acquire-cluster-v1", serviceURL, cluster, agent, resource, at}, "\n"))
}

// ClaimArgs asks for one job of the cluster.
type ClaimArgs struct {
	Auth ClusterAuth `json:"cluster_auth"`
}

// ClaimResource is what claim_job's statement names.
const ClaimResource = "claim_job"

// Claim is claim_job's answer: a job now running under this agent's
// lease, or none.
type Claim struct {
	Job *Job `json:"job,omitempty"`
}

// HeartbeatArgs extends the lease of the agent's attempt of a job.
type HeartbeatArgs struct {
	Auth    ClusterAuth `json:"cluster_auth"`
	JobID   string      `json:"job_id"`
	Attempt int         `json:"attempt"`
}

// HeartbeatResource is "heartbeat <job> attempt <n>".
func HeartbeatResource(job string, attempt int) string {
	return "heartbeat " + job + " attempt " + strconv.Itoa(attempt)
}

// Beat is heartbeat's answer: the new lease, and whether the owner asked
// to cancel (the agent then stops the job and finishes it cancelled).
type Beat struct {
	LeaseUntil      time.Time `json:"lease_until"`
	CancelRequested bool      `json:"cancel_requested"`
}

// FinishArgs reports the end of the agent's attempt of a job.
type FinishArgs struct {
	Auth     ClusterAuth `json:"cluster_auth"`
	JobID    string      `json:"job_id"`
	Attempt  int         `json:"attempt"`
	State    string      `json:"state"` // succeeded, failed or cancelled
	ExitCode *int        `json:"exit_code,omitempty"`
	Message  string      `json:"message,omitempty"`
	// Isolation is how the job ran (see Job.Isolation).
	Isolation string `json:"isolation,omitempty"`
}

// MaxIsolationBytes bounds FinishArgs.Isolation.
const MaxIsolationBytes = 256

// FinishResource is "finish <job> attempt <n> state <s> exit <code> message
// <digest>", then " isolation <digest>" when the agent reports one (so the
// statement signs it, and agents that do not report one sign as before).
func FinishResource(a *FinishArgs) string {
	code := "none"
	if a.ExitCode != nil {
		code = strconv.Itoa(*a.ExitCode)
	}
	r := "finish " + a.JobID + " attempt " + strconv.Itoa(a.Attempt) + " state " + a.State + " exit " + code +
		" message " + digest(a.Message)
	if a.Isolation != "" {
		r += " isolation " + digest(a.Isolation)
	}
	return r
}

// JobArgs names a job, for its owner (or an admin).
type JobArgs struct {
	auth.Credentials
	JobID string `json:"job_id"`
}

// StatusResource is "job_status <job>"; CancelResource is "cancel_job <job>".
func StatusResource(job string) string { return "job_status " + job }

// CancelResource is "cancel_job <job>".
func CancelResource(job string) string { return "cancel_job " + job }

// ParseSpec reads a job spec from an access request's details.
func ParseSpec(details string) (*JobSpec, error) {
	var s JobSpec
	dec := json.NewDecoder(strings.NewReader(details))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return nil, err
	}
	return &s, nil
}

func digest(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:16])
}

// DefaultListLimit and MaxListLimit bound one page of list_jobs.
const (
	DefaultListLimit = 50
	MaxListLimit     = 200
)

// ListJobsArgs asks for one page of the caller's jobs, newest first.
type ListJobsArgs struct {
	auth.Credentials
	Page  string `json:"page,omitempty"`
	Limit int    `json:"limit,omitempty"` // 0: DefaultListLimit; at most MaxListLimit
}

// JobList is one page of a user's jobs, newest first.
type JobList struct {
	Jobs []Job  `json:"jobs"`
	Next string `json:"next,omitempty"`
}

// ListJobsResource is "list_jobs <page> <limit>".
func ListJobsResource(a *ListJobsArgs) string {
	return "list_jobs " + a.Page + " " + strconv.Itoa(a.Limit)
}
