package provider

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-validators/resourcevalidator"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/openacquire/acquire/runtime/call"
	"github.com/openacquire/acquire/runtime/host"
	"github.com/openacquire/acquire/runtime/registry"
	"github.com/openacquire/acquire/runtime/service"
	"github.com/openacquire/acquire/runtime/store"
)

// TrustApplyTimeout bounds one trust change (the service is reopened).
const TrustApplyTimeout = 2 * time.Minute

var (
	_ resource.ResourceWithConfigure        = (*trustResource)(nil)
	_ resource.ResourceWithImportState      = (*trustResource)(nil)
	_ resource.ResourceWithConfigValidators = (*trustResource)(nil)
	_ resource.ResourceWithIdentity         = (*trustResource)(nil)
)

// ConfigValidators: a service runs on a host or on a cloud, not both.
func (r *trustResource) ConfigValidators(context.Context) []resource.ConfigValidator {
	return []resource.ConfigValidator{resourcevalidator.Conflicting(path.MatchRoot("deployment"), path.MatchRoot("host_url"))}
}

// NewTrustResource is acquire_trust.
func NewTrustResource() resource.Resource { return &trustResource{} }

type trustResource struct{ configuredResource }

type trustModel struct {
	ID         types.String `tfsdk:"id"`
	Service    types.String `tfsdk:"service"`
	Trusted    types.String `tfsdk:"trusted"`
	HostURL    types.String `tfsdk:"host_url"`
	Deployment types.String `tfsdk:"deployment"`
	Name       types.String `tfsdk:"service_name"`
}

func (r *trustResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_trust"
}

func (r *trustResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	replace := []planmodifier.String{stringplanmodifier.RequiresReplace()}
	resp.Schema = schema.Schema{
		Description: "One service trusts another to act in its own name: e.g. an accounting service trusts an access " +
			"or storage service to cash cheques and take payments (only accounting and access services trust services). Both URLs " +
			"identify the trust, so changing either replaces it. On the local platform the host keeps the trust and reopens the service " +
			"with it; on a cloud (`deployment`) the provider writes it to the trust record on the service's own store, which the running " +
			"function reads: a new trust is seen at the next call and a removed one within 30 s, with no redeploy. The trusted URL must " +
			"answer as an Acquire service. A caller trusted by neither this nor the service's trusted_services is refused with " +
			"ServiceNotTrustedError naming it. Import with `<service URL>,<trusted URL>` (local) or `<deployment>,<trusted URL>` (cloud).",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{Computed: true, Description: "<service> <trusted>.",
				PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown()}},
			"service": schema.StringAttribute{Required: true, PlanModifiers: replace, Validators: []validator.String{httpURL()},
				Description: "URL of the trusting service (e.g. acquire_service.accounting.url)."},
			"deployment": schema.StringAttribute{Optional: true, PlanModifiers: replace,
				Validators: []validator.String{deploymentValidator{}},
				Description: "The trusting service's deployment when it runs on a cloud platform, " + deploymentDescription +
					" Unset: the service runs on the local platform (host_url)."},
			"trusted": schema.StringAttribute{Required: true, PlanModifiers: replace, Validators: []validator.String{httpURL()},
				Description: "URL of the service it trusts (e.g. acquire_service.access.url)."},
			"host_url": schema.StringAttribute{Optional: true, PlanModifiers: replace, Validators: []validator.String{httpURL()},
				Description: "The host the trusting service runs on (local platform); default the provider's host_url."},
			"service_name": schema.StringAttribute{Computed: true, Description: "The trusting service's deployment name.",
				PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown()}},
		},
	}
}

// find locates the trusting deployment by URL on the host.
func (r *trustResource) find(ctx context.Context, m *trustModel) (platform, *host.Status, error) {
	p, err := newLocalPlatform(r.meta, m.HostURL.ValueString())
	if err != nil {
		return nil, nil, err
	}
	want, err := registry.CanonicalURL(m.Service.ValueString())
	if err != nil {
		return nil, nil, err
	}
	all, err := p.list(ctx)
	if err != nil {
		return nil, nil, err
	}
	for _, st := range all {
		if st.URL == want {
			return p, st, nil
		}
	}
	return p, nil, errGone
}

// TrustingKinds are the kinds that trust services to act in their own name.
var TrustingKinds = []string{"accounting", "access"}

