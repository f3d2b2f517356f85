package deploy

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/openacquire/acquire/adapters/deployer"
	"github.com/openacquire/acquire/runtime/host"
	"github.com/openacquire/acquire/runtime/wait"
)

const (
	runtimeID = types.RuntimeProvidedal2023
	handler   = "bootstrap"
	// Statement ids of the two grants a public NONE-auth URL needs.
	urlPermissionID    = "acquire-public-url"
	invokePermissionID = "acquire-public-url-invoke"
)

// getFunction returns the function, or nil when it does not exist.
func (d *Deployer) getFunction(ctx context.Context, name string) (*lambda.GetFunctionOutput, error) {
	out, err := d.c.Lambda.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String(name)})
	var nf *types.ResourceNotFoundException
	if errors.As(err, &nf) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("deploy: function %s: %w", name, err)
	}
	return out, nil
}

// ensureFunction brings the function, its URL and its environment to the
// plan, in the order the package doc explains.
func (d *Deployer) ensureFunction(ctx context.Context, p plan, roleARN string, existing *lambda.GetFunctionOutput) (deployer.Deployment, error) {
	var cur *types.FunctionConfiguration
	var err error
	if existing == nil {
		done := deployer.Step(ctx, "create_function", "function", p.name, "role_arn", roleARN)
		cur, err = d.createFunction(ctx, p, roleARN)
		done(err)
	} else {
		done := deployer.Step(ctx, "update_code", "function", p.name)
		cur, err = d.updateCode(ctx, p, existing.Configuration)
		done(err)
	}
	if err != nil {
		return deployer.Deployment{}, err
	}
	done := deployer.Step(ctx, "ensure_url", "function", p.name)
	fnURL, err := d.ensureURL(ctx, p.name)
	if done(err); err != nil {
		return deployer.Deployment{}, err
	}
	p.env[host.EnvPublicURL] = strings.TrimRight(fnURL, "/")
	if p.publicURL != "" {
		p.env[host.EnvPublicURL] = p.publicURL // a custom domain fronts the function
	}
	if err := checkEnvSize(p.env); err != nil {
		return deployer.Deployment{}, err
	}
	done = deployer.Step(ctx, "update_config", "function", p.name)
	err = d.updateConfig(ctx, p, roleARN, cur)
	if done(err); err != nil {
		return deployer.Deployment{}, err
	}
	done = deployer.Step(ctx, "grant_public_invoke", "function", p.name)
	err = d.grantPublicInvoke(ctx, p.name)
	if done(err); err != nil {
		return deployer.Deployment{}, err
	}
	if existing != nil && existing.Configuration != nil {
		if err := d.tagFunction(ctx, aws.ToString(existing.Configuration.FunctionArn), existing.Tags, p.tags); err != nil {
			return deployer.Deployment{}, err
		}
	}
	fn, err := d.getFunction(ctx, p.name)
	if err != nil {
		return deployer.Deployment{}, err
	}
	if fn == nil {
		return deployer.Deployment{}, deployer.ErrNotFound
	}
	return deployment(p.name, fn, fnURL), nil
}

// createFunction creates the function and waits until it is Active. A
// role made seconds ago may not be assumable yet (IAM is eventually
// consistent): that refusal is retried for RoleRetryTimeout.
func (d *Deployer) createFunction(ctx context.Context, p plan, roleARN string) (*types.FunctionConfiguration, error) {
	in := &lambda.CreateFunctionInput{
		FunctionName:  aws.String(p.name),
		Runtime:       runtimeID,
		Handler:       aws.String(handler),
		Role:          aws.String(roleARN),
		Architectures: []types.Architecture{p.arch},
		MemorySize:    aws.Int32(p.memoryMB),
		Timeout:       aws.Int32(p.timeoutS),
		Code:          &types.FunctionCode{ZipFile: p.zip},
		Environment:   &types.Environment{Variables: p.env},
		Description:   aws.String("Acquire services (deployer-managed)"),
		Tags:          p.tags,
	}
	deadline := time.Now().Add(RoleRetryTimeout)
	for {
		out, err := d.c.Lambda.CreateFunction(ctx, in)
		if err == nil {
			cfg := configOf(out)
			return cfg, d.waitActive(ctx, p.name)
		}
		if !roleNotReady(err) || time.Now().After(deadline) {
			return nil, fmt.Errorf("deploy: create function %s: %w", p.name, err)
		}
		if err := wait.Sleep(ctx, d.opt.RoleRetry); err != nil {
			return nil, err
		}
	}
}

