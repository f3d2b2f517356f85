package provider

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/openacquire/acquire/runtime/call"
	"github.com/openacquire/acquire/runtime/compute"
	"github.com/openacquire/acquire/runtime/store"
)

var (
	_ resource.ResourceWithConfigure   = (*clusterResource)(nil)
	_ resource.ResourceWithImportState = (*clusterResource)(nil)
	_ resource.ResourceWithIdentity    = (*clusterResource)(nil)
)

// clusterResource is acquire_cluster: a compute cluster's registration.
// The cluster's key pair is made where its agents run ('acquire cluster
// key NAME'); only the public half is given here and registered with
// compute's admin Go API on the service's own store. The private key never
// passes through Terraform, so it is in no state file.
type clusterResource struct{ configuredResource }

// NewClusterResource constructs resource "acquire_cluster".
func NewClusterResource() resource.Resource { return &clusterResource{} }

type clusterModel struct {
	ID         types.String `tfsdk:"id"`
	StoreURL   types.String `tfsdk:"store_url"`
	Name       types.String `tfsdk:"name"`
	PublicKey  types.String `tfsdk:"public_key"`
	Registered types.String `tfsdk:"registered"`
}

func (r *clusterResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_cluster"
}

func (r *clusterResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	replace := []planmodifier.String{stringplanmodifier.RequiresReplace()}
	keep := []planmodifier.String{stringplanmodifier.UseStateForUnknown()}
	resp.Schema = schema.Schema{
		Description: "A compute cluster's registration with a compute service: the cluster's Ed25519 public key, " +
			"registered on the compute service's store. Make the key pair where the cluster's agents run with " +
			"`acquire cluster key NAME` (it prints the public key; the private key stays in a 0600 file there and never " +
			"enters Terraform state), then run `acquire cluster agent NAME`. A registered name keeps its key: a new " +
			"`public_key` replaces the registration. Import with `<name>@<store_url>`.",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{Computed: true, Description: "`<name>@<store_url>`.", PlanModifiers: keep},
			"store_url": schema.StringAttribute{
				Required: true, PlanModifiers: replace, Validators: []validator.String{storeURLValidator{}},
				Description: "Store URL of the compute service (`acquire_service.<compute>.store_url`). Changing it replaces the registration.",
			},
			"name": schema.StringAttribute{
				Required: true, PlanModifiers: replace,
				Description: "Cluster name: 1-63 of a-z, 0-9, `_` and `-`, starting with a letter or digit. Changing it replaces " +
					"the registration (with a new key).",
				Validators: []validator.String{stringvalidator.RegexMatches(compute.ClusterNamePattern,
					"must be 1-63 of a-z, 0-9, _ and -, starting with a letter or digit")},
			},
			"public_key": schema.StringAttribute{Required: true, PlanModifiers: replace,
				Validators: []validator.String{ed25519KeyValidator{}},
				Description: "The cluster's Ed25519 public key, base64 (as `acquire cluster key NAME` prints it). Changing it " +
					"replaces the registration; a key changed out of band shows as drift and is put back."},
			"registered": schema.StringAttribute{Computed: true, PlanModifiers: keep,
				Description: "When the cluster was registered (RFC 3339, UTC)."},
		},
	}
}

func (r *clusterResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var plan clusterModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	ctx, done := logOperation(ctx, "acquire_cluster", "create", []string{r.hostToken()}, "cluster", plan.Name.ValueString(), logStore, redactURL(plan.StoreURL.ValueString()))
	defer func() { done(resp.Diagnostics) }()
	ctx, cancel := context.WithTimeout(ctx, StoreTimeout)
	defer cancel()
	var cl *compute.Cluster
	name := plan.Name.ValueString()
	err := withStore(ctx, plan.StoreURL.ValueString(), func(b *store.Bucket) (err error) {
		cl, err = compute.RegisterCluster(ctx, b, name, plan.PublicKey.ValueString(), time.Now())
		return err
	})
	if errors.Is(err, call.ErrExists) {
		resp.Diagnostics.AddAttributeError(path.Root("name"), "Cluster name taken",
			fmt.Sprintf("cluster %q is already registered with another key; a name keeps its key, so choose another name "+
				"(or import the existing registration)", name))
		return
	}
	if err != nil {
		resp.Diagnostics.AddError("Cannot register the cluster", storeError(err))
		return
	}
	plan.fill(cl)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
	resp.Diagnostics.Append(setIdentity(ctx, resp.Identity, nameAtStoreIdentity(plan.Name, plan.StoreURL)...)...)
}