func (r *trustResource) set(ctx context.Context, m *trustModel, trusted bool) error {
	ctx, cancel := context.WithTimeout(ctx, TrustApplyTimeout)
	defer cancel()
	trustedURL, err := registry.CanonicalURL(m.Trusted.ValueString())
	if err != nil {
		return err
	}
	if trusted {
		if err := r.checkService(ctx, trustedURL); err != nil {
			return err
		}
	}
	if m.Deployment.ValueString() != "" {
		return r.setOnCloud(ctx, m, trustedURL, trusted)
	}
	p, st, err := r.find(ctx, m)
	if errors.Is(err, errGone) {
		if !trusted {
			return nil // the service is gone, and its trust with it
		}
		return fmt.Errorf("service: no deployment at %s on the host", m.Service.ValueString())
	}
	if err != nil {
		return err
	}
	if _, err := p.trust(ctx, st.Name, trustedURL, trusted); err != nil {
		return err
	}
	m.Name = types.StringValue(st.Name)
	m.Service, m.Trusted = types.StringValue(st.URL), types.StringValue(trustedURL)
	m.ID = types.StringValue(trustID(st.URL, trustedURL))
	return nil
}

// checkService refuses a trusted URL that does not answer as an Acquire
// service at that URL: a trust in a mistyped URL would let whoever later
// serves there act here.
func (r *trustResource) checkService(ctx context.Context, u string) error {
	c := call.NewClient(&call.MemoryPins{})
	if r.meta != nil && r.meta.Call != nil {
		c = r.meta.Call
	}
	var pk call.PublicKeys
	if err := c.CallClear(ctx, u, "public_keys", struct{}{}, &pk); err != nil {
		return fmt.Errorf("trusted: %s does not answer as an Acquire service: %s", u, errText(err))
	}
	if got, _ := registry.CanonicalURL(pk.URL); pk.Kind == "" || got != u {
		return fmt.Errorf("trusted: %s answers as the service at %q, not as itself", u, pk.URL)
	}
	return nil
}

// setOnCloud changes the trust record on the cloud service's store.
func (r *trustResource) setOnCloud(ctx context.Context, m *trustModel, trustedURL string, trusted bool) error {
	ref := m.Deployment.ValueString()
	t, err := parseDeployment(ref)
	if err != nil {
		return fmt.Errorf("deployment: %w", err)
	}
	err = withCloudStore(ctx, r.meta, t, func(b *store.Bucket, kind, url string) error {
		if want, err := registry.CanonicalURL(m.Service.ValueString()); !m.Service.IsNull() && (err != nil || want != url) {
			return fmt.Errorf("service: the deployment %s serves %s, not %s", ref, url, m.Service.ValueString())
		}
		if !slices.Contains(TrustingKinds, kind) {
			return fmt.Errorf("service: %s is a %s service; only %s services trust services", url, kind, strings.Join(TrustingKinds, " and "))
		}
		if _, err := service.SetTrusted(ctx, b, trustedURL, trusted, time.Now()); err != nil {
			return err
		}
		m.Name, m.Service, m.Trusted = types.StringValue(t.name), types.StringValue(url), types.StringValue(trustedURL)
		m.ID = types.StringValue(trustID(url, trustedURL))
		return nil
	})
	if errors.Is(err, errGone) {
		if !trusted {
			return nil
		}
		return fmt.Errorf("deployment: no deployment %s on its platform", ref)
	}
	return err
}

// readOnCloud answers whether the cloud service's trust record (or its
// configuration, which this resource does not manage) holds the trust.
func (r *trustResource) readOnCloud(ctx context.Context, m *trustModel) (bool, error) {
	t, err := parseDeployment(m.Deployment.ValueString())
	if err != nil {
		return false, err
	}
	trustedURL, _ := registry.CanonicalURL(m.Trusted.ValueString())
	found := false
	err = withCloudStore(ctx, r.meta, t, func(b *store.Bucket, _ string, url string) error {
		list, err := service.TrustedRecord(ctx, b)
		if err != nil || !slices.Contains(list, trustedURL) {
			return err
		}
		found = true
		m.Name, m.Service, m.Trusted = types.StringValue(t.name), types.StringValue(url), types.StringValue(trustedURL)
		m.ID = types.StringValue(trustID(url, trustedURL))
		return nil
	})
	return found, err
}

