// Package deploy is the AWS deployer (adapters/deployer.Deployer) on
// aws-sdk-go-v2. For one Acquire service it manages, in one region:
//
//   - the store's S3 bucket, created if missing;
//   - the service secret in Secrets Manager (acquire/<name>/service-secret);
//   - the function's IAM execution role (acquire-<name>-fn) whose inline
//     policy allows only its bucket, GetSecretValue on its secret and its
//     own CloudWatch log group;
//   - the Lambda function (provided.al2023, handler bootstrap, arm64 by
//     default) running the make dist zip, and its function URL (auth type
//     NONE: Acquire envelopes carry their own authentication).
//
// The secret. Lambda cannot inject a secret into the environment, and an
// environment variable (KMS-encrypted at rest or not) is returned in plain
// text by lambda:GetFunctionConfiguration to every principal allowed to
// read the function's configuration. So the function's environment holds
// only ACQUIRE_SERVICE_SECRET_ARN; the bootstrap (adapters/aws/lambdafn)
// reads the value with its execution role on the first request, never at
// init. The secret's value appears in no log, error, environment or
// returned Deployment.
//
// Ordering. The function URL exists only after the function does, and the
// function needs its own URL (ACQUIRE_PUBLIC_URL). Create therefore makes
// the function, then its URL, then updates the environment with the URL
// and waits for the update, and only then grants public invocation, so no
// caller reaches a half-configured function.
//
// Tags (Function.Tags and acquire-service) go on the function, the role,
// the secret and the log group when they are made, and every apply brings
// them to the spec in place (tags.go); Tags reads the function's back.
//
// Delete removes the URL, the function, the role and the secret. The
// secret is scheduled for deletion with a 7-day recovery window when the
// data is kept (the store's keys are sealed with it; a re-Create restores
// it) and deleted at once with the data. The bucket is deleted only when
// deleteData: it is emptied first (at most MaxEmptyObjects objects), and a
// bucket that still is not empty (versioned, or written to meanwhile) is
// left in place with ErrBucketNotEmpty. The bucket is found through the
// function's store URL, so a bucket whose function is already gone is
// left alone.
//
// Tests run at the SDK boundary only: Lambda, IAM and Secrets Manager
// calls go to a local recording server answering in the AWS wire shapes,
// and bucket calls to the versitygw S3 gateway. This deployer has NOT been
// applied against a live AWS account from here.
package deploy

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/openacquire/acquire/adapters/deployer"
)

// Limits and waits; Options may shorten the waits (tests).
const (
	DefaultWaitTimeout = 5 * time.Minute  // for a function to become Active / Updated
	DefaultRoleRetry   = 2 * time.Second  // between CreateFunction tries while the new role propagates
	RoleRetryTimeout   = 60 * time.Second // IAM is eventually consistent: a new role needs seconds
	MaxEmptyObjects    = 1_000_000        // objects Delete removes before giving up on a bucket
	SecretRecoveryDays = 7                // the minimum Secrets Manager allows
)

// ErrBucketNotEmpty is returned by Delete(…, true) when the bucket could
// not be emptied; the bucket is kept.
var ErrBucketNotEmpty = errors.New("deploy: bucket not empty; kept")

// Clients are the AWS API clients a Deployer uses, all in one region
// (IAM is global).
type Clients struct {
	S3      *s3.Client
	Lambda  *lambda.Client
	IAM     *iam.Client
	Secrets *secretsmanager.Client
	Logs    *cloudwatchlogs.Client
}

// Options tune waits; zero values take the defaults.
type Options struct {
	WaitTimeout  time.Duration
	PollInterval time.Duration // between state polls (default: the SDK waiter's)
	RoleRetry    time.Duration
}

// Deployer manages Acquire deployments in one AWS region.
type Deployer struct {
	region string
	c      Clients
	opt    Options
}

var _ deployer.Deployer = (*Deployer)(nil)

// New makes a Deployer for region from the default AWS configuration
// chain (environment, profiles, roles).
func New(ctx context.Context, region string) (*Deployer, error) {
	cfg, err := config.LoadDefaultConfig(ctx, config.WithRegion(region))
	if err != nil {
		return nil, fmt.Errorf("deploy: aws configuration: %w", err)
	}
	return NewFromClients(region, Clients{
		S3:      s3.NewFromConfig(cfg),
		Lambda:  lambda.NewFromConfig(cfg),
		IAM:     iam.NewFromConfig(cfg),
		Secrets: secretsmanager.NewFromConfig(cfg),
		Logs:    cloudwatchlogs.NewFromConfig(cfg),
	}, Options{}), nil
}

