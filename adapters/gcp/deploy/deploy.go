// Package deploy is the GCP deployer (adapters/deployer.Deployer): for one
// Acquire service it manages, on Google's REST clients,
//
//   - the store's GCS bucket (created if missing, uniform access, public
//     access prevented; kept on Delete unless deleteData);
//   - the service secret in Secret Manager (secret <name>-service-secret,
//     replicated in the service's region), read by the service's runtime
//     identity, which is granted roles/secretmanager.secretAccessor on it;
//   - the image from make dist (dist/gcp-run-amd64.tar), pushed by digest
//     to Artifact Registry (<region>-docker.pkg.dev/<project>/<repository>);
//   - the Cloud Run service (v2) running that digest, with
//     ACQUIRE_SERVICE_SECRET taken from a pinned secret version through a
//     secretKeyRef, so the value is never in the service's configuration;
//   - its public invoker binding (allUsers, roles/run.invoker): Acquire's
//     envelopes carry their own authentication;
//   - with Function.LogRetentionDays, its own log bucket, sink and _Default
//     exclusion (logs.go).
//
// Labels: the bucket, the secret and the service carry Function.Tags as
// labels (checked against GCP's label rules, labels.go) and
// acquire-service=<name>; every apply makes them what the spec says, so a
// change of tags updates them in place.
//
// Ordering: ACQUIRE_PUBLIC_URL is the service's own URL, which Cloud Run
// assigns only when it creates the service. A new service is therefore
// created without it and without the public binding, then updated with the
// URL (a second revision), and only then made public, so no public request
// reaches a revision that does not know its URL.
//
// The deployer's own identity needs to read secret versions, because a
// repeated Create compares the value in memory so as not to add a version
// per call, and roles/logging.configWriter for log retention.
//
// Tested only at the SDK boundary: the clients are pointed at a local
// recording endpoint that answers with the APIs' JSON shapes (Cloud Run,
// Secret Manager, IAM), at fake-gcs-server (bucket) and at an in-memory OCI
// registry (push). It has NOT been applied against a live GCP project.
package deploy

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"cloud.google.com/go/storage"
	"github.com/google/go-containerregistry/pkg/authn"
	"google.golang.org/api/googleapi"
	logging "google.golang.org/api/logging/v2"
	"google.golang.org/api/option"
	run "google.golang.org/api/run/v2"
	secretmanager "google.golang.org/api/secretmanager/v1"

	"github.com/openacquire/acquire/adapters/deployer"
)

// Defaults for the explicit limits.
const (
	DefaultCallTimeout      = 60 * time.Second
	DefaultOperationTimeout = 10 * time.Minute
	DefaultPushTimeout      = 15 * time.Minute
	DefaultPollInterval     = 2 * time.Second
)

// Config is where the deployer works. Project and Region are fixed per
// deployer because Read and Delete are given only a name.
type Config struct {
	Project string
	Region  string

	// Endpoint overrides, for tests ("" = Google's).
	RunEndpoint     string
	SecretsEndpoint string
	StorageEndpoint string
	LoggingEndpoint string
	// RegistryHost defaults to <Region>-docker.pkg.dev.
	RegistryHost string
	// RegistryInsecure talks plain HTTP to RegistryHost (tests only).
	RegistryInsecure bool
	// RegistryAuth defaults to Google's keychain (application default
	// credentials or gcloud).
	RegistryAuth authn.Authenticator
	// ClientOptions go to every Google client (credentials, or
	// option.WithoutAuthentication in tests).
	ClientOptions []option.ClientOption

	CallTimeout      time.Duration // one API call
	OperationTimeout time.Duration // one long-running operation
	PushTimeout      time.Duration // one image push
	PollInterval     time.Duration // between operation polls
}

// Deployer manages Acquire services on Cloud Run.
type Deployer struct {
	cfg     Config
	run     *run.Service
	secrets *secretmanager.Service
	storage *storage.Client
	logging *logging.Service
}

var _ deployer.Deployer = (*Deployer)(nil)

