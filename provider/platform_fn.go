package provider

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/openacquire/acquire/adapters/deployer"
	fndeploy "github.com/openacquire/acquire/adapters/fn/deploy"
)

// platform = { fn = {...} }: a function on an Fn server (adapters/fn/deploy),
// on any cloud or on premises; its state on store.s3, store.gcs or
// store.azure, which must exist (Fn creates no bucket).

type fnPlatformModel struct {
	functionModel
	APIURL       types.String `tfsdk:"api_url"`
	InvokeURL    types.String `tfsdk:"invoke_url"`
	Registry     types.String `tfsdk:"registry"`
	IdleTimeoutS types.Int64  `tfsdk:"idle_timeout_s"`
	PassEnv      types.List   `tfsdk:"pass_env"`
}

// EnvFnToken is the bearer token for an Fn API behind an authenticating
// proxy: read from the environment, never from the configuration or state.
const EnvFnToken = "FN_TOKEN"

// EnvFnAPIURL gives the Fn API URL of an import ID that leaves it out
// ("fn/<name>"), as the Fn CLI reads it.
const EnvFnAPIURL = "FN_API_URL"

var (
	fnRegistryPattern = regexp.MustCompile(`^[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:[0-9]{1,5})?(/[a-z0-9]+([._-][a-z0-9]+)*)+$`)
	envNamePattern    = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,127}$`)
)

func init() {
	registerPlatform(platformKind{
		Name: "fn", Stores: []string{"s3", "gcs", "azure"},
		Description: "A function on an Fn server (adapters/fn/deploy), on any cloud or on premises: an app named after the " +
			"service, one function running the image from make dist (dist/fn-<arch>.tar) by digest, an HTTP trigger per path. " +
			"The state on store.s3, store.gcs or store.azure, whose bucket must exist. Fn has no secret store: the service " +
			"secret is in the function's Fn configuration (protect the Fn API like a secret store); state keeps a reference. " +
			"Storage runs too: its own data URLs carry their key in the query, so one trigger routes them. Tested against a " +
			"simulated Fn API only (docs/design/fn.md).",
		Attributes: map[string]schema.Attribute{
			"api_url": schema.StringAttribute{Required: true, Description: "The Fn server's API, e.g. http://fn.example:8080 " +
				"(/v2 is added). A bearer token, when the API needs one, comes from FN_TOKEN in the provider's environment.",
				Validators: []validator.String{httpURL()}},
			"invoke_url": schema.StringAttribute{Optional: true, Description: "Where the Fn server's HTTP triggers are reached " +
				"from outside (default: the server's own trigger endpoints, else api_url).", Validators: []validator.String{httpURL()}},
			"registry": schema.StringAttribute{Required: true, Description: "The image repository the Fn server pulls from, " +
				"e.g. registry.example.com/acquire (must exist; credentials from the docker configuration). The image goes to " +
				"<registry>/<name>.", Validators: []validator.String{patternValidator{fnRegistryPattern, "an image repository such as registry.example.com/acquire"}}},
			"idle_timeout_s": schema.Int64Attribute{Optional: true, Description: "Seconds a hot container waits for calls, 1 to 3600 (default 30)."},
			"pass_env": schema.ListAttribute{Optional: true, ElementType: types.StringType, Description: "Names of environment " +
				"variables of the provider's process whose values go into the function's configuration at apply, e.g. the " +
				"store's credentials (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY) where the Fn node has no identity of its own. " +
				"Only the names are in the configuration and state."},
		},
		Replace: []string{"api_url"}, ImportKeys: []string{"api_url"}, ImportEnv: map[string]string{"api_url": EnvFnAPIURL},
		Limits: functionLimits{MemoryMB: [2]int64{64, 8192}, TimeoutS: [2]int64{1, 300}},
		Decode: decodeAs[fnPlatformModel],
	})
}

func (m *fnPlatformModel) validate(at path.Path, _ *storeModel, d *diag.Diagnostics) {
	if v := m.IdleTimeoutS; !v.IsNull() && !v.IsUnknown() && (v.ValueInt64() < 1 || v.ValueInt64() > 3600) {
		d.AddAttributeError(at.AtName("idle_timeout_s"), "Out of range", fmt.Sprintf("%s: %d is not in 1 to 3600.", at.AtName("idle_timeout_s"), v.ValueInt64()))
	}
	if !m.PublicURL.IsNull() {
		d.AddAttributeError(at.AtName("public_url"), "Not supported", fmt.Sprintf("%s: not supported on fn; set invoke_url to "+
			"the address the Fn server's triggers are reached at.", at.AtName("public_url")))
	}
	if m.PassEnv.IsUnknown() {
		return
	}
	for i, e := range m.PassEnv.Elements() {
		s, ok := e.(types.String)
		if !ok || s.IsUnknown() {
			continue
		}
		p := at.AtName("pass_env").AtListIndex(i)
		switch name := s.ValueString(); {
		case !envNamePattern.MatchString(name):
			d.AddAttributeError(p, "Invalid name", fmt.Sprintf("%s: %q is not an environment variable name.", p, name))
		case len(name) >= 3 && (name[:3] == "FN_" || name == EnvFnToken) || len(name) >= 8 && name[:8] == "ACQUIRE_":
			d.AddAttributeError(p, "Reserved name", fmt.Sprintf("%s: %s is set by the deployer or by Fn.", p, name))
		}
	}
}

func (m *fnPlatformModel) location() string { return "" }

// settings are the deployer's: the idle timeout, and each pass_env
// variable's value from this process's environment (never in state).
func (m *fnPlatformModel) settings() map[string]string {
	s := map[string]string{}
	if v := m.IdleTimeoutS; !v.IsNull() && !v.IsUnknown() {
		s[fndeploy.SettingIdleTimeout] = fmt.Sprint(v.ValueInt64())
	}
	var names []string
	for _, e := range m.PassEnv.Elements() {
		if n, ok := e.(types.String); ok && !n.IsUnknown() {
			s[fndeploy.SettingEnvPrefix+n.ValueString()] = os.Getenv(n.ValueString())
			names = append(names, n.ValueString())
		}
	}
	// The block's configuration-only values are recorded on the function,
	// so an import rebuilds the block from the deployment (none is secret:
	// pass_env holds names only).
	record := map[string]string{"invoke_url": m.InvokeURL.ValueString(), "registry": m.Registry.ValueString(),
		"artifact": m.Artifact.ValueString(), "artifact_sha256": m.ArtifactSHA256.ValueString(), "pass_env": strings.Join(names, ",")}
	for k, v := range map[string]types.Int64{"memory_mb": m.MemoryMB, "timeout_s": m.TimeoutS, "idle_timeout_s": m.IdleTimeoutS} {
		if !v.IsNull() && !v.IsUnknown() {
			record[k] = strconv.FormatInt(v.ValueInt64(), 10)
		}
	}
	for k, v := range record {
		if v != "" && len(v) <= fndeploy.MaxRecordBytes {
			s[fndeploy.SettingRecordPrefix+k] = v
		}
	}
	return s
}

func (m *fnPlatformModel) newDeployer(context.Context) (deployer.Deployer, error) {
	return fndeploy.New(fndeploy.Config{APIURL: m.APIURL.ValueString(), InvokeURL: m.InvokeURL.ValueString(),
		Registry: m.Registry.ValueString(), Token: os.Getenv(EnvFnToken)})
}