// NewFromClients makes a Deployer on given clients (tests point them at
// local endpoints).
func NewFromClients(region string, c Clients, opt Options) *Deployer {
	if opt.WaitTimeout <= 0 {
		opt.WaitTimeout = DefaultWaitTimeout
	}
	if opt.RoleRetry <= 0 {
		opt.RoleRetry = DefaultRoleRetry
	}
	return &Deployer{region: region, c: c, opt: opt}
}

// Create makes (or completes) the deployment; with everything already in
// place it changes nothing but what differs from s.
func (d *Deployer) Create(ctx context.Context, s deployer.Spec) (deployer.Deployment, error) {
	return d.apply(ctx, s, false)
}

// Update changes an existing deployment's code, environment and settings
// in place; ErrNotFound when its function is gone.
func (d *Deployer) Update(ctx context.Context, s deployer.Spec) (deployer.Deployment, error) {
	return d.apply(ctx, s, true)
}

func (d *Deployer) apply(ctx context.Context, s deployer.Spec, mustExist bool) (deployer.Deployment, error) {
	p, err := d.plan(s)
	if err != nil {
		return deployer.Deployment{}, err
	}
	done := deployer.Step(ctx, "get_function", "function", p.name)
	existing, err := d.getFunction(ctx, p.name)
	done(err)
	if err != nil {
		return deployer.Deployment{}, err
	}
	if existing == nil && mustExist {
		return deployer.Deployment{}, deployer.ErrNotFound
	}
	done = deployer.Step(ctx, "ensure_bucket", "bucket", p.bucket)
	err = d.ensureBucket(ctx, p.bucket)
	if done(err); err != nil {
		return deployer.Deployment{}, err
	}
	// The secret's name and ARN are logged, never its value.
	done = deployer.Step(ctx, "ensure_secret", "secret_name", p.secretName)
	secretARN, err := d.ensureSecret(ctx, p.secretName, s.Secret, p.tags)
	if done(err); err != nil {
		return deployer.Deployment{}, err
	}
	roleARN := p.roleARN
	if roleARN == "" {
		done = deployer.Step(ctx, "ensure_role", "role", roleName(p.name))
		roleARN, err = d.ensureRole(ctx, p, secretARN)
		if done(err); err != nil {
			return deployer.Deployment{}, err
		}
	}
	p.env[envSecretARN] = secretARN
	dep, err := d.ensureFunction(ctx, p, roleARN, existing)
	if err != nil {
		return deployer.Deployment{}, err
	}
	done = deployer.Step(ctx, "ensure_logs", "function", p.name)
	err = d.ensureLogs(ctx, p, secretARN)
	if done(err); err != nil {
		return deployer.Deployment{}, err
	}
	done = deployer.Step(ctx, "ensure_concurrency", "function", p.name)
	err = d.ensureConcurrency(ctx, p)
	done(err)
	return dep, err
}

// Read returns what exists for name; ErrNotFound when its function is gone.
func (d *Deployer) Read(ctx context.Context, name string) (deployer.Deployment, error) {
	if err := checkName(name); err != nil {
		return deployer.Deployment{}, err
	}
	fn, err := d.getFunction(ctx, name)
	if err != nil {
		return deployer.Deployment{}, err
	}
	if fn == nil {
		return deployer.Deployment{}, deployer.ErrNotFound
	}
	url, err := d.getURL(ctx, name)
	if err != nil {
		return deployer.Deployment{}, err
	}
	return deployment(name, fn, url), nil
}

// Delete removes the function, its URL, its role and its secret, and the
// bucket only when deleteData (see the package doc). Parts already gone
// are not errors.
func (d *Deployer) Delete(ctx context.Context, name string, deleteData bool) error {
	if err := checkName(name); err != nil {
		return err
	}
	fn, err := d.getFunction(ctx, name)
	if err != nil {
		return err
	}
	done := deployer.Step(ctx, "delete_function", "function", name)
	err = d.deleteFunction(ctx, name)
	if done(err); err != nil {
		return err
	}
	done = deployer.Step(ctx, "delete_role", "role", roleName(name))
	err = d.deleteRole(ctx, roleName(name))
	if done(err); err != nil {
		return err
	}
	done = deployer.Step(ctx, "delete_secret", "secret_name", secretName(name))
	err = d.deleteSecret(ctx, secretName(name), deleteData)
	if done(err); err != nil {
		return err
	}
	if !deleteData || fn == nil {
		return nil
	}
	bucket := bucketOf(fn)
	if bucket == "" {
		return nil
	}
	done = deployer.Step(ctx, "delete_bucket", "bucket", bucket)
	err = d.deleteBucket(ctx, bucket)
	done(err)
	return err
}

// Resource names derived from the deployment's name.
func roleName(name string) string   { return "acquire-" + name + "-fn" }
func secretName(name string) string { return "acquire/" + name + "/service-secret" }

const rolePolicyName = "acquire-access"