func configOf(out *lambda.CreateFunctionOutput) *types.FunctionConfiguration {
	return &types.FunctionConfiguration{
		Role: out.Role, Runtime: out.Runtime, Handler: out.Handler, MemorySize: out.MemorySize,
		Timeout: out.Timeout, Environment: out.Environment, CodeSha256: out.CodeSha256,
	}
}

func roleNotReady(err error) bool {
	var ipv *types.InvalidParameterValueException
	return errors.As(err, &ipv) && strings.Contains(ipv.ErrorMessage(), "cannot be assumed")
}

// updateCode uploads the artifact when it (or the architecture) differs
// from what runs, and waits for the update.
func (d *Deployer) updateCode(ctx context.Context, p plan, cur *types.FunctionConfiguration) (*types.FunctionConfiguration, error) {
	if cur == nil {
		cur = &types.FunctionConfiguration{}
	}
	if aws.ToString(cur.CodeSha256) == p.codeSHA256 && len(cur.Architectures) == 1 && cur.Architectures[0] == p.arch {
		return cur, nil
	}
	// A function still applying an earlier change refuses another one.
	if err := d.waitUpdated(ctx, p.name); err != nil {
		return nil, err
	}
	_, err := d.c.Lambda.UpdateFunctionCode(ctx, &lambda.UpdateFunctionCodeInput{
		FunctionName: aws.String(p.name), ZipFile: p.zip, Architectures: []types.Architecture{p.arch},
	})
	if err != nil {
		return nil, fmt.Errorf("deploy: update function %s code: %w", p.name, err)
	}
	return cur, d.waitUpdated(ctx, p.name)
}

// updateConfig applies environment, memory, timeout, role and runtime
// when any differs, and waits for the update.
func (d *Deployer) updateConfig(ctx context.Context, p plan, roleARN string, cur *types.FunctionConfiguration) error {
	var env map[string]string
	if cur.Environment != nil {
		env = cur.Environment.Variables
	}
	if maps.Equal(env, p.env) && aws.ToInt32(cur.MemorySize) == p.memoryMB && aws.ToInt32(cur.Timeout) == p.timeoutS &&
		aws.ToString(cur.Role) == roleARN && cur.Runtime == runtimeID && aws.ToString(cur.Handler) == handler {
		return nil
	}
	if err := d.waitUpdated(ctx, p.name); err != nil {
		return err
	}
	_, err := d.c.Lambda.UpdateFunctionConfiguration(ctx, &lambda.UpdateFunctionConfigurationInput{
		FunctionName: aws.String(p.name),
		Runtime:      runtimeID,
		Handler:      aws.String(handler),
		Role:         aws.String(roleARN),
		MemorySize:   aws.Int32(p.memoryMB),
		Timeout:      aws.Int32(p.timeoutS),
		Environment:  &types.Environment{Variables: p.env},
	})
	if err != nil {
		return fmt.Errorf("deploy: update function %s configuration: %w", p.name, err)
	}
	return d.waitUpdated(ctx, p.name)
}

// ensureURL returns the function URL, creating it (auth type NONE) if
// missing.
func (d *Deployer) ensureURL(ctx context.Context, name string) (string, error) {
	if u, err := d.getURL(ctx, name); err != nil || u != "" {
		return u, err
	}
	out, err := d.c.Lambda.CreateFunctionUrlConfig(ctx, &lambda.CreateFunctionUrlConfigInput{
		FunctionName: aws.String(name), AuthType: types.FunctionUrlAuthTypeNone,
	})
	if err != nil {
		return "", fmt.Errorf("deploy: create function %s URL: %w", name, err)
	}
	return aws.ToString(out.FunctionUrl), nil
}

// getURL returns the function URL, or "" when there is none.
func (d *Deployer) getURL(ctx context.Context, name string) (string, error) {
	out, err := d.c.Lambda.GetFunctionUrlConfig(ctx, &lambda.GetFunctionUrlConfigInput{FunctionName: aws.String(name)})
	var nf *types.ResourceNotFoundException
	if errors.As(err, &nf) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("deploy: function %s URL: %w", name, err)
	}
	return aws.ToString(out.FunctionUrl), nil
}

