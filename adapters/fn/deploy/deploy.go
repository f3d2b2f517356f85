// Package deploy is the Fn deployer (adapters/deployer.Deployer): for one
// Acquire service it manages, through the Fn server's API v2,
//
//   - the image from make dist (dist/fn-<arch>.tar, an OCI layout), pushed
//     by digest to the registry the Fn server pulls from
//     (Config.Registry/<name>@sha256:…);
//   - an app named after the deployment (its triggers' URLs are
//     <invoke URL>/t/<name>/…, so the app is the service's address);
//   - one function, "acquire", running that digest, with the service's
//     configuration (ACQUIRE_SERVICES, ACQUIRE_STORE_URL,
//     ACQUIRE_PUBLIC_URL, ACQUIRE_SERVICE_SECRET and Spec.Env) as its Fn
//     configuration, and its memory and timeouts;
//   - one HTTP trigger per service kind, source /<kind>, named after it.
//
// Every call is idempotent: objects are found by name, created when
// missing, updated only when they differ (a repeated apply makes no
// writes), and a configuration key the deployer no longer sets is removed
// (Fn merges configuration on update; an empty value deletes a key).
//
// The secret. Fn has no secret store: a function's configuration is the
// only way to hand it a value, and Fn keeps configuration in its database
// and answers it to anyone who may read the function through the API.
// The secret therefore lives in the function's configuration and nowhere
// else the deployer writes; Deployment.SecretRef says where
// (fn:<app>/<function>#ACQUIRE_SERVICE_SECRET), and Secret reads it back
// from there. Protect the Fn API as you would a secret store (see
// docs/design/fn.md).
//
// The store is not created here: Fn runs on any cloud or on premises, so
// the deployer is given the whole store URL (Settings "store_url") and the
// bucket must exist. Delete with deleteData empties the service's store
// (at most MaxEmptyObjects objects) and leaves the bucket.
//
// Tested only at the HTTP boundary: the API calls go to a local server
// that keeps apps, functions and triggers in memory and checks each
// request against the API's shapes and the server's validation rules, and
// the image goes to an in-memory OCI registry. It has NOT been run
// against a real Fn server.
package deploy

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"

	"github.com/openacquire/acquire/adapters/deployer"
)

// Defaults for the explicit limits.
const (
	DefaultCallTimeout = 60 * time.Second
	DefaultPushTimeout = 15 * time.Minute
)

// Config is where the deployer works.
type Config struct {
	// APIURL is the Fn server's API (e.g. http://fn.example:8080); /v2 is
	// added. Required.
	APIURL string
	// InvokeURL is where the Fn server's HTTP triggers are reached from
	// outside (default APIURL). The server's own trigger endpoint
	// annotations are preferred once a trigger exists.
	InvokeURL string
	// Token, when set, is sent as a bearer token (Fn servers behind an
	// authenticating proxy or extension). Never logged.
	Token string
	// Registry is the image repository prefix the Fn server pulls from
	// (e.g. registry.example.com/acquire); the image goes to
	// <Registry>/<name>. Required.
	Registry string
	// RegistryInsecure talks plain HTTP to the registry (tests only).
	RegistryInsecure bool
	// RegistryAuth defaults to the docker keychain (~/.docker/config.json).
	RegistryAuth authn.Authenticator
	// HTTPClient for the Fn API (default a client with CallTimeout).
	HTTPClient *http.Client

	CallTimeout time.Duration // one API call
	PushTimeout time.Duration // one image push
}

// Deployer manages Acquire services on one Fn server.
type Deployer struct {
	cfg Config
	api *api
}

var _ deployer.Deployer = (*Deployer)(nil)

// New checks cfg and returns a deployer; it makes no call.
func New(cfg Config) (*Deployer, error) {
	for field, v := range map[string]string{"Config.APIURL": cfg.APIURL, "Config.InvokeURL": cfg.InvokeURL} {
		if v == "" && field == "Config.InvokeURL" {
			continue
		}
		u, err := url.Parse(v)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || u.RawQuery != "" {
			return nil, &SpecError{Field: field, Reason: "must be an http(s) URL with a host and no credentials or query"}
		}
	}
	// Registry is needed only to push (Create, Update): an imported
	// deployment is read, and may be deleted, without it.
	if strings.Contains(cfg.Registry, "@") || strings.Contains(cfg.Registry, "://") {
		return nil, errRegistry
	}
	cfg.APIURL = strings.TrimRight(cfg.APIURL, "/")
	if cfg.InvokeURL == "" {
		cfg.InvokeURL = cfg.APIURL
	}
	cfg.InvokeURL = strings.TrimRight(cfg.InvokeURL, "/")
	if cfg.CallTimeout <= 0 {
		cfg.CallTimeout = DefaultCallTimeout
	}
	if cfg.PushTimeout <= 0 {
		cfg.PushTimeout = DefaultPushTimeout
	}
	client := cfg.HTTPClient
	if client == nil {
		client = &http.Client{Timeout: cfg.CallTimeout}
	}
	return &Deployer{cfg: cfg, api: &api{base: cfg.APIURL, token: cfg.Token, client: client}}, nil
}

