package provider

import (
	"context"
	"errors"
	"maps"
	"net/url"
	"regexp"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/openacquire/acquire/adapters/deployer"
)

// The provider logs through tflog (the engine's TF_LOG / TF_LOG_PROVIDER
// levels and TF_LOG_PATH decide where they go): each resource operation
// and each deployment step, with these structured fields. Values are
// names, URLs without their query or credentials, and durations: never a
// secret. The masks below are a safety net for a mistake, not the way
// secrets are kept out.
const (
	logResource = "resource"     // the resource type, e.g. acquire_service
	logService  = "service_name" // a deployment's name
	logKind     = "kind"         // a service's kind
	logPlatform = "platform"     // local, aws, gcp, azure, fn
	logURL      = "url"          // a service's URL
	logStore    = "store"        // a store URL, redacted (redactURL)
	logStepKey  = "step"         // a deployment step, e.g. deployer_create
	logDuration = "duration_ms"  // how long a step took
	logError    = "error"        // a failed step's error text
)

// secretLogKeys are field keys whose values are masked whatever they hold.
var secretLogKeys = []string{"secret", "service_secret", "password", "admin_password", "admin_password_wo", "host_token",
	"token", "otp_uri", "recovery_codes", "authorization", "private_key", "secret_seed"}

// secretLogPatterns mask, in messages and every field value, what looks
// like a secret: an authenticator URI, a credential in a URL's query
// (S3 presigned, Azure SAS, tokens), a URL's user:password, a bearer token.
var secretLogPatterns = []*regexp.Regexp{
	regexp.MustCompile(`otpauth://[^\s"]+`),
	regexp.MustCompile(`(?i)[?&](x-amz-[a-z-]+|sig|signature|se|sv|sp|token|access_token|secret|password|key|credential|sas)=[^&\s"]*`),
	regexp.MustCompile(`://[^/@\s:"]+:[^/@\s"]+@`),
	regexp.MustCompile(`(?i)bearer\s+[^\s"]+`),
}

// logContext is ctx with the resource type as a field and the masks on;
// secrets are values this operation holds (a host token, a password, a
// service secret), masked wherever they would appear.
func logContext(ctx context.Context, resourceType string, secrets ...string) context.Context {
	ctx = tflog.SetField(ctx, logResource, resourceType)
	ctx = tflog.MaskFieldValuesWithFieldKeys(ctx, secretLogKeys...)
	ctx = tflog.MaskAllFieldValuesRegexes(ctx, secretLogPatterns...)
	ctx = tflog.MaskMessageRegexes(ctx, secretLogPatterns...)
	return maskSecrets(ctx, secrets...)
}

// maskSecrets masks known secret values (empty ones are skipped: an empty
// mask would match everywhere).
func maskSecrets(ctx context.Context, secrets ...string) context.Context {
	var known []string
	for _, s := range secrets {
		if s != "" {
			known = append(known, s)
		}
	}
	if len(known) == 0 {
		return ctx
	}
	ctx = tflog.MaskAllFieldValuesStrings(ctx, known...)
	return tflog.MaskMessageStrings(ctx, known...)
}

// hostToken is the provider's host token ("" when unconfigured), to mask.
func (c *configuredResource) hostToken() string {
	if c.meta == nil {
		return ""
	}
	return c.meta.HostToken
}

// logStep logs step's start (DEBUG) and answers the function that logs
// its end (INFO with duration_ms and any more fields, or ERROR with the
// error). fields are key/value pairs; pass only non-secret values
// (redactURL for stores).
func logStep(ctx context.Context, step string, fields ...any) func(err error, more ...any) {
	f := logFields(fields...)
	f[logStepKey] = step
	tflog.Debug(ctx, "starting "+step, f)
	start := time.Now()
	return func(err error, more ...any) {
		maps.Copy(f, logFields(more...))
		f[logDuration] = time.Since(start).Milliseconds()
		if err != nil {
			f[logError] = err.Error()
			tflog.Error(ctx, step+" failed", f)
			return
		}
		tflog.Info(ctx, step+" done", f)
	}
}

// logFields turns key/value pairs into tflog's map (a key without a
// value, or not a string, is dropped).
func logFields(kv ...any) map[string]any {
	f := map[string]any{}
	for i := 0; i+1 < len(kv); i += 2 {
		if k, ok := kv[i].(string); ok {
			f[k] = kv[i+1]
		}
	}
	return f
}

// redactURL is u without credentials, query or fragment: a store URL's
// query may carry a credential (docs/design/provider.md).
func redactURL(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return "(unparsable URL)"
	}
	p.User, p.RawQuery, p.Fragment, p.ForceQuery = nil, "", "", false
	return p.String()
}