// grantPublicInvoke lets anyone call the NONE-auth URL: Lambda requires
// both lambda:InvokeFunctionUrl and lambda:InvokeFunction (the latter
// limited to calls through the URL). Existing grants are kept.
func (d *Deployer) grantPublicInvoke(ctx context.Context, name string) error {
	grants := []*lambda.AddPermissionInput{
		{StatementId: aws.String(urlPermissionID), Action: aws.String("lambda:InvokeFunctionUrl"), FunctionUrlAuthType: types.FunctionUrlAuthTypeNone},
		{StatementId: aws.String(invokePermissionID), Action: aws.String("lambda:InvokeFunction"), InvokedViaFunctionUrl: aws.Bool(true)},
	}
	for _, in := range grants {
		in.FunctionName, in.Principal = aws.String(name), aws.String("*")
		_, err := d.c.Lambda.AddPermission(ctx, in)
		var conflict *types.ResourceConflictException
		if err != nil && !errors.As(err, &conflict) {
			return fmt.Errorf("deploy: grant public invoke on %s: %w", name, err)
		}
	}
	return nil
}

// deleteFunction removes the URL, then the function (with its
// permissions). Parts already gone are fine.
func (d *Deployer) deleteFunction(ctx context.Context, name string) error {
	var nf *types.ResourceNotFoundException
	_, err := d.c.Lambda.DeleteFunctionUrlConfig(ctx, &lambda.DeleteFunctionUrlConfigInput{FunctionName: aws.String(name)})
	if err != nil && !errors.As(err, &nf) {
		return fmt.Errorf("deploy: delete function %s URL: %w", name, err)
	}
	_, err = d.c.Lambda.DeleteFunction(ctx, &lambda.DeleteFunctionInput{FunctionName: aws.String(name)})
	if err != nil && !errors.As(err, &nf) {
		return fmt.Errorf("deploy: delete function %s: %w", name, err)
	}
	return nil
}

func (d *Deployer) waitActive(ctx context.Context, name string) error {
	w := lambda.NewFunctionActiveV2Waiter(d.c.Lambda, func(o *lambda.FunctionActiveV2WaiterOptions) {
		if d.opt.PollInterval > 0 {
			o.MinDelay, o.MaxDelay = d.opt.PollInterval, d.opt.PollInterval
		}
	})
	if err := w.Wait(ctx, &lambda.GetFunctionInput{FunctionName: aws.String(name)}, d.opt.WaitTimeout); err != nil {
		return fmt.Errorf("deploy: function %s not Active within %v: %w", name, d.opt.WaitTimeout, err)
	}
	return nil
}

func (d *Deployer) waitUpdated(ctx context.Context, name string) error {
	w := lambda.NewFunctionUpdatedV2Waiter(d.c.Lambda, func(o *lambda.FunctionUpdatedV2WaiterOptions) {
		if d.opt.PollInterval > 0 {
			o.MinDelay, o.MaxDelay = d.opt.PollInterval, d.opt.PollInterval
		}
	})
	if err := w.Wait(ctx, &lambda.GetFunctionInput{FunctionName: aws.String(name)}, d.opt.WaitTimeout); err != nil {
		return fmt.Errorf("deploy: function %s update not done within %v: %w", name, d.opt.WaitTimeout, err)
	}
	return nil
}

// deployment describes a function from its configuration, which holds the
// secret's ARN, never its value.
func deployment(name string, fn *lambda.GetFunctionOutput, fnURL string) deployer.Deployment {
	dep := deployer.Deployment{Name: name, URL: strings.TrimRight(fnURL, "/")}
	if c := fn.Configuration; c != nil {
		dep.Version = aws.ToString(c.CodeSha256)
		if c.Environment != nil {
			dep.StoreURL = c.Environment.Variables[host.EnvStoreURL]
			dep.SecretRef = c.Environment.Variables[envSecretARN]
			dep.Services = c.Environment.Variables[host.EnvServices]
			if u := c.Environment.Variables[host.EnvPublicURL]; u != "" {
				dep.URL = u // the service's own URL: a custom domain, or the function URL
			}
		}
	}
	return dep
}

// bucketOf is the bucket named by the function's s3:// store URL.
func bucketOf(fn *lambda.GetFunctionOutput) string {
	u, err := url.Parse(deployment("", fn, "").StoreURL)
	if err != nil || u.Scheme != "s3" {
		return ""
	}
	return u.Host
}
