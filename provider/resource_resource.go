package provider

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/setvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/identityschema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/openacquire/acquire/adapters/aws/s3store"
	"github.com/openacquire/acquire/adapters/azure/blobstore"
	"github.com/openacquire/acquire/adapters/gcp/gcsstore"
	"github.com/openacquire/acquire/runtime/access"
	"github.com/openacquire/acquire/runtime/call"
	"github.com/openacquire/acquire/runtime/ledger"
	"github.com/openacquire/acquire/runtime/store"
)

// StoreTimeout bounds one resource operation on a service's store.
const StoreTimeout = 60 * time.Second

// importSeparator joins a catalogue entry's or a cluster's name and its
// service's store URL in an import ID: names cannot hold it.
const importSeparator = "@"

// importNameAtStore reads an import ID `<name>@<store_url>` into state; the
// next Read fills in the rest from the store.
func importNameAtStore(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse, typeName, exampleName, kind string) {
	name, storeURL, ok := strings.Cut(req.ID, importSeparator)
	if v, byIdentity, d := importedIdentity(ctx, req, "name", "store_url"); byIdentity || d.HasError() {
		resp.Diagnostics.Append(d...)
		if d.HasError() || !requireIdentity([]string{"name", "store_url"}, v, &resp.Diagnostics) {
			return
		}
		name, storeURL, ok = v[0], v[1], true
		req.ID = name + importSeparator + storeURL
	}
	ctx, done := logOperation(ctx, typeName, "import", nil, "name", name, logStore, redactURL(storeURL), "by_identity", req.Identity != nil && !req.Identity.Raw.IsNull())
	defer func() { done(resp.Diagnostics) }()
	if !ok || name == "" || storeURL == "" {
		resp.Diagnostics.AddError("Bad import ID", fmt.Sprintf("import an %s as <name>%s<store_url>, e.g. %s%sfile:///srv/acquire/%s",
			typeName, importSeparator, exampleName, importSeparator, kind))
		return
	}
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("id"), req.ID)...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("name"), name)...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("store_url"), storeURL)...)
}

// nameAtStoreIdentity is the identity of what is named on a service's
// store (a catalogue entry, a cluster registration).
func nameAtStoreIdentity(name, storeURL types.String) []string {
	return []string{"name", name.ValueString(), "store_url", storeURL.ValueString()}
}

// nameAtStoreIdentitySchema is nameAtStoreIdentity's schema; what and kind
// name the entry and its service for the descriptions.
func nameAtStoreIdentitySchema(what, kind string) identityschema.Schema {
	return identitySchema(
		identityAttr{Name: "name", Required: true, Description: "The " + what + "'s name."},
		identityAttr{Name: "store_url", Required: true, Description: "Store URL of the " + kind + " service it is registered with."},
	)
}

// removeFromStore runs a Delete's removal on the service's store under
// StoreTimeout, and reports a failure as summary.
func removeFromStore(ctx context.Context, storeURL, summary string, diags *diag.Diagnostics, remove func(context.Context, *store.Bucket) error) {
	ctx, cancel := context.WithTimeout(ctx, StoreTimeout)
	defer cancel()
	if err := withStore(ctx, storeURL, func(b *store.Bucket) error { return remove(ctx, b) }); err != nil {
		diags.AddError(summary, storeError(err))
	}
}

var (
	_ resource.ResourceWithConfigure   = (*catalogueResource)(nil)
	_ resource.ResourceWithImportState = (*catalogueResource)(nil)
	_ resource.ResourceWithIdentity    = (*catalogueResource)(nil)
)

// catalogueResource is acquire_resource: one entry of an access service's
// priced catalogue. It is written through access's admin Go API on the
// service's own store (docs/design/provider.md: the provider holds the
// platform, so it needs no logged-in admin session).
type catalogueResource struct{ configuredResource }

// NewCatalogueResource constructs resource "acquire_resource".
func NewCatalogueResource() resource.Resource { return &catalogueResource{} }

type catalogueModel struct {
	ID          types.String `tfsdk:"id"`
	StoreURL    types.String `tfsdk:"store_url"`
	Name        types.String `tfsdk:"name"`
	Price       types.String `tfsdk:"price"`
	ServiceURL  types.String `tfsdk:"service_url"`
	Function    types.String `tfsdk:"function"`
	Users       types.Set    `tfsdk:"users"`
	Description types.String `tfsdk:"description"`
	HoldS       types.Int64  `tfsdk:"hold_s"`
	Updated     types.String `tfsdk:"updated"`
}