// Create deploys s, or brings an existing deployment of that name to s.
func (d *Deployer) Create(ctx context.Context, s deployer.Spec) (deployer.Deployment, error) {
	p, err := parseSpec(s)
	if err != nil {
		return deployer.Deployment{}, err
	}
	if d.cfg.Registry == "" {
		return deployer.Deployment{}, errRegistry
	}
	a := d.apiFor(s.Secret)
	if err := deployer.Do(ctx, "check_artifact", func() error { return checkSHA256(s.Artifact, s.Function.ArtifactSHA256) },
		"artifact", s.Artifact); err != nil {
		return deployer.Deployment{}, err
	}
	var image string
	if err := deployer.Do(ctx, "push_image", func() (err error) {
		image, err = d.pushImage(ctx, s.Name, s.Artifact)
		return err
	}, "repository", d.cfg.Registry+"/"+s.Name); err != nil {
		return deployer.Deployment{}, err
	}
	var ap *app
	if err := deployer.Do(ctx, "ensure_app", func() (err error) {
		ap, err = d.ensureApp(ctx, a, s.Name, s.Function.Tags)
		return err
	}, "app", s.Name); err != nil {
		return deployer.Deployment{}, err
	}
	public := d.cfg.InvokeURL + "/t/" + s.Name
	// The function's configuration holds the secret: only names and the
	// image are logged.
	var f *fnObject
	if err := deployer.Do(ctx, "ensure_function", func() (err error) {
		f, err = d.ensureFn(ctx, a, ap.ID, p, image, public)
		return err
	}, "app", s.Name, "function", FunctionName, "image", image); err != nil {
		return deployer.Deployment{}, err
	}
	var trs []trigger
	if err := deployer.Do(ctx, "ensure_triggers", func() (err error) {
		trs, err = d.ensureTriggers(ctx, a, ap.ID, f.ID, s.Kinds, s.Function.Tags)
		return err
	}, "app", s.Name, "kinds", strings.Join(s.Kinds, ",")); err != nil {
		return deployer.Deployment{}, err
	}
	// The server says where its triggers are reached; when that differs
	// from what the function was told, tell it again.
	if served := publicURL(trs, s.Name); served != "" && served != public {
		if err := deployer.Do(ctx, "update_public_url", func() (err error) {
			f, err = d.ensureFn(ctx, a, ap.ID, p, image, served)
			return err
		}, "app", s.Name, "public_url", served); err != nil {
			return deployer.Deployment{}, err
		}
	}
	return deploymentOf(ap, f), nil
}

// Update is Create: every step compares before it writes.
func (d *Deployer) Update(ctx context.Context, s deployer.Spec) (deployer.Deployment, error) {
	return d.Create(ctx, s)
}

// Read answers the deployment name, or deployer.ErrNotFound when its app
// or function is gone.
func (d *Deployer) Read(ctx context.Context, name string) (deployer.Deployment, error) {
	ap, f, err := d.find(ctx, name)
	if err != nil {
		return deployer.Deployment{}, err
	}
	return deploymentOf(ap, f), nil
}

// Secret reads the service secret back from the function's configuration.
func (d *Deployer) Secret(ctx context.Context, name string) (string, error) {
	_, f, err := d.find(ctx, name)
	if err != nil {
		return "", err
	}
	s := f.Config[envSecret]
	if s == "" {
		return "", deployer.ErrNotFound
	}
	return s, nil
}

