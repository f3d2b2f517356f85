package provider

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

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
	_ resource.ResourceWithConfigure   = (*peeringResource)(nil)
	_ resource.ResourceWithImportState = (*peeringResource)(nil)
	_ resource.ResourceWithIdentity    = (*peeringResource)(nil)
)

// NewRegistryPeeringResource is acquire_registry_peering.
func NewRegistryPeeringResource() resource.Resource { return &peeringResource{} }

type peeringResource struct{ configuredResource }

type peeringModel struct {
	ID         types.String `tfsdk:"id"`
	Registry   types.String `tfsdk:"registry"`
	Peer       types.String `tfsdk:"peer"`
	Label      types.String `tfsdk:"label"`
	HostURL    types.String `tfsdk:"host_url"`
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
			"side is declared too (another acquire_registry_peering, with registry and peer swapped, on the peer's host); " +
			"then each registry answers lookups of the other's service UIDs by asking it. Destroy unpeers (lookups stop at once).",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{Computed: true, Description: "<registry> <peer>.", PlanModifiers: keep},
			"registry": schema.StringAttribute{Required: true, PlanModifiers: replace, Validators: []validator.String{httpURL()},
				Description: "URL of this region's registry (e.g. acquire_service.registry.url), deployed on the local platform."},
			"peer": schema.StringAttribute{Required: true, PlanModifiers: replace, Validators: []validator.String{httpURL()},
				Description: "URL of the other region's registry."},
			"label": schema.StringAttribute{Optional: true, PlanModifiers: replace,
				Description: fmt.Sprintf("A name for the peer region, for people (at most %d bytes).", registry.MaxLabelBytes)},
			"host_url": schema.StringAttribute{Optional: true, PlanModifiers: replace, Validators: []validator.String{httpURL()},
				Description: "The host the registry runs on; default the provider's host_url."},
			"service_name": schema.StringAttribute{Computed: true, PlanModifiers: keep, Description: "The registry's deployment name."},
			"region":       schema.StringAttribute{Computed: true, PlanModifiers: keep, Description: "This registry's region ID."},
			"peer_region": schema.StringAttribute{Computed: true, PlanModifiers: keep,
				Description: "The peer's region ID: the suffix of its services' UIDs."},
			"state": schema.StringAttribute{Computed: true,
				Description: "active (both sides declared) or pending (waiting for the peer's side), as last read."},
		},
	}
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
	p, name, err := r.find(ctx, &m)
	if errors.Is(err, errGone) {
		resp.Diagnostics.AddError("Peering failed", fmt.Sprintf("registry: no registry deployed at %s on the host", m.Registry.ValueString()))
		return
	}
	if err != nil {
		resp.Diagnostics.AddError("Peering failed", errText(err))
		return
	}
	peer, err := p.c.AddPeer(ctx, name, m.Peer.ValueString(), m.Label.ValueString())
	if err != nil {
		resp.Diagnostics.AddError("Peering failed", errText(err))
		return
	}
	if err := r.fill(ctx, p, name, peer, &m); err != nil {
		resp.Diagnostics.AddError("Peering failed", errText(err))
		return
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
	resp.Diagnostics.Append(setIdentity(ctx, resp.Identity, m.identity()...)...)
}

// fill sets the computed attributes from the registry's answer.
func (r *peeringResource) fill(ctx context.Context, p *localPlatform, name string, peer *registry.Peer, m *peeringModel) error {
	l, err := p.c.Peers(ctx, name)
	if err != nil {
		return err
	}
	m.Name, m.Region = types.StringValue(name), types.StringValue(l.Region)
	m.Registry, m.Peer = types.StringValue(l.URL), types.StringValue(peer.URL)
	m.PeerRegion, m.State = types.StringValue(peer.Region), types.StringValue(peer.State)
	if peer.Label != "" || !m.Label.IsNull() {
		m.Label = types.StringValue(peer.Label)
	}
	m.ID = types.StringValue(l.URL + " " + peer.URL)
	return nil
}

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
	p, name, err := r.find(ctx, &m)
	if errors.Is(err, errGone) {
		resp.State.RemoveResource(ctx) // the registry is gone, and its peerings with it
		return
	}
	if err != nil {
		resp.Diagnostics.AddError("Reading the peering failed", errText(err))
		return
	}
	peer, err := r.current(ctx, p, name, m.Peer.ValueString())
	if err != nil {
		resp.Diagnostics.AddError("Reading the peering failed", errText(err))
		return
	}
	if peer == nil {
		resp.State.RemoveResource(ctx) // unpeered out of band: the plan peers again
		return
	}
	if err := r.fill(ctx, p, name, peer, &m); err != nil {
		resp.Diagnostics.AddError("Reading the peering failed", errText(err))
		return
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
	resp.Diagnostics.Append(setIdentity(ctx, resp.Identity, m.identity()...)...)
}

// current is our admin's peering with the registry at peerURL, or nil.
func (r *peeringResource) current(ctx context.Context, p *localPlatform, name, peerURL string) (*registry.Peer, error) {
	want, err := registry.CanonicalURL(peerURL)
	if err != nil {
		return nil, err
	}
	l, err := p.c.Peers(ctx, name)
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
	p, name, err := r.find(ctx, &m)
	if errors.Is(err, errGone) {
		return
	}
	if err == nil {
		_, err = p.c.RemovePeer(ctx, name, m.PeerRegion.ValueString())
	}
	if err != nil && !errors.Is(err, host.ErrNoDeployment) {
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

// ImportState takes "<registry URL> <peer registry URL>", or the identity
// {registry, peer}.
func (r *peeringResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	ctx, done := logOperation(ctx, "acquire_registry_peering", "import", nil, "import_id", req.ID, "by_identity", req.ID == "")
	defer func() { done(resp.Diagnostics) }()
	reg, peer, ok := strings.Cut(req.ID, " ")
	if v, byIdentity, d := importedIdentity(ctx, req, "registry", "peer"); byIdentity || d.HasError() {
		resp.Diagnostics.Append(d...)
		if d.HasError() || !requireIdentity([]string{"registry", "peer"}, v, &resp.Diagnostics) {
			return
		}
		reg, peer, ok = v[0], v[1], true
		req.ID = reg + " " + peer
	}
	if !ok || checkURL(reg) != "" || checkURL(peer) != "" {
		resp.Diagnostics.AddError("Invalid import ID", fmt.Sprintf("import ID %q must be \"<registry URL> <peer registry URL>\"", req.ID))
		return
	}
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("id"), req.ID)...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("registry"), reg)...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("peer"), peer)...)
	if r.meta == nil || r.meta.HostURL == "" {
		// A deployed registry lives at <host>/<name>: its host is found there.
		if i := strings.LastIndex(strings.TrimRight(reg, "/"), "/"); i > len("https://") {
			resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("host_url"), reg[:i])...)
		}
	}
}
