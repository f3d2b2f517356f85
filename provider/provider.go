// Package provider is the Terraform provider for Acquire
// (terraform-plugin-framework, protocol 6): resources that declare a
// deployment (services, trust, catalogue entries, cluster registrations),
// data sources that look services and artifacts up, and functions.
//
// How it authenticates (docs/design/provider.md): platform-level operations
// go through the platform the provider manages — the host admin API of a
// running `acquire host` for the local platform (bearer host_token), the
// runtime's Go API on the service's own store for the clouds. It never logs
// in as a user: TOTP codes are single-use per 30 s step, so a provider that
// logged in on every plan would fail.
package provider

import (
	"context"
	"net/http"
	"net/url"
	"os"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/function"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/provider"
	"github.com/hashicorp/terraform-plugin-framework/provider/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/openacquire/acquire/runtime/call"
)

// Environment variables that give the provider attributes their defaults.
const (
	EnvHostURL   = "ACQUIRE_HOST_URL"
	EnvHostToken = "ACQUIRE_HOST_TOKEN"
)

// Limits of the provider's own calls.
const (
	// HTTPTimeout bounds one HTTP exchange with a host or a service.
	HTTPTimeout = 60 * time.Second
	// MaxURLBytes bounds every URL attribute (as the registry does).
	MaxURLBytes = 512
)

var (
	_ provider.Provider              = (*Provider)(nil)
	_ provider.ProviderWithFunctions = (*Provider)(nil)
)

// Provider is the acquire provider.
type Provider struct {
	version string
}

// New returns a constructor of the provider for providerserver.
func New(version string) func() provider.Provider {
	return func() provider.Provider { return &Provider{version: version} }
}

// Model is the provider block.
type Model struct {
	HostURL   types.String `tfsdk:"host_url"`
	HostToken types.String `tfsdk:"host_token"`
}

// Meta is what Configure hands every resource and data source.
type Meta struct {
	// HostURL is the base URL of the `acquire host` that serves the local
	// platform ("" when none is configured).
	HostURL string
	// HostToken is the host admin API's bearer token. Secret: never put it
	// in a diagnostic or a log line.
	HostToken string
	// HTTP is the client for host admin calls.
	HTTP *http.Client
	// Call is the client for Acquire calls (encrypted envelopes); it pins
	// each service's certificate on first use, in memory, per run.
	Call *call.Client
}

// Metadata names the provider: resource types are acquire_*.
func (p *Provider) Metadata(_ context.Context, _ provider.MetadataRequest, resp *provider.MetadataResponse) {
	resp.TypeName = "acquire"
	resp.Version = p.version
}

// Schema is the provider block's schema.
func (p *Provider) Schema(_ context.Context, _ provider.SchemaRequest, resp *provider.SchemaResponse) {
	resp.Schema = schema.Schema{
		Description: "Provisions Acquire services (registry, identity, access, accounting, storage, compute) " +
			"on a local `acquire host` or on AWS, GCP and Azure, and looks them up through a registry.",
		Attributes: map[string]schema.Attribute{
			"host_url": schema.StringAttribute{
				Optional: true,
				Description: "Base URL of the running `acquire host` that the local platform deploys to " +
					"(its admin API). Default: the " + EnvHostURL + " environment variable.",
				Validators: []validatorString{httpURL()},
			},
			"host_token": schema.StringAttribute{
				Optional:  true,
				Sensitive: true,
				Description: "Bearer token of the host admin API (kept by `acquire host` in its data dir). " +
					"Default: the " + EnvHostToken + " environment variable.",
			},
		},
	}
}

// Configure builds the Meta shared by resources and data sources.
func (p *Provider) Configure(ctx context.Context, req provider.ConfigureRequest, resp *provider.ConfigureResponse) {
	var m Model
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if m.HostURL.IsUnknown() || m.HostToken.IsUnknown() {
		// Known only after apply (e.g. from another resource): resources
		// that need the host say so when they are used.
		resp.Diagnostics.AddWarning("Unknown host settings",
			"host_url or host_token is not known until apply; the local platform cannot be planned against it yet.")
	}
	meta := &Meta{
		HostURL:   stringOr(m.HostURL, os.Getenv(EnvHostURL)),
		HostToken: stringOr(m.HostToken, os.Getenv(EnvHostToken)),
		HTTP:      &http.Client{Timeout: HTTPTimeout},
		Call:      call.NewClient(&call.MemoryPins{}),
	}
	if meta.HostURL != "" {
		if u, err := url.Parse(meta.HostURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			resp.Diagnostics.AddAttributeError(path.Root("host_url"), "Invalid host URL",
				"host_url (or "+EnvHostURL+") must be an http(s) URL such as http://127.0.0.1:8080.")
			return
		}
	}
	resp.ResourceData = meta
	resp.DataSourceData = meta
}

// Resources lists the resource types. One constructor per file.
func (p *Provider) Resources(_ context.Context) []func() resource.Resource {
	return []func() resource.Resource{NewServiceResource, NewTrustResource, NewCatalogueResource, NewClusterResource, NewRegistryPeeringResource}
}

// DataSources lists the data source types. One constructor per file.
func (p *Provider) DataSources(_ context.Context) []func() datasource.DataSource {
	return []func() datasource.DataSource{NewServiceDataSource, NewFunctionPackageDataSource}
}

// Functions lists the provider functions (provider::acquire::<name>).
func (p *Provider) Functions(_ context.Context) []func() function.Function {
	return []func() function.Function{NewFingerprintFunction}
}

// stringOr is v's value when set, else def.
func stringOr(v types.String, def string) string {
	if v.IsNull() || v.IsUnknown() || v.ValueString() == "" {
		return def
	}
	return v.ValueString()
}

// metaFrom takes the Meta that Configure produced; nil before Configure
// (the framework calls Configure-less validation paths with nil).
// configuredResource gives a resource the provider's data: embedding it is
// the resource's Configure.
type configuredResource struct{ meta *Meta }

func (c *configuredResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	m, msg := metaFrom(req.ProviderData)
	if msg != "" {
		resp.Diagnostics.AddError("Provider not configured", msg)
		return
	}
	c.meta = m
}

func metaFrom(data any) (*Meta, string) {
	if data == nil {
		return nil, ""
	}
	m, ok := data.(*Meta)
	if !ok {
		return nil, "the provider handed over unexpected data; this is a bug in the provider"
	}
	return m, ""
}