// Delete removes the triggers, the function and the app; with deleteData
// it first empties the service's store. Parts already gone are skipped.
func (d *Deployer) Delete(ctx context.Context, name string, deleteData bool) error {
	if err := checkName(name); err != nil {
		return err
	}
	ap, err := d.api.appByName(ctx, name)
	if err != nil {
		return err
	}
	if ap == nil {
		return nil
	}
	f, err := d.api.fnByName(ctx, ap.ID, FunctionName)
	if err != nil {
		return err
	}
	if f != nil {
		if deleteData {
			// The store URL may carry credentials: not logged.
			if err := deployer.Do(ctx, "empty_store", func() error { return emptyStore(ctx, f.Config[envStoreURL]) }, "app", name); err != nil {
				return err
			}
		}
		if err := deployer.Do(ctx, "delete_function", func() error { return d.deleteFn(ctx, ap.ID, f.ID) }, "app", name, "function", FunctionName); err != nil {
			return err
		}
	}
	return deployer.Do(ctx, "delete_app", func() error {
		return ignoreNotFound(d.api.do(ctx, http.MethodDelete, "/apps/"+url.PathEscape(ap.ID), nil, nil, nil))
	}, "app", name)
}

func (d *Deployer) deleteFn(ctx context.Context, appID, fnID string) error {
	trs, err := d.api.triggers(ctx, appID, fnID)
	if err != nil {
		return err
	}
	for _, t := range trs {
		if err := ignoreNotFound(d.api.do(ctx, http.MethodDelete, "/triggers/"+url.PathEscape(t.ID), nil, nil, nil)); err != nil {
			return err
		}
	}
	return ignoreNotFound(d.api.do(ctx, http.MethodDelete, "/fns/"+url.PathEscape(fnID), nil, nil, nil))
}

func ignoreNotFound(err error) error {
	if isNotFound(err) {
		return nil
	}
	return err
}

// find is the deployment's app and function, or deployer.ErrNotFound.
func (d *Deployer) find(ctx context.Context, name string) (*app, *fnObject, error) {
	if err := checkName(name); err != nil {
		return nil, nil, err
	}
	ap, err := d.api.appByName(ctx, name)
	if err != nil {
		return nil, nil, err
	}
	if ap == nil {
		return nil, nil, deployer.ErrNotFound
	}
	f, err := d.api.fnByName(ctx, ap.ID, FunctionName)
	if err != nil {
		return nil, nil, err
	}
	if f == nil {
		return nil, nil, deployer.ErrNotFound
	}
	return ap, f, nil
}

// apiFor is the API client with the secret redacted from its errors.
func (d *Deployer) apiFor(secret string) *api {
	a := *d.api
	a.redact = []string{secret}
	return &a
}

func deploymentOf(ap *app, f *fnObject) deployer.Deployment {
	version := f.Image
	if i := strings.LastIndex(version, "@"); i >= 0 {
		version = version[i+1:]
	}
	return deployer.Deployment{
		Name:      ap.Name,
		URL:       f.Config[envPublicURL],
		StoreURL:  f.Config[envStoreURL],
		Services:  f.Config[envServices],
		SecretRef: "fn:" + ap.Name + "/" + f.Name + "#" + envSecret,
		Version:   version,
	}
}

// publicURL is the base the server's trigger endpoints share
// (<invoke>/t/<app>), or "" when the server does not say.
func publicURL(trs []trigger, app string) string {
	for _, t := range trs {
		ep, _ := t.Annotations[httpEndpointAnnotation].(string)
		if ep == "" {
			continue
		}
		if base, ok := strings.CutSuffix(ep, t.Source); ok && strings.HasSuffix(base, "/t/"+app) {
			return base
		}
	}
	return ""
}

var errRegistry = &SpecError{Field: "Config.Registry", Reason: "must be an image repository such as registry.example.com/acquire"}

// errEmpty is returned when a create answer lacks the new object's id.
var errEmpty = errors.New("fn deploy: the server answered a create without an id")

// Tags reads the function's tags back (its annotations but the deployer's
// and the server's own; deployer.TagReader), so a tag changed out of band
// is drift.
func (d *Deployer) Tags(ctx context.Context, name string) (map[string]string, error) {
	_, f, err := d.find(ctx, name)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for k, v := range f.Annotations {
		s, ok := v.(string)
		if ok && k != managedAnnotation && !strings.HasPrefix(k, recordAnnotation) && !serverAnnotation(k) {
			out[k] = s
		}
	}
	return out, nil
}

// Record reads back the record: settings the last Create or Update kept,
// by key (without the prefix).
func (d *Deployer) Record(ctx context.Context, name string) (map[string]string, error) {
	_, f, err := d.find(ctx, name)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for k, v := range f.Annotations {
		if s, ok := v.(string); ok && strings.HasPrefix(k, recordAnnotation) {
			out[strings.TrimPrefix(k, recordAnnotation)] = s
		}
	}
	return out, nil
}
