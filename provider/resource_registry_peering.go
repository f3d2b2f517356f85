package provider

import (
	"context"
	"errors"
	"fmt"
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

	"github.com/openacquire/acquire/runtime/host"
	"github.com/openacquire/acquire/runtime/registry"
)

// PeeringApplyTimeout bounds one peering change (two challenges and a
// signed record, across regions).
const PeeringApplyTimeout = 2 * time.Minute

var (
	_ resource.ResourceWithConfigure        = (*peeringResource)(nil)
	_ resource.ResourceWithImportState      = (*peeringResource)(nil)
	_ resource.ResourceWithConfigValidators = (*peeringResource)(nil)
	_ resource.ResourceWithIdentity         = (*peeringResource)(nil)
)

// ConfigValidators: a service runs on a host or on a cloud, not both.
func (r *peeringResource) ConfigValidators(context.Context) []resource.ConfigValidator {
	return []resource.ConfigValidator{resourcevalidator.Conflicting(path.MatchRoot("deployment"), path.MatchRoot("host_url"))}
}

// NewRegistryPeeringResource is acquire_registry_peering.
func NewRegistryPeeringResource() resource.Resource { return &peeringResource{} }

type peeringResource struct{ configuredResource }

type peeringModel struct {
	ID         types.String `tfsdk:"id"`
	Registry   types.String `tfsdk:"registry"`
	Peer       types.String `tfsdk:"peer"`
	Label      types.String `tfsdk:"label"`
	HostURL    types.String `tfsdk:"host_url"`
	Deployment types.String `tfsdk:"deployment"`
	Name       types.String `tfsdk:"service_name"`
	Region     types.String `tfsdk:"region"`
	PeerRegion types.String `tfsdk:"peer_region"`
	State      types.String `tfsdk:"state"`
}

func (r *peeringResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_registry_peering"
}

func (r *peeringResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	replace := []planmodifier.String{stringplanmodifier.RequiresReplace()}
	keep := []planmodifier.String{stringplanmodifier.UseStateForUnknown()}
	resp.Schema = schema.Schema{
		Description: "One region's half of a mutual peering between two registries: the registry challenges the peer " +
			"registry, pins its certificate and sends it a signed peering record. The peering is active once the peer's " +
			"side is declared too (another acquire_registry_peering, with registry and peer swapped); " +
			"then each registry answers lookups of the other's service UIDs by asking it. Destroy unpeers (lookups stop at once). " +
			"The registry runs on the local platform (an `acquire host`, through its admin API) or on a cloud (`deployment`: the provider " +
			"opens the registry on its own store with its secret from the platform's secret store, as the function does, and runs its " +
			"side of the challenge-response from there). A peering removed out of band on either side shows as drift: that side's " +
			"resource is planned again. Import with `<registry URL>,<peer URL>` (local) or `<deployment>,<peer URL>` (cloud).",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{Computed: true, Description: "`<registry URL>,<peer URL>`.", PlanModifiers: keep},
			"registry": schema.StringAttribute{Required: true, PlanModifiers: replace, Validators: []validator.String{httpURL()},
				Description: "URL of this region's registry (e.g. acquire_service.registry.url)."},
			"deployment": schema.StringAttribute{Optional: true, PlanModifiers: replace,
				Validators: []validator.String{deploymentValidator{}},
				Description: "The registry's deployment when it runs on a cloud platform, " + deploymentDescription +
					" Unset: the registry runs on the local platform (host_url)."},
			"peer": schema.StringAttribute{Required: true, PlanModifiers: replace, Validators: []validator.String{httpURL()},
				Description: "URL of the other region's registry."},
			"label": schema.StringAttribute{Optional: true, PlanModifiers: replace,
				Description: fmt.Sprintf("A name for the peer region, for people (at most %d bytes).", registry.MaxLabelBytes)},
			"host_url": schema.StringAttribute{Optional: true, PlanModifiers: replace, Validators: []validator.String{httpURL()},
				Description: "The host the registry runs on (local platform); default the provider's host_url."},
			"service_name": schema.StringAttribute{Computed: true, PlanModifiers: keep, Description: "The registry's deployment name (registry for a host's own)."},
			"region":       schema.StringAttribute{Computed: true, PlanModifiers: keep, Description: "This registry's region ID."},
			"peer_region": schema.StringAttribute{Computed: true, PlanModifiers: keep,
				Description: "The peer's region ID: the suffix of its services' UIDs."},
			"state": schema.StringAttribute{Computed: true,
				Description: "active (both sides declared) or pending (waiting for the peer's side), as last read."},
		},
	}
}

// peerAdmin is where a registry's peerings are changed: a host's admin
// API (host.AdminClient) for the local platform, or the registry opened on
// its store by the provider (host.Host) for a cloud one.
type peerAdmin interface {
	Peers(ctx context.Context, name string) (*host.PeerList, error)
	AddPeer(ctx context.Context, name, peerURL, label string) (*registry.Peer, error)
	RemovePeer(ctx context.Context, name, region string) (*registry.Peer, error)
}