// New builds the clients. Close releases them.
func New(ctx context.Context, cfg Config) (*Deployer, error) {
	if !projectRE.MatchString(cfg.Project) {
		return nil, &SpecError{Field: "Config.Project", Reason: "must be a GCP project id (6-30 of a-z, 0-9, '-')"}
	}
	if !regionRE.MatchString(cfg.Region) {
		return nil, &SpecError{Field: "Config.Region", Reason: "must be a GCP region such as europe-west1"}
	}
	cfg = withDefaults(cfg)
	d := &Deployer{cfg: cfg}
	var err error
	if d.run, err = run.NewService(ctx, withEndpoint(cfg.ClientOptions, cfg.RunEndpoint)...); err != nil {
		return nil, fmt.Errorf("gcp deploy: cloud run client: %w", err)
	}
	if d.secrets, err = secretmanager.NewService(ctx, withEndpoint(cfg.ClientOptions, cfg.SecretsEndpoint)...); err != nil {
		return nil, fmt.Errorf("gcp deploy: secret manager client: %w", err)
	}
	if d.logging, err = logging.NewService(ctx, withEndpoint(cfg.ClientOptions, cfg.LoggingEndpoint)...); err != nil {
		return nil, fmt.Errorf("gcp deploy: logging client: %w", err)
	}
	if d.storage, err = storage.NewClient(ctx, withEndpoint(cfg.ClientOptions, cfg.StorageEndpoint)...); err != nil {
		return nil, fmt.Errorf("gcp deploy: storage client: %w", err)
	}
	return d, nil
}

// Close releases the storage client's connections.
func (d *Deployer) Close() error { return d.storage.Close() }

func withDefaults(cfg Config) Config {
	set := func(v *time.Duration, def time.Duration) {
		if *v <= 0 {
			*v = def
		}
	}
	set(&cfg.CallTimeout, DefaultCallTimeout)
	set(&cfg.OperationTimeout, DefaultOperationTimeout)
	set(&cfg.PushTimeout, DefaultPushTimeout)
	set(&cfg.PollInterval, DefaultPollInterval)
	if cfg.RegistryHost == "" {
		cfg.RegistryHost = cfg.Region + "-docker.pkg.dev"
	}
	return cfg
}

func withEndpoint(opts []option.ClientOption, endpoint string) []option.ClientOption {
	out := append([]option.ClientOption{}, opts...)
	if endpoint != "" {
		out = append(out, option.WithEndpoint(endpoint))
	}
	return out
}

// Create makes everything s needs; on an existing deployment it converges
// to s, so a repeated Create is harmless.
func (d *Deployer) Create(ctx context.Context, s deployer.Spec) (deployer.Deployment, error) {
	return d.apply(ctx, s, false)
}

// Update deploys s as a new revision; ErrNotFound if the service is gone.
func (d *Deployer) Update(ctx context.Context, s deployer.Spec) (deployer.Deployment, error) {
	return d.apply(ctx, s, true)
}