func (r *catalogueResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_resource"
}

func (r *catalogueResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	replace := []planmodifier.String{stringplanmodifier.RequiresReplace()}
	resp.Schema = schema.Schema{
		Description: "An entry in an access service's priced catalogue: a resource users may request, its price, the " +
			"service and function that fulfil it, and who may ask. Written on the access service's store; the running " +
			"service sees a change at once. Import with `<name>@<store_url>`.",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{Computed: true, Description: "`<name>@<store_url>`.",
				PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown()}},
			"store_url": schema.StringAttribute{
				Required: true, PlanModifiers: replace,
				Description: "Store URL of the access service whose catalogue holds the entry (`acquire_service.<access>.store_url`). " +
					"Changing it replaces the entry.",
				Validators: []validator.String{storeURLValidator{}},
			},
			"name": schema.StringAttribute{
				Required: true, PlanModifiers: replace,
				Description: "Resource name users request: 1-64 of letters, digits and `_.:/-`, starting with a letter or digit. " +
					"Changing it replaces the entry.",
				Validators: []validator.String{stringvalidator.RegexMatches(access.ResourceNamePattern,
					"must be 1-64 of letters, digits and _.:/-, starting with a letter or digit")},
			},
			"price": schema.StringAttribute{
				Required:    true,
				Description: "Price of one request, an exact decimal string (at most 6 decimal places), above zero.",
				Validators:  []validator.String{priceValidator{}},
			},
			"service_url": schema.StringAttribute{
				Required:    true,
				Description: "URL of the service that fulfils a request (asked in the access service's own name).",
				Validators:  []validator.String{httpURL()},
			},
			"function": schema.StringAttribute{
				Required:    true,
				Description: "Function of the fulfilling service that is called, e.g. `run_job`.",
				Validators: []validator.String{stringvalidator.RegexMatches(access.FunctionNamePattern,
					"must be a letter then up to 127 letters, digits or _")},
			},
			"users": schema.SetAttribute{
				Optional: true, ElementType: types.StringType,
				Description: fmt.Sprintf("Users allowed to request it, each `<user uid>@<identity service URL>` (a UID is unique only "+
					"within its identity service; at most %d); unset or empty allows any user "+
					"of a trusted identity service.", access.MaxUsersPerResource),
				Validators: []validator.Set{
					setvalidator.SizeAtMost(access.MaxUsersPerResource),
					setvalidator.ValueStringsAre(stringvalidator.RegexMatches(access.UserRefPattern,
						"must be <user uid>@<identity service URL>")),
				},
			},
			"description": schema.StringAttribute{
				Optional:    true,
				Description: fmt.Sprintf("What the resource is, for users listing the catalogue (at most %d bytes).", access.MaxDescriptionBytes),
				Validators:  []validator.String{stringvalidator.LengthAtMost(access.MaxDescriptionBytes)},
			},
			"hold_s": schema.Int64Attribute{
				Optional: true,
				Description: fmt.Sprintf("How long a request's payment is held before the fulfilling service settles it, in "+
					"seconds: %d to %d; unset means %s. Resources fulfilled later (compute jobs) need longer.",
					int64(access.MinHold/time.Second), int64(access.MaxHold/time.Second), access.HoldFor),
				Validators: []validator.Int64{int64validator.Between(int64(access.MinHold/time.Second), int64(access.MaxHold/time.Second))},
			},
			"updated": schema.StringAttribute{Computed: true, Description: "When the entry was last written (RFC 3339, UTC)."},
		},
	}
}

func (r *catalogueResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var plan catalogueModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	ctx, done := logOperation(ctx, "acquire_resource", "create", []string{r.hostToken()}, "entry", plan.Name.ValueString(), logStore, redactURL(plan.StoreURL.ValueString()))
	defer func() { done(resp.Diagnostics) }()
	r.write(ctx, &plan, &resp.State, resp.Identity, &resp.Diagnostics)
}

func (r *catalogueResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var plan catalogueModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	ctx, done := logOperation(ctx, "acquire_resource", "update", []string{r.hostToken()}, "entry", plan.Name.ValueString(), logStore, redactURL(plan.StoreURL.ValueString()))
	defer func() { done(resp.Diagnostics) }()
	r.write(ctx, &plan, &resp.State, resp.Identity, &resp.Diagnostics)
}