func (r *clusterResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var st clusterModel
	resp.Diagnostics.Append(req.State.Get(ctx, &st)...)
	if resp.Diagnostics.HasError() {
		return
	}
	// Identity first: the framework wants one even from a Read that removes the resource.
	resp.Diagnostics.Append(setIdentity(ctx, resp.Identity, nameAtStoreIdentity(st.Name, st.StoreURL)...)...)
	ctx, done := logOperation(ctx, "acquire_cluster", "read", []string{r.hostToken()}, "cluster", st.Name.ValueString(), logStore, redactURL(st.StoreURL.ValueString()))
	defer func() { done(resp.Diagnostics) }()
	ctx, cancel := context.WithTimeout(ctx, StoreTimeout)
	defer cancel()
	var cl *compute.Cluster
	err := withStore(ctx, st.StoreURL.ValueString(), func(b *store.Bucket) (err error) {
		cl, err = compute.GetCluster(ctx, b, st.Name.ValueString())
		return err
	})
	if errors.Is(err, compute.ErrUnknownCluster) {
		resp.State.RemoveResource(ctx) // removed out of band: the next plan registers it again
		return
	}
	if err != nil {
		resp.Diagnostics.AddError("Cannot read the cluster", storeError(err))
		return
	}
	// A key registered out of band lands in state as it is, so the plan
	// shows the difference from the configuration and replaces it.
	st.fill(cl)
	resp.Diagnostics.Append(resp.State.Set(ctx, &st)...)
	resp.Diagnostics.Append(setIdentity(ctx, resp.Identity, nameAtStoreIdentity(st.Name, st.StoreURL)...)...)
}

// Update is never planned: every configurable attribute replaces.
func (r *clusterResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var plan clusterModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
	resp.Diagnostics.Append(setIdentity(ctx, resp.Identity, nameAtStoreIdentity(plan.Name, plan.StoreURL)...)...)
}

func (r *clusterResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var st clusterModel
	resp.Diagnostics.Append(req.State.Get(ctx, &st)...)
	if resp.Diagnostics.HasError() {
		return
	}
	ctx, done := logOperation(ctx, "acquire_cluster", "delete", []string{r.hostToken()}, "cluster", st.Name.ValueString(), logStore, redactURL(st.StoreURL.ValueString()))
	defer func() { done(resp.Diagnostics) }()
	removeFromStore(ctx, st.StoreURL.ValueString(), "Cannot remove the cluster", &resp.Diagnostics,
		func(ctx context.Context, b *store.Bucket) error {
			return compute.RemoveCluster(ctx, b, st.Name.ValueString())
		})
}

// IdentitySchema: a registration is its name on its compute service's store.
func (r *clusterResource) IdentitySchema(_ context.Context, _ resource.IdentitySchemaRequest, resp *resource.IdentitySchemaResponse) {
	resp.IdentitySchema = nameAtStoreIdentitySchema("cluster", "compute")
}

// ImportState takes `<name>@<store_url>`, or the identity {name, store_url}.
func (r *clusterResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	importNameAtStore(ctx, req, resp, "acquire_cluster", "lab", "compute")
}

func (m *clusterModel) fill(cl *compute.Cluster) {
	m.ID = types.StringValue(cl.Name + importSeparator + m.StoreURL.ValueString())
	m.Name = types.StringValue(cl.Name)
	m.PublicKey = types.StringValue(cl.PublicKey)
	m.Registered = types.StringValue(cl.Registered.UTC().Format(time.RFC3339Nano))
}
