// Package deployer is the contract every cloud's deployer meets: create,
// read, update and delete everything one Acquire service needs on that
// cloud (its store's bucket or container, the function or service running
// the artifact from make dist, its public URL, and its secret passed
// through the platform's secret mechanism). The Terraform provider calls
// deployers through this interface; each cloud folder under adapters/
// implements it on its official SDK.
package deployer

import (
	"context"
	"errors"
)

// ErrNotFound is returned by Read (and Update) when the deployment is gone,
// e.g. deleted out of band: the provider plans a re-create.
var ErrNotFound = errors.New("deployer: deployment not found")

// Spec is one service deployment as declared.
type Spec struct {
	// Name identifies the deployment on its cloud (function name, Cloud Run
	// service, function app); 3-40 of a-z, 0-9 and '-', starting with a letter.
	Name string
	// Kinds are the Acquire service kinds the function serves (ACQUIRE_SERVICES).
	Kinds []string
	// Location is the cloud's region (AWS region, GCP region, Azure location).
	Location string
	// Bucket is the store's bucket / container, created if missing.
	Bucket string
	// StoreURL is the service's whole store URL as configured (bucket,
	// region, endpoint, prefix), for deployers that pass it on as it is
	// (Fn); the cloud deployers derive theirs from Bucket.
	StoreURL string
	// Artifact is the path of the make dist artifact for this platform
	// (Lambda zip, Cloud Run image tarball, Azure Functions zip).
	Artifact string
	// Secret is the service secret. It goes only into the platform's secret
	// store; it is never logged, returned or put in plain configuration.
	Secret string
	// Env is extra environment for the function (e.g. ACQUIRE_TRUSTED_SERVICES).
	Env map[string]string
	// Settings are cloud-specific options, by the deployer's own keys
	// (repository, service account, key vault…); the provider fills them
	// from its typed platform blocks, so each key is checked at plan.
	Settings map[string]string
	// Function is how the function runs, the same on every cloud.
	Function Function
}

// Function is how a deployment's function runs. A zero field takes the
// deployer's default.
type Function struct {
	// ArtifactSHA256 is the artifact's SHA-256 (hex); when set, the
	// deployer refuses an artifact that does not match it.
	ArtifactSHA256 string
	// MemoryMB, TimeoutS and MaxInstances size one instance, bound one call
	// and cap the instances (Lambda reserved concurrency, Cloud Run
	// max instances, Flex Consumption maximum instance count).
	MemoryMB, TimeoutS, MaxInstances int64
	// LogRetentionDays is how long the function's logs are kept.
	LogRetentionDays int64
	// Tags go on every object the deployer makes (labels on GCP).
	Tags map[string]string
	// PublicURL is the service's URL when a custom domain fronts the
	// function: the function is told it (ACQUIRE_PUBLIC_URL) and
	// Deployment.URL is it. Routing the domain is the caller's.
	PublicURL string
}

// Deployment is what exists on the cloud for a Spec.
type Deployment struct {
	Name      string
	URL       string // the public base URL; services live at URL/<kind>
	StoreURL  string // ACQUIRE_STORE_URL as the function sees it
	SecretRef string // where the secret lives (an ARN, a resource name), never the secret
	Version   string // the deployed artifact's digest or version id
	// Services are the service kinds the function serves, comma-separated
	// as ACQUIRE_SERVICES, as deployed (so a deployment found by name
	// alone, e.g. on import, says what it is). A string keeps Deployment
	// comparable.
	Services string
}

// Deployer manages deployments on one cloud.
type Deployer interface {
	Create(ctx context.Context, s Spec) (Deployment, error)
	Read(ctx context.Context, name string) (Deployment, error)
	Update(ctx context.Context, s Spec) (Deployment, error)
	// Secret reads the service secret back from the platform's secret
	// store (where Create put it), for a caller that must open the
	// service's store again: the provider keeps only Deployment.SecretRef
	// in Terraform state. ErrNotFound if the secret is gone.
	Secret(ctx context.Context, name string) (string, error)
	// Delete removes the function, its URL and its secret. The store's data
	// is kept unless deleteData: destroying a deployment must not destroy
	// the money and identities in it by accident.
	Delete(ctx context.Context, name string, deleteData bool) error
}

// TagReader is met by a deployer that can read back the tags (labels on
// GCP) on a deployment's main object, its own acquire-service tag left
// out, so the provider can show tags changed out of band as drift.
// ErrNotFound if the deployment is gone.
type TagReader interface {
	Tags(ctx context.Context, name string) (map[string]string, error)
}