// write sets the entry as planned and records what was stored.
func (r *catalogueResource) write(ctx context.Context, plan *catalogueModel, state *tfsdk.State, identity *tfsdk.ResourceIdentity, diags *diag.Diagnostics) {
	entry, ok := plan.entry(ctx, diags)
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, StoreTimeout)
	defer cancel()
	var stored *access.Resource
	err := withStore(ctx, plan.StoreURL.ValueString(), func(b *store.Bucket) (err error) {
		stored, err = access.SetResource(ctx, b, entry, time.Now())
		return err
	})
	if err != nil {
		diags.AddError("Cannot write the catalogue entry", storeError(err))
		return
	}
	plan.fill(ctx, stored, diags)
	diags.Append(state.Set(ctx, plan)...)
	diags.Append(setIdentity(ctx, identity, nameAtStoreIdentity(plan.Name, plan.StoreURL)...)...)
}

func (r *catalogueResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var st catalogueModel
	resp.Diagnostics.Append(req.State.Get(ctx, &st)...)
	if resp.Diagnostics.HasError() {
		return
	}
	// Identity first: the framework wants one even from a Read that removes the resource.
	resp.Diagnostics.Append(setIdentity(ctx, resp.Identity, nameAtStoreIdentity(st.Name, st.StoreURL)...)...)
	ctx, done := logOperation(ctx, "acquire_resource", "read", []string{r.hostToken()}, "entry", st.Name.ValueString(), logStore, redactURL(st.StoreURL.ValueString()))
	defer func() { done(resp.Diagnostics) }()
	ctx, cancel := context.WithTimeout(ctx, StoreTimeout)
	defer cancel()
	var stored *access.Resource
	err := withStore(ctx, st.StoreURL.ValueString(), func(b *store.Bucket) (err error) {
		stored, err = access.GetResource(ctx, b, st.Name.ValueString())
		return err
	})
	if errors.Is(err, call.ErrNotFound) {
		// Removed out of band (or its access service's data deleted): the
		// next plan creates it again.
		resp.State.RemoveResource(ctx)
		return
	}
	if err != nil {
		resp.Diagnostics.AddError("Cannot read the catalogue entry", storeError(err))
		return
	}
	st.fill(ctx, stored, &resp.Diagnostics)
	resp.Diagnostics.Append(resp.State.Set(ctx, &st)...)
	resp.Diagnostics.Append(setIdentity(ctx, resp.Identity, nameAtStoreIdentity(st.Name, st.StoreURL)...)...)
}

func (r *catalogueResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var st catalogueModel
	resp.Diagnostics.Append(req.State.Get(ctx, &st)...)
	if resp.Diagnostics.HasError() {
		return
	}
	ctx, done := logOperation(ctx, "acquire_resource", "delete", []string{r.hostToken()}, "entry", st.Name.ValueString(), logStore, redactURL(st.StoreURL.ValueString()))
	defer func() { done(resp.Diagnostics) }()
	removeFromStore(ctx, st.StoreURL.ValueString(), "Cannot remove the catalogue entry", &resp.Diagnostics,
		func(ctx context.Context, b *store.Bucket) error {
			return access.RemoveResource(ctx, b, st.Name.ValueString())
		})
}

// IdentitySchema: an entry is its name on its access service's store.
func (r *catalogueResource) IdentitySchema(_ context.Context, _ resource.IdentitySchemaRequest, resp *resource.IdentitySchemaResponse) {
	resp.IdentitySchema = nameAtStoreIdentitySchema("catalogue entry", "access")
}

// ImportState takes `<name>@<store_url>`, or the identity {name, store_url}.
func (r *catalogueResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	importNameAtStore(ctx, req, resp, "acquire_resource", "gpu-hour", "access")
}

// entry is the catalogue entry the model declares.
func (m *catalogueModel) entry(ctx context.Context, diags *diag.Diagnostics) (access.Resource, bool) {
	price, err := ledger.ParseAmount(m.Price.ValueString())
	if err != nil {
		diags.AddAttributeError(path.Root("price"), "Invalid price", err.Error())
		return access.Resource{}, false
	}
	var users []string
	if !m.Users.IsNull() {
		diags.Append(m.Users.ElementsAs(ctx, &users, false)...)
	}
	return access.Resource{Name: m.Name.ValueString(), Price: price, ServiceURL: m.ServiceURL.ValueString(),
			Function: m.Function.ValueString(), Users: users, Description: m.Description.ValueString(), HoldS: m.HoldS.ValueInt64()},
		!diags.HasError()
}