func (r *trustResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var m trustModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	ctx, done := logOperation(ctx, "acquire_trust", "create", []string{r.hostToken()}, "service_url", m.Service.ValueString(), "trusted_url", m.Trusted.ValueString())
	defer func() { done(resp.Diagnostics) }()
	if err := r.set(ctx, &m, true); err != nil {
		resp.Diagnostics.AddError("Adding the trust failed", errText(err))
		return
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
	resp.Diagnostics.Append(setIdentity(ctx, resp.Identity, m.identity()...)...)
}

func (r *trustResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var m trustModel
	resp.Diagnostics.Append(req.State.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	// Identity first: the framework wants one even from a Read that removes the resource.
	resp.Diagnostics.Append(setIdentity(ctx, resp.Identity, m.identity()...)...)
	ctx, done := logOperation(ctx, "acquire_trust", "read", []string{r.hostToken()}, "service_url", m.Service.ValueString(), "trusted_url", m.Trusted.ValueString())
	defer func() { done(resp.Diagnostics) }()
	if m.Deployment.ValueString() != "" {
		ctx, cancel := context.WithTimeout(ctx, TrustApplyTimeout)
		defer cancel()
		found, err := r.readOnCloud(ctx, &m)
		switch {
		case errors.Is(err, errGone) || err == nil && !found:
			resp.State.RemoveResource(ctx) // the service, or the trust, is gone: the plan adds it again
		case err != nil:
			resp.Diagnostics.AddError("Reading the trust failed", errText(err))
		default:
			resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
			resp.Diagnostics.Append(setIdentity(ctx, resp.Identity, m.identity()...)...)
		}
		return
	}
	_, st, err := r.find(ctx, &m)
	if errors.Is(err, errGone) {
		resp.State.RemoveResource(ctx)
		return
	}
	if err != nil {
		resp.Diagnostics.AddError("Reading the trust failed", errText(err))
		return
	}
	trustedURL, _ := registry.CanonicalURL(m.Trusted.ValueString())
	if !slices.Contains(st.Trusted, trustedURL) {
		resp.State.RemoveResource(ctx) // removed out of band: the plan adds it again
		return
	}
	m.Name, m.Service, m.Trusted = types.StringValue(st.Name), types.StringValue(st.URL), types.StringValue(trustedURL)
	m.ID = types.StringValue(trustID(st.URL, trustedURL))
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
	resp.Diagnostics.Append(setIdentity(ctx, resp.Identity, m.identity()...)...)
}

// Update never runs: every attribute but the computed ones replaces.
func (r *trustResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var m trustModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &m)...)
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
	resp.Diagnostics.Append(setIdentity(ctx, resp.Identity, m.identity()...)...)
}

func (r *trustResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var m trustModel
	resp.Diagnostics.Append(req.State.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	ctx, done := logOperation(ctx, "acquire_trust", "delete", []string{r.hostToken()}, "service_url", m.Service.ValueString(), "trusted_url", m.Trusted.ValueString())
	defer func() { done(resp.Diagnostics) }()
	if err := r.set(ctx, &m, false); err != nil {
		resp.Diagnostics.AddError("Removing the trust failed", errText(err))
	}
}

// trustID is the trust's ID and import ID: "<service URL>,<trusted URL>",
// a comma-separated pair as providers' composite IDs are by convention (a
// URL holds no unescaped comma worth keeping: both are checked as URLs).
func trustID(serviceURL, trustedURL string) string { return serviceURL + "," + trustedURL }

// identity is the trust's identity: its two URLs.
func (m *trustModel) identity() []string {
	return []string{"service", m.Service.ValueString(), "trusted", m.Trusted.ValueString()}
}

// IdentitySchema: a trust is its two URLs.
func (r *trustResource) IdentitySchema(_ context.Context, _ resource.IdentitySchemaRequest, resp *resource.IdentitySchemaResponse) {
	resp.IdentitySchema = identitySchema(
		identityAttr{Name: "service", Required: true, Description: "URL of the trusting service."},
		identityAttr{Name: "trusted", Required: true, Description: "URL of the service it trusts."},
	)
}

// ImportState takes trustID's form, "<service URL>,<trusted URL>", for a
// service on the local platform, or "<deployment>,<trusted URL>" for one
// on a cloud; or the identity {service, trusted}.
func (r *trustResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	ctx, done := logOperation(ctx, "acquire_trust", "import", nil, "import_id", req.ID, "by_identity", req.ID == "")
	defer func() { done(resp.Diagnostics) }()
	if v, byIdentity, d := importedIdentity(ctx, req, "service", "trusted"); byIdentity || d.HasError() {
		resp.Diagnostics.Append(d...)
		if d.HasError() || !requireIdentity([]string{"service", "trusted"}, v, &resp.Diagnostics) {
			return
		}
		req.ID = trustID(v[0], v[1])
	}
	svc, trusted, ok := strings.Cut(req.ID, ",")
	if !ok || checkURL(trusted) != "" {
		resp.Diagnostics.AddError("Invalid import ID", fmt.Sprintf("import ID %q must be \"<service URL>,<trusted URL>\" (local platform) "+
			"or \"<platform>/<where>/<name>,<trusted URL>\" (cloud)", req.ID))
		return
	}
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("trusted"), trusted)...)
	if !strings.Contains(svc, "://") {
		if _, err := parseDeployment(svc); err != nil {
			resp.Diagnostics.AddError("Invalid import ID", fmt.Sprintf("import ID %q: deployment: %v", req.ID, err))
			return
		}
		resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("deployment"), svc)...)
		return // Read finds the service's URL
	}
	if checkURL(svc) != "" {
		resp.Diagnostics.AddError("Invalid import ID", fmt.Sprintf("import ID %q: %q is not a service URL", req.ID, svc))
		return
	}
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("id"), req.ID)...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("service"), svc)...)
}