func (d *Deployer) apply(ctx context.Context, s deployer.Spec, mustExist bool) (deployer.Deployment, error) {
	p, err := d.parseSpec(s)
	if err != nil {
		return deployer.Deployment{}, err
	}
	var existing *run.GoogleCloudRunV2Service
	err = deployer.Do(ctx, "get_service", func() (err error) {
		existing, err = d.getService(ctx, s.Name)
		if errors.Is(err, deployer.ErrNotFound) && !mustExist {
			existing, err = nil, nil // Create makes it
		}
		return err
	}, "service", s.Name)
	if err != nil {
		return deployer.Deployment{}, err
	}
	if err := deployer.Do(ctx, "ensure_bucket", func() error { return d.ensureBucket(ctx, s.Bucket, labels(p)) },
		"bucket", s.Bucket); err != nil {
		return deployer.Deployment{}, err
	}
	if err := deployer.Do(ctx, "grant_bucket", func() error { return d.grantBucketAccess(ctx, s.Bucket, p.serviceAccount) },
		"bucket", s.Bucket, "service_account", p.serviceAccount); err != nil {
		return deployer.Deployment{}, err
	}
	var image, version string
	if err := deployer.Do(ctx, "push_image", func() (err error) {
		image, err = d.pushImage(ctx, p.repository, s.Name, s.Artifact)
		return err
	}, "repository", p.repository, "service", s.Name); err != nil {
		return deployer.Deployment{}, err
	}
	// The secret's name and version are logged, never its value.
	if err := deployer.Do(ctx, "ensure_secret", func() (err error) {
		version, err = d.ensureSecret(ctx, s.Name, s.Secret, p.serviceAccount, labels(p))
		return err
	}, "secret_name", d.secretName(s.Name), "service_account", p.serviceAccount); err != nil {
		return deployer.Deployment{}, err
	}
	step := "create_service"
	if existing != nil {
		step = "update_service"
	}
	var svc *run.GoogleCloudRunV2Service
	if err := deployer.Do(ctx, step, func() (err error) {
		svc, err = d.deployService(ctx, existing, p, image, version)
		return err
	}, "service", s.Name, "image", image); err != nil {
		return deployer.Deployment{}, err
	}
	if err := deployer.Do(ctx, "make_public", func() error { return d.makePublic(ctx, s.Name) }, "service", s.Name); err != nil {
		return deployer.Deployment{}, err
	}
	if err := deployer.Do(ctx, "ensure_logs", func() error { return d.ensureLogs(ctx, s.Name, s.Function.LogRetentionDays) },
		"service", s.Name, "retention_days", s.Function.LogRetentionDays); err != nil {
		return deployer.Deployment{}, err
	}
	return deploymentOf(s.Name, svc), nil
}

// Read describes the deployment; ErrNotFound if its service is gone.
func (d *Deployer) Read(ctx context.Context, name string) (deployer.Deployment, error) {
	if err := checkName(name); err != nil {
		return deployer.Deployment{}, err
	}
	svc, err := d.getService(ctx, name)
	if err != nil {
		return deployer.Deployment{}, err
	}
	return deploymentOf(name, svc), nil
}

// Delete removes the service and its secret, then, only if deleteData, the
// bucket with every object in it: deleteData is the explicit request to
// destroy the store, so a non-empty bucket is emptied rather than refused.
// The bucket is found from the service's ACQUIRE_STORE_URL; if the service
// is already gone the bucket cannot be named and is kept. Images stay in
// Artifact Registry for its own cleanup policies.
func (d *Deployer) Delete(ctx context.Context, name string, deleteData bool) error {
	if err := checkName(name); err != nil {
		return err
	}
	bucket := ""
	svc, err := d.getService(ctx, name)
	switch {
	case err == nil:
		bucket = bucketOf(svc)
		if err := deployer.Do(ctx, "delete_service", func() error { return d.deleteService(ctx, name) }, "service", name); err != nil {
			return err
		}
	case !errors.Is(err, deployer.ErrNotFound):
		return err
	}
	if err := deployer.Do(ctx, "delete_secret", func() error { return d.deleteSecret(ctx, name) }, "secret_name", d.secretName(name)); err != nil {
		return err
	}
	if err := deployer.Do(ctx, "delete_logs", func() error { return d.deleteLogs(ctx, name, deleteData) }, "service", name); err != nil {
		return err
	}
	if deleteData && bucket != "" {
		return deployer.Do(ctx, "delete_bucket", func() error { return d.deleteBucket(ctx, bucket) }, "bucket", bucket)
	}
	return nil
}

// call bounds one API call by CallTimeout.
func (d *Deployer) call(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, d.cfg.CallTimeout)
}

func isNotFound(err error) bool {
	var ge *googleapi.Error
	return errors.As(err, &ge) && ge.Code == http.StatusNotFound
}

func isConflict(err error) bool {
	var ge *googleapi.Error
	return errors.As(err, &ge) && ge.Code == http.StatusConflict
}
