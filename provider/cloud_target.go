package provider

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"

	"github.com/openacquire/acquire/adapters/deployer"
	"github.com/openacquire/acquire/runtime/call"
	"github.com/openacquire/acquire/runtime/host"
	"github.com/openacquire/acquire/runtime/store"
)

// A service on a cloud platform is named, where another resource acts on
// it (acquire_registry_peering, acquire_trust), as acquire_service imports
// it: "<platform>/<where>/<name>" (platformKind.ImportKeys). That is
// everything the provider needs to build the platform's deployer, read the
// deployment (its URL, kind and store) and, where the service's keys are
// needed, its secret from the platform's secret store: the configuration
// repeats nothing else, and no secret passes through it.

// cloudTarget is a parsed deployment reference.
type cloudTarget struct {
	kind   platformKind
	values []string // the ImportKeys' values
	name   string
}

// parseDeployment reads "<platform>/<where>/<name>": the middle parts are
// the platform's import keys, URL-path-escaped where a value holds '/'
// (fn/<escaped API URL>/<name>), or left out where the platform reads
// them from the environment as its CLI does (fn/<name> with FN_API_URL).
func parseDeployment(ref string) (*cloudTarget, error) {
	parts := strings.Split(ref, "/")
	k, ok := platformKinds[parts[0]]
	if !ok || len(k.ImportKeys) == 0 {
		var names []string
		for _, n := range platformNames() {
			if len(platformKinds[n].ImportKeys) > 0 {
				names = append(names, n)
			}
		}
		return nil, fmt.Errorf("%q must start with a cloud platform whose services are importable (%s)", ref, strings.Join(names, ", "))
	}
	want := k.Name + "/" + strings.Join(k.ImportKeys, "/") + "/<name>"
	if k.ImportEnv != nil {
		want += " or " + k.Name + "/<name> with " + importEnvNames(k)
	}
	if len(parts) < 2 {
		return nil, fmt.Errorf("%q must be %s", ref, want)
	}
	for _, p := range parts[1:] {
		if p == "" {
			return nil, fmt.Errorf("%q must be %s, with no part empty", ref, want)
		}
	}
	name := parts[len(parts)-1]
	if !serviceNamePattern.MatchString(name) {
		return nil, fmt.Errorf("%q: %q is not a deployment name (3-40 of a-z, 0-9 and '-', starting with a letter)", ref, name)
	}
	values, err := importValues(k, parts[1:len(parts)-1])
	if err != nil {
		return nil, fmt.Errorf("%q must be %s: %w", ref, want, err)
	}
	for i, key := range k.ImportKeys {
		if strings.HasSuffix(key, "_url") {
			if u, err := url.Parse(values[i]); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
				u.User != nil || u.RawQuery != "" || u.Fragment != "" {
				return nil, fmt.Errorf("%q: %s %q is not an http(s) URL with a host and no credentials or query", ref, key, values[i])
			}
		}
	}
	return &cloudTarget{kind: k, values: values, name: name}, nil
}

// importEnvNames are the environment variables k's import keys come from
// when a reference leaves them out.
func importEnvNames(k platformKind) string {
	var out []string
	for _, key := range k.ImportKeys {
		out = append(out, k.ImportEnv[key])
	}
	return strings.Join(out, ", ")
}

// deployment is the target's deployer and deployment; errGone when the
// platform has no such deployment.
func (t *cloudTarget) deployment(ctx context.Context, meta *Meta) (*cloudPlatform, deployer.Deployment, error) {
	obj, d := importedPlatform(ctx, t.kind, t.values)
	if d.HasError() {
		return nil, deployer.Deployment{}, errors.New(diagText(d))
	}
	pm, d := parsePlatform(ctx, obj)
	if d.HasError() || pm == nil || pm.Block == nil {
		return nil, deployer.Deployment{}, fmt.Errorf("platform %s: %s", t.kind.Name, diagText(d))
	}
	dep, err := newDeployer(ctx, pm.Block)
	if err != nil {
		return nil, deployer.Deployment{}, err
	}
	c := &cloudPlatform{d: dep, call: call.NewClient(&call.MemoryPins{})}
	if meta != nil && meta.Call != nil {
		c.call = meta.Call
	}
	got, err := dep.Read(ctx, t.name)
	if errors.Is(err, deployer.ErrNotFound) {
		c.close()
		return nil, deployer.Deployment{}, errGone
	}
	if err != nil {
		c.close()
		return nil, deployer.Deployment{}, err
	}
	return c, got, nil
}