// with runs fn on the registry m names, wherever it runs; errGone when it
// is not there.
func (r *peeringResource) with(ctx context.Context, m *peeringModel, fn func(a peerAdmin, name string) error) error {
	ref := m.Deployment.ValueString()
	if ref == "" {
		p, name, err := r.find(ctx, m)
		if err != nil {
			return err
		}
		return fn(p.c, name)
	}
	t, err := parseDeployment(ref)
	if err != nil {
		return fmt.Errorf("deployment: %w", err)
	}
	return withCloudService(ctx, r.meta, t, func(h *host.Host, kind string) error {
		if kind != registry.Kind {
			return fmt.Errorf("deployment: %s is a %s service, not a registry", ref, kind)
		}
		got := h.ServiceURL(registry.Kind)
		if want, err := registry.CanonicalURL(m.Registry.ValueString()); !m.Registry.IsNull() && (err != nil || want != got) {
			return fmt.Errorf("registry: the deployment %s serves the registry at %s, not %s", ref, got, m.Registry.ValueString())
		}
		return fn(h, registry.Kind)
	})
}

// find locates the registry deployment by URL on the host: a deployed
// registry, or the host's fixed one.
func (r *peeringResource) find(ctx context.Context, m *peeringModel) (*localPlatform, string, error) {
	p, err := newLocalPlatform(r.meta, m.HostURL.ValueString())
	if err != nil {
		return nil, "", err
	}
	want, err := registry.CanonicalURL(m.Registry.ValueString())
	if err != nil {
		return nil, "", err
	}
	all, err := p.list(ctx)
	if err != nil {
		return nil, "", err
	}
	for _, st := range all {
		if st.URL == want {
			if st.Kind != registry.Kind {
				return nil, "", fmt.Errorf("registry: %s is a %s service, not a registry", want, st.Kind)
			}
			return p, st.Name, nil
		}
	}
	if l, err := p.c.Peers(ctx, registry.Kind); err == nil && l.URL == want {
		return p, registry.Kind, nil
	}
	return p, "", errGone
}

// where names the registry in an error.
func (m *peeringModel) where() string {
	if d := m.Deployment.ValueString(); d != "" {
		return "registry: no deployment " + d + " on its platform"
	}
	return "registry: no registry deployed at " + m.Registry.ValueString() + " on the host"
}