// fill records the stored entry in the model. Equal values keep the
// configuration's spelling ("1.5" stays "1.5", not the ledger's "1.500000";
// a null set stays null), so only real changes show as drift.
func (m *catalogueModel) fill(ctx context.Context, r *access.Resource, diags *diag.Diagnostics) {
	m.ID = types.StringValue(r.Name + importSeparator + m.StoreURL.ValueString())
	m.Name = types.StringValue(r.Name)
	if old, err := ledger.ParseAmount(m.Price.ValueString()); err != nil || old.Cmp(r.Price) != 0 {
		m.Price = types.StringValue(shortDecimal(r.Price))
	}
	m.ServiceURL, m.Function = types.StringValue(r.ServiceURL), types.StringValue(r.Function)
	if r.Description != "" || !m.Description.IsNull() {
		m.Description = types.StringValue(r.Description)
	}
	if r.HoldS != 0 || !m.HoldS.IsNull() {
		m.HoldS = types.Int64Value(r.HoldS)
	}
	var had []string
	if !m.Users.IsNull() {
		diags.Append(m.Users.ElementsAs(ctx, &had, false)...)
	}
	switch {
	case len(r.Users) == 0 && m.Users.IsNull(): // unset stays unset
	case !m.Users.IsNull() && sameSet(had, r.Users): // the declared set, as declared
	default:
		set, d := types.SetValueFrom(ctx, types.StringType, r.Users)
		diags.Append(d...)
		m.Users = set
	}
	m.Updated = types.StringValue(r.Updated.UTC().Format(time.RFC3339Nano))
}

// shortDecimal is an amount without trailing zeros ("1.5", "2"): how a
// person writes a price, for imports and drift.
func shortDecimal(a ledger.Amount) string {
	s := a.String()
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s
}

func sameSet(a, b []string) bool {
	a, b = slices.Sorted(slices.Values(a)), slices.Sorted(slices.Values(b))
	return slices.Equal(slices.Compact(a), slices.Compact(b))
}

var registerStores sync.Once

// withStore opens a service's store for one operation. The cloud schemes
// are registered once; credentials come from each cloud's usual chain.
func withStore(ctx context.Context, storeURL string, fn func(*store.Bucket) error) error {
	registerStores.Do(func() {
		s3store.Register()
		gcsstore.Register()
		blobstore.Register()
	})
	b, err := store.Open(ctx, storeURL)
	if err != nil {
		return err
	}
	defer func() { _ = b.Close() }()
	return fn(b)
}

// storeError is what a diagnostic says of a store or access error: the
// typed message, never the store URL's query (it may carry a credential).
func storeError(err error) string {
	var ce *call.Error
	if errors.As(err, &ce) {
		return ce.Error()
	}
	return err.Error()
}

// storeURLValidator refuses at plan time a store URL no driver serves.
type storeURLValidator struct{}

// StoreSchemes are the store URL schemes a service's state may live on.
var StoreSchemes = []string{"file", "mem", s3store.Scheme, gcsstore.Scheme, blobstore.Scheme}

func (storeURLValidator) Description(context.Context) string {
	return "must be a store URL: " + strings.Join(StoreSchemes, "://, ") + "://"
}
func (v storeURLValidator) MarkdownDescription(ctx context.Context) string { return v.Description(ctx) }
func (v storeURLValidator) ValidateString(ctx context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	scheme, _, ok := strings.Cut(req.ConfigValue.ValueString(), "://")
	if !ok || !slices.Contains(StoreSchemes, scheme) {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid store URL",
			fmt.Sprintf("%s %s (the access service's store_url).", req.Path, v.Description(ctx)))
	}
}

// priceValidator refuses at plan time a price the catalogue would refuse.
type priceValidator struct{}

func (priceValidator) Description(context.Context) string {
	return "must be an exact decimal above zero and at most " + shortDecimal(ledger.MaxAmount) + ", e.g. \"1.50\""
}
func (v priceValidator) MarkdownDescription(ctx context.Context) string { return v.Description(ctx) }
func (v priceValidator) ValidateString(ctx context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	a, err := ledger.ParseAmount(req.ConfigValue.ValueString())
	if err != nil || !a.IsPositive() || a.Cmp(ledger.MaxAmount) > 0 {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid price",
			fmt.Sprintf("%s %q %s.", req.Path, req.ConfigValue.ValueString(), v.Description(ctx)))
	}
}