// kindOf is the deployment's service kind (what the deployer recorded).
func kindOf(dep deployer.Deployment) (string, error) {
	kind, _, _ := strings.Cut(dep.Services, ",")
	if kind == "" || dep.StoreURL == "" {
		return "", fmt.Errorf("deployment %s does not say its service kind and store: not an Acquire deployment?", dep.Name)
	}
	return kind, nil
}

// serviceURL is the URL the deployment's service answers at (as
// cloudPlatform.open makes it).
func serviceURL(dep deployer.Deployment, kind string) string {
	return strings.TrimRight(dep.URL, "/") + "/" + kind
}

// withCloudService opens the target's service on its store with its
// secret (read back from the platform's secret store), as the function
// does, and runs fn on it; the opened host serves nothing.
func withCloudService(ctx context.Context, meta *Meta, t *cloudTarget, fn func(h *host.Host, kind string) error) error {
	c, dep, err := t.deployment(ctx, meta)
	if err != nil {
		return err
	}
	defer c.close()
	kind, err := kindOf(dep)
	if err != nil {
		return err
	}
	if err := c.serviceSecret(ctx, t.name); err != nil {
		return err
	}
	h, err := c.open(ctx, host.Spec{Kind: kind, StoreURL: dep.StoreURL}, dep)
	if err != nil {
		return err
	}
	defer h.Close()
	return fn(h, kind)
}

// withCloudStore opens the store of the target's service (its kind's part
// of the deployment's store, as the function opens it) and runs fn on it.
// No secret is needed: what is written there is read by the service as
// its own.
func withCloudStore(ctx context.Context, meta *Meta, t *cloudTarget, fn func(b *store.Bucket, kind, url string) error) error {
	c, dep, err := t.deployment(ctx, meta)
	if err != nil {
		return err
	}
	defer c.close()
	kind, err := kindOf(dep)
	if err != nil {
		return err
	}
	su, err := host.SubStoreURL(dep.StoreURL, kind)
	if err != nil {
		return err
	}
	return withStore(ctx, su, func(b *store.Bucket) error { return fn(b, kind, serviceURL(dep, kind)) })
}

// deploymentValidator checks a deployment reference's form at plan.
type deploymentValidator struct{}

func (deploymentValidator) Description(context.Context) string {
	return "a cloud service as acquire_service imports it: <platform>/<where>/<name>"
}

func (v deploymentValidator) MarkdownDescription(ctx context.Context) string {
	return v.Description(ctx)
}

func (deploymentValidator) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	if _, err := parseDeployment(req.ConfigValue.ValueString()); err != nil {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid deployment", fmt.Sprintf("%s: %v.", req.Path, err))
	}
}

// deploymentDescription documents a deployment attribute.
const deploymentDescription = "as acquire_service imports it: `<platform>/<where>/<name>` (`aws/<region>/<name>`, " +
	"`gcp/<project>/<region>/<name>`, `azure/<subscription>/<resource group>/<name>`, `fn/<API URL, URL-escaped>/<name>` " +
	"(e.g. `fn/${urlencode(\"http://fn.example:8080\")}/registry`) or `fn/<name>` with the API URL in `FN_API_URL`). The provider reads the deployment " +
	"through the platform's API with its own credentials (and, where the service's keys are needed, its secret from the " +
	"platform's secret store); nothing else is repeated here and no secret enters state."

// diagText is diagnostics' errors as one line.
func diagText(d diag.Diagnostics) string {
	var out []string
	for _, e := range d.Errors() {
		out = append(out, e.Summary()+": "+e.Detail())
	}
	return strings.Join(out, "; ")
}