func (r *peeringResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var m peeringModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	ctx, done := logOperation(ctx, "acquire_registry_peering", "create", []string{r.hostToken()}, "registry", m.Registry.ValueString(), "peer", m.Peer.ValueString())
	defer func() { done(resp.Diagnostics) }()
	ctx, cancel := context.WithTimeout(ctx, PeeringApplyTimeout)
	defer cancel()
	err := r.with(ctx, &m, func(a peerAdmin, name string) error {
		peer, err := a.AddPeer(ctx, name, m.Peer.ValueString(), m.Label.ValueString())
		if err != nil {
			return err
		}
		return r.fill(ctx, a, name, peer, &m)
	})
	if errors.Is(err, errGone) {
		resp.Diagnostics.AddError("Peering failed", m.where())
		return
	}
	if err != nil {
		resp.Diagnostics.AddError("Peering failed", errText(err))
		return
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
	resp.Diagnostics.Append(setIdentity(ctx, resp.Identity, m.identity()...)...)
}

// fill sets the computed attributes from the registry's answer.
func (r *peeringResource) fill(ctx context.Context, a peerAdmin, name string, peer *registry.Peer, m *peeringModel) error {
	l, err := a.Peers(ctx, name)
	if err != nil {
		return err
	}
	if m.Deployment.ValueString() != "" {
		name = m.Deployment.ValueString()[strings.LastIndex(m.Deployment.ValueString(), "/")+1:]
	}
	m.Name, m.Region = types.StringValue(name), types.StringValue(l.Region)
	m.Registry, m.Peer = types.StringValue(l.URL), types.StringValue(peer.URL)
	m.PeerRegion, m.State = types.StringValue(peer.Region), types.StringValue(peer.State)
	if peer.Label != "" || !m.Label.IsNull() {
		m.Label = types.StringValue(peer.Label)
	}
	m.ID = types.StringValue(peeringID(l.URL, peer.URL))
	return nil
}

// peeringID is the ID: "<registry URL>,<peer URL>" (a comma-separated
// pair, as composite IDs conventionally are).
func peeringID(registryURL, peerURL string) string { return registryURL + "," + peerURL }

func (r *peeringResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var m peeringModel
	resp.Diagnostics.Append(req.State.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	// Identity first: the framework wants one even from a Read that removes the resource.
	resp.Diagnostics.Append(setIdentity(ctx, resp.Identity, m.identity()...)...)
	ctx, done := logOperation(ctx, "acquire_registry_peering", "read", []string{r.hostToken()}, "registry", m.Registry.ValueString(), "peer", m.Peer.ValueString())
	defer func() { done(resp.Diagnostics) }()
	ctx, cancel := context.WithTimeout(ctx, PeeringApplyTimeout)
	defer cancel()
	found := false
	err := r.with(ctx, &m, func(a peerAdmin, name string) error {
		peer, err := current(ctx, a, name, m.Peer.ValueString())
		if err != nil || peer == nil {
			return err
		}
		found = true
		return r.fill(ctx, a, name, peer, &m)
	})
	if errors.Is(err, errGone) {
		resp.State.RemoveResource(ctx) // the registry is gone, and its peerings with it
		return
	}
	if err != nil {
		resp.Diagnostics.AddError("Reading the peering failed", errText(err))
		return
	}
	if !found {
		resp.State.RemoveResource(ctx) // unpeered out of band: the plan peers again
		return
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
	resp.Diagnostics.Append(setIdentity(ctx, resp.Identity, m.identity()...)...)
}

// current is our admin's peering with the registry at peerURL, or nil.
func current(ctx context.Context, a peerAdmin, name, peerURL string) (*registry.Peer, error) {
	want, err := registry.CanonicalURL(peerURL)
	if err != nil {
		return nil, err
	}
	l, err := a.Peers(ctx, name)
	if err != nil {
		return nil, err
	}
	for _, peer := range l.Peers {
		if peer.URL == want && (peer.State == registry.PeerActive || peer.State == registry.PeerPending) {
			return peer, nil
		}
	}
	return nil, nil
}

// Update never runs: every attribute but the computed ones replaces.
func (r *peeringResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var m peeringModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &m)...)
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
	resp.Diagnostics.Append(setIdentity(ctx, resp.Identity, m.identity()...)...)
}

func (r *peeringResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var m peeringModel
	resp.Diagnostics.Append(req.State.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	ctx, done := logOperation(ctx, "acquire_registry_peering", "delete", []string{r.hostToken()}, "registry", m.Registry.ValueString(), "peer", m.Peer.ValueString())
	defer func() { done(resp.Diagnostics) }()
	ctx, cancel := context.WithTimeout(ctx, PeeringApplyTimeout)
	defer cancel()
	err := r.with(ctx, &m, func(a peerAdmin, name string) error {
		_, err := a.RemovePeer(ctx, name, m.PeerRegion.ValueString())
		return err
	})
	if err != nil && !errors.Is(err, errGone) && !errors.Is(err, host.ErrNoDeployment) {
		resp.Diagnostics.AddError("Unpeering failed", errText(err))
	}
}

// identity is the peering's identity: the two registries' URLs.
func (m *peeringModel) identity() []string {
	return []string{"registry", m.Registry.ValueString(), "peer", m.Peer.ValueString()}
}

// IdentitySchema: a peering is its two registries' URLs.
func (r *peeringResource) IdentitySchema(_ context.Context, _ resource.IdentitySchemaRequest, resp *resource.IdentitySchemaResponse) {
	resp.IdentitySchema = identitySchema(
		identityAttr{Name: "registry", Required: true, Description: "URL of this region's registry."},
		identityAttr{Name: "peer", Required: true, Description: "URL of the peer region's registry."},
	)
}

// ImportState takes "<registry URL>,<peer URL>" for a registry on the
// local platform, "<deployment>,<peer URL>" for one on a cloud (the
// deployment as acquire_service imports it). The old space-separated
// form is still read.
func (r *peeringResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	ctx, done := logOperation(ctx, "acquire_registry_peering", "import", nil, "import_id", req.ID, "by_identity", req.ID == "")
	defer func() { done(resp.Diagnostics) }()
	if v, byIdentity, d := importedIdentity(ctx, req, "registry", "peer"); byIdentity || d.HasError() {
		resp.Diagnostics.Append(d...)
		if d.HasError() || !requireIdentity([]string{"registry", "peer"}, v, &resp.Diagnostics) {
			return
		}
		req.ID = v[0] + "," + v[1] // the string ID's form, so both imports share one parser
	}
	sep := ","
	if !strings.Contains(req.ID, ",") {
		sep = " "
	}
	reg, peer, ok := strings.Cut(req.ID, sep)
	bad := func() {
		resp.Diagnostics.AddError("Invalid import ID", fmt.Sprintf("import ID %q must be \"<registry URL>,<peer registry URL>\" "+
			"(local platform) or \"<platform>/<where>/<name>,<peer registry URL>\" (cloud)", req.ID))
	}
	if !ok || checkURL(peer) != "" {
		bad()
		return
	}
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("peer"), peer)...)
	if !strings.Contains(reg, "://") {
		if _, err := parseDeployment(reg); err != nil {
			bad()
			return
		}
		resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("deployment"), reg)...)
		return // Read finds the registry's URL and the rest
	}
	if checkURL(reg) != "" {
		bad()
		return
	}
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("id"), peeringID(reg, peer))...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("registry"), reg)...)
	if r.meta == nil || r.meta.HostURL == "" {
		// A deployed registry lives at <host>/<name>: its host is found there.
		if i := strings.LastIndex(strings.TrimRight(reg, "/"), "/"); i > len("https://") {
			resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("host_url"), reg[:i])...)
		}
	}
}