// loggedDeployer logs every call to a platform's deployer as a step.
type loggedDeployer struct {
	d        deployer.Deployer
	platform string
}

// logDeployer wraps d so its calls are logged with the platform's name.
func logDeployer(d deployer.Deployer, platform string) deployer.Deployer {
	return &loggedDeployer{d: d, platform: platform}
}

// step logs one deployer call; the deployer's own steps within it
// (deployer.Step) are logged too, as "<platform>_<step>" with the call's
// fields.
func (l *loggedDeployer) step(ctx context.Context, step, name string, kv ...any) func(error, ...any) {
	return logStep(ctx, step, append([]any{logPlatform, l.platform, logService, name}, kv...)...)
}

// observed is ctx with the deployer's steps logged (deployer.Step).
func (l *loggedDeployer) observed(ctx context.Context, name string) context.Context {
	return deployer.WithStepObserver(ctx, func(ctx context.Context, e deployer.StepEvent) {
		f := logFields(e.Fields...)
		f[logPlatform], f[logService], f[logStepKey] = l.platform, name, l.platform+"_"+e.Step
		switch {
		case !e.Done:
			tflog.Debug(ctx, "starting "+l.platform+" "+e.Step, f)
		case e.Err != nil:
			f[logDuration], f[logError] = e.Duration.Milliseconds(), e.Err.Error()
			tflog.Error(ctx, l.platform+" "+e.Step+" failed", f)
		default:
			f[logDuration] = e.Duration.Milliseconds()
			tflog.Info(ctx, l.platform+" "+e.Step+" done", f)
		}
	})
}

func (l *loggedDeployer) Create(ctx context.Context, s deployer.Spec) (deployer.Deployment, error) {
	done := l.step(ctx, "deployer_create", s.Name, "location", s.Location, "bucket", s.Bucket, logStore, redactURL(s.StoreURL))
	dep, err := l.d.Create(l.observed(ctx, s.Name), s)
	done(err)
	return dep, err
}

func (l *loggedDeployer) Read(ctx context.Context, name string) (deployer.Deployment, error) {
	done := l.step(ctx, "deployer_read", name)
	dep, err := l.d.Read(l.observed(ctx, name), name)
	if errors.Is(err, deployer.ErrNotFound) {
		done(nil, "found", false) // not a failure: a create, or a deployment gone out of band
	} else {
		done(err, "found", err == nil, logURL, dep.URL)
	}
	return dep, err
}

func (l *loggedDeployer) Update(ctx context.Context, s deployer.Spec) (deployer.Deployment, error) {
	done := l.step(ctx, "deployer_update", s.Name, "location", s.Location, "bucket", s.Bucket, logStore, redactURL(s.StoreURL))
	dep, err := l.d.Update(l.observed(ctx, s.Name), s)
	done(err)
	return dep, err
}

// Secret logs that the secret was read, never what it is.
func (l *loggedDeployer) Secret(ctx context.Context, name string) (string, error) {
	done := l.step(ctx, "deployer_read_secret", name)
	s, err := l.d.Secret(l.observed(ctx, name), name)
	done(err)
	return s, err
}

func (l *loggedDeployer) Delete(ctx context.Context, name string, deleteData bool) error {
	done := l.step(ctx, "deployer_delete", name, "delete_data", deleteData)
	err := l.d.Delete(l.observed(ctx, name), name, deleteData)
	if errors.Is(err, deployer.ErrNotFound) {
		done(nil, "found", false) // already gone: destroy's goal is met
	} else {
		done(err)
	}
	return err
}

// Close closes the wrapped deployer's clients (cloudPlatform.close).
func (l *loggedDeployer) Close() error {
	if c, ok := l.d.(interface{ Close() error }); ok {
		return c.Close()
	}
	return nil
}

// logOperation starts the log of one resource operation (create, read,
// update, delete, import): ctx gets the masks (logContext, with secrets)
// and fields (key/value pairs, carried by every line the operation logs,
// its steps' too); done logs the operation's end with its duration from
// its diagnostics. Use: defer func() { done(resp.Diagnostics) }().
func logOperation(ctx context.Context, resourceType, op string, secrets []string, fields ...any) (context.Context, func(diag.Diagnostics)) {
	ctx = logContext(ctx, resourceType, secrets...)
	for k, v := range logFields(fields...) {
		ctx = tflog.SetField(ctx, k, v)
	}
	end := logStep(ctx, op)
	return ctx, func(d diag.Diagnostics) {
		var err error
		if d.HasError() {
			e := d.Errors()[0]
			err = errors.New(e.Summary() + ": " + e.Detail())
		}
		end(err)
	}
}
