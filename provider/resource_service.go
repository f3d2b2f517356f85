package provider

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-timeouts/resource/timeouts"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/booldefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/objectplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/openacquire/acquire/runtime/auth"
	"github.com/openacquire/acquire/runtime/call"
	"github.com/openacquire/acquire/runtime/host"
	"github.com/openacquire/acquire/runtime/registry"
)

// ServiceKinds are the kinds acquire_service accepts.
var ServiceKinds = []string{"registry", "identity", "access", "accounting", "storage", "compute"}

// Limits of acquire_service.
const (
	// ServiceApplyTimeout bounds one create, update or delete: a deploy
	// makes keys, registers and may hash the admin's password.
	ServiceApplyTimeout = 5 * time.Minute
	// CloudApplyTimeout is the default on a cloud platform: Cloud Run and
	// Azure operations take minutes each. Both defaults yield to the
	// resource's timeouts block.
	CloudApplyTimeout = 20 * time.Minute
	// RegistryProbeTimeout bounds the plan-time check of a registry URL.
	RegistryProbeTimeout = 15 * time.Second
	// DefaultAdminPasswordEnv is where admin_password_env points by default.
	DefaultAdminPasswordEnv = "ACQUIRE_ADMIN_PASSWORD"
)

var serviceNamePattern = regexp.MustCompile(`^[a-z][a-z0-9-]{1,38}[a-z0-9]$`)

var (
	_ resource.ResourceWithConfigure      = (*serviceResource)(nil)
	_ resource.ResourceWithImportState    = (*serviceResource)(nil)
	_ resource.ResourceWithModifyPlan     = (*serviceResource)(nil)
	_ resource.ResourceWithValidateConfig = (*serviceResource)(nil)
	_ resource.ResourceWithIdentity       = (*serviceResource)(nil)
)

// NewServiceResource is acquire_service.
func NewServiceResource() resource.Resource { return &serviceResource{} }

type serviceResource struct{ configuredResource }

type serviceModel struct {
	ID                   types.String   `tfsdk:"id"`
	Name                 types.String   `tfsdk:"name"`
	Kind                 types.String   `tfsdk:"kind"`
	Registry             types.String   `tfsdk:"registry"`
	Store                *storeModel    `tfsdk:"store"`
	Platform             types.Object   `tfsdk:"platform"`
	Settings             types.Map      `tfsdk:"settings"`
	TrustedIdentities    types.List     `tfsdk:"trusted_identities"`
	TrustedServices      types.List     `tfsdk:"trusted_services"`
	AdminUsername        types.String   `tfsdk:"admin_username"`
	AdminPasswordWO      types.String   `tfsdk:"admin_password_wo"`
	AdminPasswordEnv     types.String   `tfsdk:"admin_password_env"`
	AdminPasswordVersion types.String   `tfsdk:"admin_password_version"`
	AdminIdentityURL     types.String   `tfsdk:"admin_identity_url"`
	AdminUserUID         types.String   `tfsdk:"admin_user_uid"`
	AdminEnrolmentFile   types.String   `tfsdk:"admin_enrolment_file"`
	DeleteData           types.Bool     `tfsdk:"delete_data"`
	URL                  types.String   `tfsdk:"url"`
	UID                  types.String   `tfsdk:"uid"`
	KeyFingerprint       types.String   `tfsdk:"key_fingerprint"`
	CertFingerprint      types.String   `tfsdk:"cert_fingerprint"`
	StoreURL             types.String   `tfsdk:"store_url"`
	Timeouts             timeouts.Value `tfsdk:"timeouts"`
}

type storeModel struct {
	Local *localStoreModel `tfsdk:"local"`
	S3    *s3StoreModel    `tfsdk:"s3"`
	GCS   *gcsStoreModel   `tfsdk:"gcs"`
	Azure *azureStoreModel `tfsdk:"azure"`
}

type localStoreModel struct {
	Path types.String `tfsdk:"path"`
}

type s3StoreModel struct {
	Bucket    types.String `tfsdk:"bucket"`
	Region    types.String `tfsdk:"region"`
	Endpoint  types.String `tfsdk:"endpoint"`
	Prefix    types.String `tfsdk:"prefix"`
	PathStyle types.Bool   `tfsdk:"path_style"`
}

type gcsStoreModel struct {
	Bucket    types.String `tfsdk:"bucket"`
	Endpoint  types.String `tfsdk:"endpoint"`
	Prefix    types.String `tfsdk:"prefix"`
	Anonymous types.Bool   `tfsdk:"anonymous"`
}

type azureStoreModel struct {
	Container types.String `tfsdk:"container"`
	Account   types.String `tfsdk:"account"`
	Endpoint  types.String `tfsdk:"endpoint"`
	Prefix    types.String `tfsdk:"prefix"`
}

type localPlatformModel struct {
	HostURL types.String `tfsdk:"host_url"`
}

func (r *serviceResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_service"
}

func optString(desc string, mods ...planmodifier.String) schema.StringAttribute {
	return schema.StringAttribute{Optional: true, Description: desc, PlanModifiers: mods}
}

func computedString(desc string) schema.StringAttribute {
	return schema.StringAttribute{Computed: true, Description: desc,
		PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown()}}
}

func (r *serviceResource) Schema(ctx context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	replace := stringplanmodifier.RequiresReplace()
	resp.Schema = schema.Schema{
		Description: "An Acquire service (registry, identity, access, accounting, storage or compute) deployed on a platform " +
			"(a local `acquire host`, or a cloud) with its state on a store. Changing kind, name, store or platform replaces " +
			"it; registry, settings and the admin's password update in place. Destroy removes the running service and " +
			"keeps its data unless delete_data is true.",
		Attributes: map[string]schema.Attribute{
			"id": computedString("The deployment's name on its platform."),
			"name": schema.StringAttribute{Required: true, PlanModifiers: []planmodifier.String{replace},
				Description: "Deployment name: 3-40 of a-z, 0-9 and '-', starting with a letter. On the local platform the " +
					"service is served at <host_url>/<name>.",
				Validators: []validator.String{patternValidator{serviceNamePattern, "3-40 of a-z, 0-9 and '-', starting with a letter"}}},
			"kind": schema.StringAttribute{Required: true, PlanModifiers: []planmodifier.String{replace},
				Description: "Service kind: one of " + strings.Join(ServiceKinds, ", ") + ".",
				Validators:  []validator.String{oneOfValidator{ServiceKinds}}},
			"registry": schema.StringAttribute{Optional: true, Validators: []validator.String{httpURL()},
				Description: "URL of the registry the service registers with (not for a registry). Checked at plan time " +
					"when known: it must answer as an Acquire registry."},
			"store": storeSchema(),
			"settings": schema.MapAttribute{Optional: true, ElementType: types.StringType,
				Description: "Kind-specific settings, updated in place (access: accounting_url, required; compute: access_url, required, and job_lease_s, " +
					"the whole seconds (2 to 3600) a claimed job stays an agent's without a heartbeat: how soon a dead agent's job runs again; default 60, or a local host's --job-lease-s; " +
					"identity: session_life_s, the whole seconds (60 to 86400) a session lasts once approved; default 86400, or a local host's --session-life-s; " +
					"accounting, access, storage and compute: trusted_identities, and accounting and access: trusted_services, comma-separated " +
					"URL lists kept for compatibility: use the trusted_identities and trusted_services attributes; " +
					"accounting: settlement_peers, the other regions' accounting services it settles cross-region transfers with, each naming the other, " +
					"comma-separated, each by URL or by UID (kind-<id>@<region>, resolved through its home registry when first needed, its keys " +
					"checked there). Checked at plan time."},
			"trusted_identities": schema.ListAttribute{Optional: true, ElementType: types.StringType,
				Description: fmt.Sprintf("Accounting, access, storage and compute: the URLs of the identity services (of any region) "+
					"whose users may act on the service, at most %d. Unset trusts none but a deployment's admin's identity service: "+
					"a service never fetches from, or believes, an identity service it was not told to trust; a user of any other is "+
					"refused with IdentityNotTrustedError naming it. Updated in place (a cloud function is redeployed with it). "+
					"Replaces the comma-separated settings.trusted_identities, which is still read; giving both is an error.", auth.MaxTrustedIdentities)},
			"trusted_services": schema.ListAttribute{Optional: true, ElementType: types.StringType,
				Description: fmt.Sprintf("Accounting and access: the URLs of the services (of any region) that may act in their "+
					"own name on it (cash cheques, invoice, check grants), at most %d; others are refused with ServiceNotTrustedError "+
					"naming them. Updated in place (a cloud function is redeployed with it); acquire_trust adds trusts without a "+
					"redeploy on every platform. Replaces the comma-separated settings.trusted_services, which is still read; "+
					"giving both is an error.", auth.MaxTrustedIdentities)},
			"admin_username": optString("Identity services: the first admin's username, created on first apply."),
			"admin_password_wo": schema.StringAttribute{Optional: true, WriteOnly: true, Sensitive: true,
				Description: "Identity services: the first admin's password. Write-only: never stored in state " +
					"(Terraform >= 1.11). It is sent on create and when admin_password_version changes. With engines " +
					"without write-only attributes (OpenTofu 1.10) use admin_password_env."},
			"admin_password_env": optString("Identity services: the environment variable the provider reads the admin's " +
				"password from when admin_password_wo is not set (default " + DefaultAdminPasswordEnv + "). Nothing of it reaches state."),
			"admin_password_version": optString("Change it to set the admin's password again (rotation) from " +
				"admin_password_wo or admin_password_env."),
			"admin_identity_url": schema.StringAttribute{Optional: true, Computed: true, Validators: []validator.String{httpURL()},
				PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
				Description:   "Other kinds: the identity service of the first admin. Identity services: their own URL (computed)."},
			"admin_user_uid": schema.StringAttribute{Optional: true, Computed: true,
				PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
				Description:   "Other kinds: the first admin's user UID. Identity services: the created admin's UID (computed)."},
			"admin_enrolment_file": schema.StringAttribute{Optional: true,
				Description: "Identity services with admin_username: the absolute path of the file the provider writes, once, when it " +
					"creates the admin: its authenticator (otpauth://) URI and one-time recovery codes, as JSON, mode 0600. State " +
					"keeps only this path, never the enrolment (it used to be in admin_otp_uri and admin_recovery_codes, which put " +
					"the admin's TOTP secret in every state file). Read it with the ephemeral resource acquire_admin_enrolment, or " +
					"the file itself."},
			"delete_data": schema.BoolAttribute{Optional: true, Computed: true, Default: booldefault.StaticBool(false),
				Description: "Delete the service's data (users, money, files) on destroy. Default false: destroy keeps the data."},
			"url":              computedString("The service's URL: what clients and other services call."),
			"uid":              computedString("The UID its registry gave it."),
			"key_fingerprint":  computedString("Fingerprint of its newest public key."),
			"cert_fingerprint": computedString("Fingerprint of its newest certificate (signing) key."),
			"store_url":        computedString("The store URL its state lives at (on a cloud, its kind's part of the bucket): what acquire_resource and acquire_cluster write to."),
		},
		Blocks: map[string]schema.Block{"platform": platformSchema(),
			"timeouts": timeouts.Block(ctx, timeouts.Opts{Create: true, Read: true, Update: true, Delete: true,
				CreateDescription: "How long a create may take (default 5m on the local platform, 20m on a cloud: Cloud Run and Azure operations take minutes)."})},
	}
}

func storeSchema() schema.SingleNestedAttribute {
	s := func(desc string) schema.StringAttribute {
		return schema.StringAttribute{Optional: true, Description: desc}
	}
	req := func(desc string) schema.StringAttribute {
		return schema.StringAttribute{Required: true, Description: desc}
	}
	return schema.SingleNestedAttribute{
		Optional:      true,
		PlanModifiers: []planmodifier.Object{objectplanmodifier.RequiresReplace()},
		Description:   "Where the service's state lives: exactly one of local, s3, gcs, azure. Default (local platform): a folder of the host's store. Changing it replaces the service.",
		Attributes: map[string]schema.Attribute{
			"local": schema.SingleNestedAttribute{Optional: true, Description: "A local folder.",
				Attributes: map[string]schema.Attribute{"path": req("Absolute folder path.")}},
			"s3": schema.SingleNestedAttribute{Optional: true, Description: "An S3 (or S3-compatible) bucket; credentials from the AWS chain of the platform.",
				Attributes: map[string]schema.Attribute{"bucket": req("Bucket name."), "region": s("Region."),
					"endpoint": s("Endpoint URL (S3-compatible servers)."), "prefix": s("Key prefix."),
					"path_style": schema.BoolAttribute{Optional: true, Description: "Path-style addressing."}}},
			"gcs": schema.SingleNestedAttribute{Optional: true, Description: "A Google Cloud Storage bucket.",
				Attributes: map[string]schema.Attribute{"bucket": req("Bucket name."), "endpoint": s("Endpoint URL (emulators)."), "prefix": s("Key prefix."),
					"anonymous": schema.BoolAttribute{Optional: true, Description: "No credentials (emulators such as fake-gcs-server)."}}},
			"azure": schema.SingleNestedAttribute{Optional: true, Description: "An Azure Blob container.",
				Attributes: map[string]schema.Attribute{"container": req("Container name."), "account": s("Storage account."),
					"endpoint": s("Endpoint URL (Azurite)."), "prefix": s("Key prefix.")}},
		},
	}
}

// platformSchema is a block, not a nested attribute: Terraform and
// OpenTofu drop unknown keys of a nested attribute's object without a word
// (hashicorp/terraform#33570), so a misspelt setting would deploy
// defaults; in a block it is an "Unsupported argument" error at plan.
func platformSchema() schema.SingleNestedBlock {
	blocks := map[string]schema.Block{
		"local": schema.SingleNestedBlock{Description: "A running `acquire host`, through its admin API.",
			Attributes: map[string]schema.Attribute{"host_url": schema.StringAttribute{Optional: true, Validators: []validator.String{httpURL()},
				Description: "The host's base URL; default the provider's host_url."}}},
	}
	var stores []string
	for _, name := range platformNames() {
		k := platformKinds[name]
		blocks[name] = schema.SingleNestedBlock{Description: k.Description, Attributes: blockAttributes(k)}
		stores = append(stores, name+": "+strings.Join(k.Stores, " or "))
	}
	return schema.SingleNestedBlock{
		PlanModifiers: []planmodifier.Object{objectplanmodifier.RequiresReplaceIf(platformReplace,
			"Moving the service to another platform, or another place on it, replaces it.",
			"Moving the service to another platform, or another place on it, replaces it.")},
		Description: "Where the service runs: a block holding exactly one of local, " + strings.Join(platformNames(), ", ") +
			" (e.g. `platform { aws { region = ... } }`). Default: the local platform of the " +
			"provider's host_url. Cloud platforms need their store (" + strings.Join(stores, "; ") + "). Every required value and " +
			"cross-field rule is checked at plan, naming the attribute; a misspelt argument is an error. Changing the platform or where on it " +
			"the service runs (region, project, subscription, resource group, storage account) replaces the service; any other change " +
			"(artifact, memory, timeout, tags...) updates it in place.",
		Blocks: blocks,
	}
}

// ValidateConfig refuses at plan time what the platform would refuse at
// apply, naming the attribute.
func (r *serviceResource) ValidateConfig(ctx context.Context, req resource.ValidateConfigRequest, resp *resource.ValidateConfigResponse) {
	var m serviceModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if m.Store != nil {
		validateStore(m.Store, &resp.Diagnostics)
	}
	p, d := parsePlatform(ctx, m.Platform)
	resp.Diagnostics.Append(d...)
	if p != nil {
		validatePlatform(p, m.Store, &resp.Diagnostics)
	}

	if m.Kind.IsUnknown() || m.Kind.IsNull() {
		return
	}
	kind := m.Kind.ValueString()
	validateSettings(kind, m.Settings, &resp.Diagnostics)
	validateTrustLists(ctx, kind, &m, &resp.Diagnostics)
	if kind == registry.Kind && !m.Registry.IsNull() {
		resp.Diagnostics.AddAttributeError(path.Root("registry"), "A registry does not register",
			"registry: a registry service does not register with another registry; remove the attribute.")
	}
	identityOnly := map[string]types.String{"admin_username": m.AdminUsername, "admin_password_wo": m.AdminPasswordWO,
		"admin_password_env": m.AdminPasswordEnv, "admin_enrolment_file": m.AdminEnrolmentFile}
	if kind == "identity" && !m.AdminUsername.IsNull() && m.AdminEnrolmentFile.IsNull() {
		resp.Diagnostics.AddAttributeError(path.Root("admin_enrolment_file"), "Where does the admin's enrolment go?",
			"admin_enrolment_file: an identity service that creates its admin needs the file the admin's authenticator URI and "+
				"recovery codes are written to (they are shown once, and never kept in state).")
	}
	if f := m.AdminEnrolmentFile; !f.IsNull() && !f.IsUnknown() && !filepath.IsAbs(f.ValueString()) {
		resp.Diagnostics.AddAttributeError(path.Root("admin_enrolment_file"), "Relative path",
			fmt.Sprintf("admin_enrolment_file: %q must be absolute (e.g. \"${abspath(path.root)}/admin-enrolment.json\").", f.ValueString()))
	}
	if kind != "identity" {
		for name, v := range identityOnly {
			if !v.IsNull() {
				resp.Diagnostics.AddAttributeError(path.Root(name), "Attribute is for identity services",
					fmt.Sprintf("%s: only an identity service creates its admin; a %s service names its admin with "+
						"admin_identity_url and admin_user_uid.", name, kind))
			}
		}
		if m.AdminIdentityURL.IsNull() != m.AdminUserUID.IsNull() {
			resp.Diagnostics.AddAttributeError(path.Root("admin_user_uid"), "Incomplete admin",
				"admin_identity_url and admin_user_uid go together: give both or neither.")
		}
	} else if !m.AdminIdentityURL.IsNull() || !m.AdminUserUID.IsNull() {
		resp.Diagnostics.AddAttributeError(path.Root("admin_user_uid"), "Computed for identity services",
			"admin_identity_url and admin_user_uid are computed for an identity service; name its admin with admin_username.")
	}
}

// trustLists are the list attributes that stand for a comma-separated
// setting, by setting name.
func (m *serviceModel) trustLists() map[string]types.List {
	return map[string]types.List{host.TrustedIdentitiesSetting: m.TrustedIdentities, host.TrustedServicesSetting: m.TrustedServices}
}

// validateTrustLists checks trusted_identities and trusted_services at
// plan: the kind takes them, each entry is a service URL (once), the list
// is not too long, and the same list is not also in settings.
func validateTrustLists(ctx context.Context, kind string, m *serviceModel, d *diag.Diagnostics) {
	for key, l := range m.trustLists() {
		if l.IsNull() {
			continue
		}
		at := path.Root(key)
		if !slices.Contains(host.KindSettings[kind], key) {
			d.AddAttributeError(at, "Not for this kind", fmt.Sprintf("%s: a %s service takes no %s.", key, kind, strings.ReplaceAll(key, "_", " ")))
			continue
		}
		if v, ok := m.Settings.Elements()[key]; ok && !m.Settings.IsUnknown() && v != nil {
			d.AddAttributeError(at, "Given twice", fmt.Sprintf("%s: also given as settings.%s; give it once, with the attribute "+
				"(the setting is read for compatibility only).", key, key))
		}
		if l.IsUnknown() {
			continue
		}
		if n := len(l.Elements()); n > auth.MaxTrustedIdentities {
			d.AddAttributeError(at, "Too many", fmt.Sprintf("%s: at most %d URLs, not %d.", key, auth.MaxTrustedIdentities, n))
		}
		seen := map[string]bool{}
		for i, e := range l.Elements() {
			v, ok := e.(types.String)
			if !ok || v.IsUnknown() {
				continue
			}
			if v.IsNull() {
				d.AddAttributeError(at.AtListIndex(i), "Null URL", fmt.Sprintf("%s[%d]: must be a service URL.", key, i))
				continue
			}
			msg := checkURL(v.ValueString())
			if msg == "" && strings.Contains(v.ValueString(), ",") {
				msg = "must not hold a comma"
			}
			if msg != "" {
				d.AddAttributeError(at.AtListIndex(i), "Invalid URL", fmt.Sprintf("%s[%d]: %s.", key, i, msg))
				continue
			}
			c, _ := registry.CanonicalURL(v.ValueString())
			if seen[c] {
				d.AddAttributeError(at.AtListIndex(i), "Listed twice", fmt.Sprintf("%s[%d]: %s is already listed.", key, i, v.ValueString()))
			}
			seen[c] = true
		}
	}
	_ = ctx
}

// withTrustLists puts the list attributes into settings, as the
// comma-separated values the platforms take.
func (m *serviceModel) withTrustLists(ctx context.Context, settings map[string]string) (map[string]string, diag.Diagnostics) {
	var d diag.Diagnostics
	for key, l := range m.trustLists() {
		if l.IsNull() || l.IsUnknown() {
			continue
		}
		var urls []string
		d.Append(l.ElementsAs(ctx, &urls, false)...)
		if settings == nil {
			settings = map[string]string{}
		}
		settings[key] = strings.Join(urls, ",")
	}
	return settings, d
}

// splitTrustLists takes the settings a platform answers back into the
// list attributes the model uses (settings keep what was given as
// settings). A list whose URLs are those answered keeps its order.
func (m *serviceModel) splitTrustLists(ctx context.Context, settings map[string]string) (map[string]string, diag.Diagnostics) {
	var d diag.Diagnostics
	out := maps.Clone(settings)
	for key, l := range m.trustLists() {
		if l.IsNull() {
			continue
		}
		value, ok := out[key]
		delete(out, key)
		var got []string
		if ok {
			got = strings.Split(value, ",")
		}
		var had []string
		if !l.IsUnknown() {
			d.Append(l.ElementsAs(ctx, &had, false)...)
		}
		if sameURLs(had, got) {
			continue
		}
		v, dd := types.ListValueFrom(ctx, types.StringType, got)
		d.Append(dd...)
		if key == host.TrustedIdentitiesSetting {
			m.TrustedIdentities = v
		} else {
			m.TrustedServices = v
		}
	}
	return out, d
}

// sameURLs says whether two URL lists name the same services, in any
// order and form.
func sameURLs(a, b []string) bool {
	canon := func(l []string) []string {
		var out []string
		for _, u := range l {
			if c, err := registry.CanonicalURL(strings.TrimSpace(u)); err == nil {
				out = append(out, c)
			} else if u != "" {
				out = append(out, u)
			}
		}
		slices.Sort(out)
		return slices.Compact(out)
	}
	return slices.Equal(canon(a), canon(b))
}

// validateSettings refuses a setting the kind does not take, a known value
// not of its form (a lease that is not whole seconds in range, a URL that
// is not one) and a required setting left out: what the platform would
// refuse at apply, or a cloud function at its start.
func validateSettings(kind string, settings types.Map, d *diag.Diagnostics) {
	if settings.IsUnknown() {
		return
	}
	given := settings.Elements()
	for _, k := range slices.Sorted(maps.Keys(given)) {
		v, ok := given[k].(types.String)
		if !ok {
			continue
		}
		if v.IsUnknown() && slices.Contains(host.KindSettings[kind], k) {
			continue // a known key; its value is checked at apply
		}
		if _, err := host.CheckSetting(kind, k, v.ValueString()); err != nil {
			d.AddAttributeError(path.Root("settings").AtMapKey(k), "Bad setting", err.Error())
		}
	}
	for _, k := range host.RequiredSettings[kind] {
		if _, ok := given[k]; !ok {
			d.AddAttributeError(path.Root("settings"), "Missing setting", fmt.Sprintf("settings: a %s service needs %q.", kind, k))
		}
	}
}

// given lists the store blocks set.
func (s *storeModel) given() []string {
	if s == nil {
		return nil
	}
	var out []string
	for _, b := range []struct {
		name string
		set  bool
	}{{"local", s.Local != nil}, {"s3", s.S3 != nil}, {"gcs", s.GCS != nil}, {"azure", s.Azure != nil}} {
		if b.set {
			out = append(out, b.name)
		}
	}
	return out
}

// validateStore: exactly one store, each well formed.
func validateStore(s *storeModel, d *diag.Diagnostics) {
	var given []string
	if s.Local != nil {
		given = append(given, "local")
		p := s.Local.Path
		if !p.IsUnknown() && !p.IsNull() && !filepath.IsAbs(p.ValueString()) {
			d.AddAttributeError(path.Root("store").AtName("local").AtName("path"), "Relative store path",
				fmt.Sprintf("store.local.path: %q must be an absolute path (e.g. \"${abspath(path.root)}/data\").", p.ValueString()))
		}
	}
	if s.S3 != nil {
		given = append(given, "s3")
		checkEndpoint(s.S3.Endpoint, path.Root("store").AtName("s3").AtName("endpoint"), d)
	}
	if s.GCS != nil {
		given = append(given, "gcs")
		checkEndpoint(s.GCS.Endpoint, path.Root("store").AtName("gcs").AtName("endpoint"), d)
	}
	if s.Azure != nil {
		given = append(given, "azure")
		checkEndpoint(s.Azure.Endpoint, path.Root("store").AtName("azure").AtName("endpoint"), d)
	}
	if len(given) != 1 {
		d.AddAttributeError(path.Root("store"), "One store per service",
			fmt.Sprintf("store: give exactly one of local, s3, gcs, azure (got %d: %s). A service keeps all its state on one store.",
				len(given), strings.Join(given, ", ")))
	}
}

// validatePlatform: exactly one platform block; a cloud needs its own
// store, and its block's rules hold.
func validatePlatform(p *platformModel, s *storeModel, d *diag.Diagnostics) {
	if len(p.Given) > 1 {
		d.AddAttributeError(path.Root("platform"), "One platform per service",
			fmt.Sprintf("platform: give exactly one of local, %s (got %d: %s).", strings.Join(platformNames(), ", "), len(p.Given), strings.Join(p.Given, ", ")))
		return
	}
	if p.Cloud == "" {
		return
	}
	k := platformKinds[p.Cloud]
	at := path.Root("platform").AtName(p.Cloud)
	if missingRequired(k, p.Raw, at, d) {
		return
	}
	if given := s.given(); len(given) == 1 && !slices.Contains(k.Stores, given[0]) || s == nil {
		d.AddAttributeError(path.Root("store"), "Store does not match the platform",
			fmt.Sprintf("store: a service on platform %s keeps its state on store.%s (its bucket is created by the deployer).", p.Cloud, strings.Join(k.Stores, " or store.")))
	}
	validateFunction(k, p.Block.function(), at, d)
	p.Block.validate(at, s, d)
}

func checkEndpoint(v types.String, p path.Path, d *diag.Diagnostics) {
	if v.IsNull() || v.IsUnknown() {
		return
	}
	if msg := checkURL(v.ValueString()); msg != "" {
		d.AddAttributeError(p, "Invalid URL", p.String()+": "+msg+".")
	}
}

// storeURL is the store block as a store URL ("" for the host's default).
func (s *storeModel) storeURL() string {
	if s == nil {
		return ""
	}
	q := url.Values{}
	add := func(k string, v types.String) {
		if !v.IsNull() && v.ValueString() != "" {
			q.Set(k, v.ValueString())
		}
	}
	switch {
	case s.Local != nil:
		return "file://" + filepath.Clean(s.Local.Path.ValueString())
	case s.S3 != nil:
		add("region", s.S3.Region)
		add("endpoint", s.S3.Endpoint)
		add("prefix", s.S3.Prefix)
		if s.S3.PathStyle.ValueBool() {
			q.Set("path_style", "true")
		}
		return withQuery("s3://"+s.S3.Bucket.ValueString(), q)
	case s.GCS != nil:
		add("endpoint", s.GCS.Endpoint)
		add("prefix", s.GCS.Prefix)
		if s.GCS.Anonymous.ValueBool() {
			q.Set("anonymous", "true")
		}
		return withQuery("gs://"+s.GCS.Bucket.ValueString(), q)
	case s.Azure != nil:
		add("account", s.Azure.Account)
		add("endpoint", s.Azure.Endpoint)
		add("prefix", s.Azure.Prefix)
		return withQuery("azblob://"+s.Azure.Container.ValueString(), q)
	}
	return ""
}

func optBool(q url.Values, k string) types.Bool {
	if q.Get(k) == "true" {
		return types.BoolValue(true)
	}
	return types.BoolNull()
}

func withQuery(base string, q url.Values) string {
	if len(q) == 0 {
		return base
	}
	return base + "?" + q.Encode()
}

// storeFromURL is the inverse of storeURL, for import.
func storeFromURL(raw string) *storeModel {
	u, err := url.Parse(raw)
	if err != nil {
		return nil
	}
	q := u.Query()
	opt := func(k string) types.String {
		if v := q.Get(k); v != "" {
			return types.StringValue(v)
		}
		return types.StringNull()
	}
	switch u.Scheme {
	case "file":
		return &storeModel{Local: &localStoreModel{Path: types.StringValue(u.Path)}}
	case "s3":
		return &storeModel{S3: &s3StoreModel{Bucket: types.StringValue(u.Host), Region: opt("region"), Endpoint: opt("endpoint"),
			Prefix: opt("prefix"), PathStyle: optBool(q, "path_style")}}
	case "gs":
		return &storeModel{GCS: &gcsStoreModel{Bucket: types.StringValue(u.Host), Endpoint: opt("endpoint"), Prefix: opt("prefix"),
			Anonymous: optBool(q, "anonymous")}}
	case "azblob":
		return &storeModel{Azure: &azureStoreModel{Container: types.StringValue(u.Host), Account: opt("account"),
			Endpoint: opt("endpoint"), Prefix: opt("prefix")}}
	}
	return nil
}

// ModifyPlan checks a known registry URL at plan time and marks what an
// update will change as unknown, so plans stay honest.
func (r *serviceResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if req.Plan.Raw.IsNull() {
		return // destroy
	}
	var plan serviceModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	var state *serviceModel
	if !req.State.Raw.IsNull() {
		state = &serviceModel{}
		resp.Diagnostics.Append(req.State.Get(ctx, state)...)
	}
	if state == nil && plan.platform(ctx).cloud() != "" {
		// The create would derive the service's secret from the seed.
		if _, err := secretSeed(); err != nil {
			resp.Diagnostics.AddAttributeError(path.Root("platform"), "Weak secret seed", err.Error())
			return
		}
	}
	reg := plan.Registry
	if !reg.IsUnknown() && !reg.IsNull() && (state == nil || state.Registry.ValueString() != reg.ValueString()) && r.meta != nil {
		pctx, cancel := context.WithTimeout(ctx, RegistryProbeTimeout)
		defer cancel()
		if _, err := registry.Probe(pctx, r.meta.Call, reg.ValueString()); err != nil {
			resp.Diagnostics.AddAttributeError(path.Root("registry"), "Not a registry",
				"registry: "+errText(err)+". Give the URL of an Acquire registry service (e.g. acquire_service.<registry>.url).")
			return
		}
	}
	var defaultTags map[string]string
	if r.meta != nil {
		defaultTags = r.meta.DefaultTags
	}
	planTagsAll(ctx, &plan, defaultTags, resp)
	if state == nil {
		return
	}
	if !plan.Registry.Equal(state.Registry) {
		// Registering with another registry gives another UID.
		resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("uid"), types.StringUnknown())...)
	}
	if plan.Kind.ValueString() == "identity" && !plan.AdminUsername.Equal(state.AdminUsername) {
		for _, a := range []string{"admin_user_uid", "admin_identity_url"} {
			resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root(a), types.StringUnknown())...)
		}
	}
}

// privateSecretRef is the private-state key of where a cloud service's
// secret lives (the deployer's Deployment.SecretRef: an ARN, a Secret
// Manager or Key Vault name), never the secret: the provider reads the
// secret back through the deployer whenever it opens the service's store.
const privateSecretRef = "service_secret_ref"

// legacyPrivateSecret is where earlier versions kept the secret itself
// (base64 in the state file); every create, refresh and update removes it.
const legacyPrivateSecret = "service_secret"

// privateState is what a resource keeps privately (framework private state).
type privateState interface {
	SetKey(ctx context.Context, key string, value []byte) diag.Diagnostics
}

// keepSecretRef records where p's secret lives and drops any secret an
// earlier version kept (local platforms keep nothing).
func keepSecretRef(ctx context.Context, priv privateState, p platform) diag.Diagnostics {
	d := priv.SetKey(ctx, legacyPrivateSecret, nil)
	if c, ok := p.(*cloudPlatform); ok && c.secretRef != "" {
		b, _ := json.Marshal(map[string]string{"secret_ref": c.secretRef})
		d.Append(priv.SetKey(ctx, privateSecretRef, b)...)
	}
	return d
}

// platform is m's platform attribute decoded (nil when unset); its
// errors were reported by ValidateConfig.
func (m *serviceModel) platform(ctx context.Context) *platformModel {
	p, _ := parsePlatform(ctx, m.Platform)
	return p
}

// platformFor builds m's platform. For a cloud: secret is a new service's
// secret ("" for an existing one: it is read back through the deployer),
// prev the service as in state (nil on create).
func (r *serviceResource) platformFor(ctx context.Context, m *serviceModel, secret string, prev *host.Spec) (platform, error) {
	pm := m.platform(ctx)
	if pm.cloud() == "" {
		hostURL := ""
		if pm != nil && pm.Local != nil {
			hostURL = pm.Local.HostURL.ValueString()
		}
		return newLocalPlatform(r.meta, hostURL)
	}
	d, err := newDeployer(ctx, pm.Block)
	if err != nil {
		return nil, err
	}
	d = logDeployer(d, pm.cloud())
	c := call.NewClient(&call.MemoryPins{})
	var defaultTags map[string]string
	if r.meta != nil {
		c, defaultTags = r.meta.Call, r.meta.DefaultTags
	}
	f := pm.Block.function()
	hc := http.DefaultClient
	if r.meta != nil {
		hc = r.meta.HTTP
	}
	return &cloudPlatform{d: d, location: pm.Block.location(), artifact: f.Artifact.ValueString(), settings: pm.Block.settings(),
		function: functionSpec(f, defaultTags), http: hc, secret: secret, call: c, prev: prev}, nil
}

// prevSpec is the state as a spec, for cloud platforms (nil for local:
// the host keeps its own record).
func (r *serviceResource) prevSpec(ctx context.Context, state *serviceModel) *host.Spec {
	if state.platform(ctx).cloud() == "" {
		return nil
	}
	s, _ := r.spec(ctx, state, state, false)
	if s.Admin != nil && s.Kind == "identity" {
		// Computed for an identity service: carried over, not recomputed.
		s.Admin.IdentityURL, s.Admin.UserUID = state.AdminIdentityURL.ValueString(), state.AdminUserUID.ValueString()
	}
	return &s
}

// spec is the plan as a platform spec. The admin's password is read from
// the write-only attribute or the environment only when it is to be sent.
func (r *serviceResource) spec(ctx context.Context, plan, config *serviceModel, sendPassword bool) (host.Spec, diag.Diagnostics) {
	var d diag.Diagnostics
	s := host.Spec{Kind: plan.Kind.ValueString(), StoreURL: plan.Store.storeURL(), RegistryURL: plan.Registry.ValueString()}
	if !plan.Settings.IsNull() {
		s.Settings = map[string]string{}
		d.Append(plan.Settings.ElementsAs(ctx, &s.Settings, false)...)
	}
	var dd diag.Diagnostics
	s.Settings, dd = plan.withTrustLists(ctx, s.Settings)
	d.Append(dd...)
	switch {
	case !plan.AdminUsername.IsNull():
		s.Admin = &host.AdminSpec{Username: plan.AdminUsername.ValueString(), PasswordVersion: plan.AdminPasswordVersion.ValueString()}
		if sendPassword {
			pw, err := adminPassword(config)
			if err != nil {
				d.AddAttributeError(path.Root("admin_password_wo"), "No admin password", err.Error())
			}
			s.Admin.Password = pw
		}
	case plan.Kind.ValueString() != "identity" && !plan.AdminUserUID.IsNull() && !plan.AdminUserUID.IsUnknown():
		s.Admin = &host.AdminSpec{IdentityURL: plan.AdminIdentityURL.ValueString(), UserUID: plan.AdminUserUID.ValueString()}
	}
	return s, d
}

// adminPassword is the write-only value, else the named environment
// variable. The value never enters a diagnostic.
func adminPassword(config *serviceModel) (string, error) {
	if !config.AdminPasswordWO.IsNull() && config.AdminPasswordWO.ValueString() != "" {
		return config.AdminPasswordWO.ValueString(), nil
	}
	env := DefaultAdminPasswordEnv
	if !config.AdminPasswordEnv.IsNull() && config.AdminPasswordEnv.ValueString() != "" {
		env = config.AdminPasswordEnv.ValueString()
	}
	if pw := os.Getenv(env); pw != "" {
		return pw, nil
	}
	return "", fmt.Errorf("admin_password_wo: the admin's password is needed: set admin_password_wo (Terraform >= 1.11) "+
		"or the environment variable %s (admin_password_env)", env)
}

func (r *serviceResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var plan, config serviceModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.Config.Get(ctx, &config)...)
	if resp.Diagnostics.HasError() {
		return
	}
	spec, d := r.spec(ctx, &plan, &config, true)
	resp.Diagnostics.Append(d...)
	ctx, done := logOperation(ctx, "acquire_service", "create", []string{r.hostToken(), adminPasswordOf(spec)}, plan.logFields(ctx)...)
	defer func() { done(resp.Diagnostics) }()
	secret := ""
	if plan.platform(ctx).cloud() != "" {
		var err error
		if secret, err = newSecret(plan.Name.ValueString(), spec.StoreURL); err != nil {
			resp.Diagnostics.AddAttributeError(path.Root("platform"), "Weak secret seed", err.Error())
			return
		}
		ctx = maskSecrets(ctx, secret)
	}
	p, err := r.platformFor(ctx, &plan, secret, nil)
	if err != nil {
		resp.Diagnostics.AddAttributeError(path.Root("platform"), "No platform", err.Error())
	}
	if resp.Diagnostics.HasError() {
		return
	}
	defer p.close()
	limit, d := plan.Timeouts.Create(ctx, applyTimeout(p))
	resp.Diagnostics.Append(d...)
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	st, err := p.apply(ctx, plan.Name.ValueString(), spec)
	if err != nil {
		resp.Diagnostics.AddError("Deploying "+plan.Name.ValueString()+" failed", errText(err))
		return
	}
	tflog.Info(ctx, "service deployed", map[string]any{logURL: st.URL, "uid": st.UID, "admin_created": st.AdminCreated != nil})
	resp.Diagnostics.Append(keepEnrolment(&plan, st)...)
	resp.Diagnostics.Append(fromStatus(ctx, &plan, st)...)
	resp.Diagnostics.Append(keepTagsAll(ctx, &plan, p)...)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
	resp.Diagnostics.Append(setIdentity(ctx, resp.Identity, plan.identity(ctx)...)...)
	resp.Diagnostics.Append(keepSecretRef(ctx, resp.Private, p)...)
}

// keepEnrolment writes a created admin's enrolment to the configured
// file; it never enters the model. A failure is an error, not a warning:
// the enrolment cannot be asked for again.
func keepEnrolment(m *serviceModel, st *host.Status) diag.Diagnostics {
	var d diag.Diagnostics
	if st.AdminCreated == nil {
		return d
	}
	if m.AdminEnrolmentFile.IsNull() || m.AdminEnrolmentFile.ValueString() == "" {
		d.AddAttributeError(path.Root("admin_enrolment_file"), "Admin enrolment not kept",
			"the admin was created but admin_enrolment_file is not set: its authenticator URI is lost; recover the account "+
				"with the identity service's admin tools")
		return d
	}
	if err := writeEnrolment(m.AdminEnrolmentFile.ValueString(), m.AdminUsername.ValueString(), st.AdminCreated); err != nil {
		d.AddAttributeError(path.Root("admin_enrolment_file"), "Admin enrolment not written", err.Error())
	}
	return d
}

// fromStatus copies what the platform reports into the model.
func fromStatus(ctx context.Context, m *serviceModel, st *host.Status) diag.Diagnostics {
	var d diag.Diagnostics
	m.ID, m.Name, m.Kind = types.StringValue(st.Name), types.StringValue(st.Name), types.StringValue(st.Kind)
	m.URL, m.UID = types.StringValue(st.URL), types.StringValue(st.UID)
	m.KeyFingerprint, m.CertFingerprint = types.StringValue(st.KeyFingerprint), types.StringValue(st.CertFingerprint)
	m.StoreURL = types.StringValue(cmp.Or(st.DataStoreURL, st.StoreURL))
	if st.StoreDefault {
		m.Store = nil
	} else if m.Store == nil || m.Store.storeURL() != st.StoreURL {
		m.Store = storeFromURL(st.StoreURL)
	}
	m.Registry = nullIfEmpty(st.RegistryURL)
	settings, dd := m.splitTrustLists(ctx, st.Settings)
	d.Append(dd...)
	if len(settings) > 0 || !m.Settings.IsNull() {
		v, dd := types.MapValueFrom(ctx, types.StringType, settings)
		d.Append(dd...)
		m.Settings = v
	}
	if m.DeleteData.IsNull() || m.DeleteData.IsUnknown() {
		m.DeleteData = types.BoolValue(false)
	}
	m.AdminIdentityURL, m.AdminUserUID = types.StringNull(), types.StringNull()
	if a := st.Admin; a != nil {
		m.AdminIdentityURL, m.AdminUserUID = nullIfEmpty(a.IdentityURL), nullIfEmpty(a.UserUID)
		m.AdminUsername, m.AdminPasswordVersion = nullIfEmpty(a.Username), nullIfEmpty(a.PasswordVersion)
	} else {
		m.AdminUsername, m.AdminPasswordVersion = types.StringNull(), types.StringNull()
	}
	m.AdminPasswordWO = types.StringNull() // write-only: never in state
	return d
}

func nullIfEmpty(s string) types.String {
	if s == "" {
		return types.StringNull()
	}
	return types.StringValue(s)
}

func (r *serviceResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var state serviceModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	// Identity first: the framework wants one even from a Read that removes the resource.
	resp.Diagnostics.Append(setIdentity(ctx, resp.Identity, state.identity(ctx)...)...)
	ctx, done := logOperation(ctx, "acquire_service", "read", []string{r.hostToken()}, state.logFields(ctx)...)
	defer func() { done(resp.Diagnostics) }()
	p, err := r.platformFor(ctx, &state, "", r.prevSpec(ctx, &state))
	if err != nil {
		resp.Diagnostics.AddError("No platform", err.Error())
		return
	}
	defer p.close()
	limit, d := state.Timeouts.Read(ctx, applyTimeout(p))
	resp.Diagnostics.Append(d...)
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	name := state.ID.ValueString()
	if name == "" {
		name = state.Name.ValueString()
	}
	st, err := p.read(ctx, name)
	if errors.Is(err, errGone) {
		resp.State.RemoveResource(ctx) // deleted out of band: the plan re-creates it
		return
	}
	if err != nil {
		resp.Diagnostics.AddError("Reading "+name+" failed", errText(err))
		return
	}
	resp.Diagnostics.Append(fromStatus(ctx, &state, st)...)
	if r.meta != nil {
		resp.Diagnostics.Append(restoreImported(ctx, &state, p, r.meta.DefaultTags)...)
	}
	resp.Diagnostics.Append(keepTagsAll(ctx, &state, p)...)
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
	resp.Diagnostics.Append(setIdentity(ctx, resp.Identity, state.identity(ctx)...)...)
	resp.Diagnostics.Append(keepSecretRef(ctx, resp.Private, p)...)
}

func (r *serviceResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var plan, config, state serviceModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.Config.Get(ctx, &config)...)
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	rotate := !plan.AdminUsername.Equal(state.AdminUsername) || !plan.AdminPasswordVersion.Equal(state.AdminPasswordVersion)
	spec, d := r.spec(ctx, &plan, &config, rotate && !plan.AdminUsername.IsNull())
	resp.Diagnostics.Append(d...)
	ctx, done := logOperation(ctx, "acquire_service", "update", []string{r.hostToken(), adminPasswordOf(spec)}, plan.logFields(ctx)...)
	defer func() { done(resp.Diagnostics) }()
	p, err := r.platformFor(ctx, &plan, "", r.prevSpec(ctx, &state))
	if err != nil {
		resp.Diagnostics.AddError("No platform", err.Error())
	}
	if resp.Diagnostics.HasError() {
		return
	}
	defer p.close()
	limit, dd := plan.Timeouts.Update(ctx, applyTimeout(p))
	resp.Diagnostics.Append(dd...)
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	st, err := p.apply(ctx, plan.Name.ValueString(), spec)
	if err != nil {
		resp.Diagnostics.AddError("Updating "+plan.Name.ValueString()+" failed", errText(err))
		return
	}
	tflog.Info(ctx, "service updated", map[string]any{logURL: st.URL, "uid": st.UID, "admin_created": st.AdminCreated != nil})
	resp.Diagnostics.Append(keepEnrolment(&plan, st)...)
	resp.Diagnostics.Append(fromStatus(ctx, &plan, st)...)
	resp.Diagnostics.Append(keepTagsAll(ctx, &plan, p)...)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
	resp.Diagnostics.Append(setIdentity(ctx, resp.Identity, plan.identity(ctx)...)...)
	resp.Diagnostics.Append(keepSecretRef(ctx, resp.Private, p)...)
}

func (r *serviceResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var state serviceModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	ctx, done := logOperation(ctx, "acquire_service", "delete", []string{r.hostToken()},
		append(state.logFields(ctx), "delete_data", state.DeleteData.ValueBool())...)
	defer func() { done(resp.Diagnostics) }()
	p, err := r.platformFor(ctx, &state, "", r.prevSpec(ctx, &state))
	if err != nil {
		resp.Diagnostics.AddError("No platform", err.Error())
		return
	}
	defer p.close()
	limit, d := state.Timeouts.Delete(ctx, applyTimeout(p))
	resp.Diagnostics.Append(d...)
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	if err := p.remove(ctx, state.ID.ValueString(), state.DeleteData.ValueBool()); err != nil {
		resp.Diagnostics.AddError("Removing "+state.ID.ValueString()+" failed", errText(err))
	}
}

// ImportState takes the deployment's name on the provider's host, or a
// cloud service's "<platform>/<where>/<name>" (platformKind.ImportKeys:
// aws/<region>/<name>, gcp/<project>/<region>/<name>,
// azure/<subscription>/<resource group>/<name>): its secret is read back
// from the platform's secret store, so nothing but the ID is needed.
func (r *serviceResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	ctx, done := logOperation(ctx, "acquire_service", "import", nil, "import_id", req.ID, "by_identity", req.ID == "")
	defer func() { done(resp.Diagnostics) }()
	if id, byIdentity, d := serviceImportID(ctx, req); byIdentity || d.HasError() {
		resp.Diagnostics.Append(d...)
		if d.HasError() {
			return
		}
		req.ID = id
	}
	parts := strings.Split(req.ID, "/")
	name := parts[len(parts)-1]
	if !serviceNamePattern.MatchString(name) {
		resp.Diagnostics.AddError("Invalid import ID", fmt.Sprintf("import ID %q must be the deployment's name on the provider's host, "+
			"or <platform>/<where>/<name> for a cloud service (e.g. aws/eu-west-2/identity)", req.ID))
		return
	}
	if len(parts) > 1 {
		k, ok := platformKinds[parts[0]]
		values, err := importValues(k, parts[1:len(parts)-1])
		if !ok || err != nil {
			want := "one of " + strings.Join(platformNames(), ", ")
			if ok {
				want = k.Name + "/" + strings.Join(k.ImportKeys, "/") + "/<name>: " + err.Error()
			}
			resp.Diagnostics.AddError("Invalid import ID", fmt.Sprintf("import ID %q: a cloud service is imported by %s", req.ID, want))
			return
		}
		p, d := importedPlatform(ctx, k, values)
		resp.Diagnostics.Append(d...)
		resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("platform"), p)...)
	}
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("id"), name)...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("name"), name)...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("delete_data"), false)...)
}

// applyTimeout is an operation's default limit on p.
func applyTimeout(p platform) time.Duration {
	if _, cloud := p.(*cloudPlatform); cloud {
		return CloudApplyTimeout
	}
	return ServiceApplyTimeout
}

// errText is an error for a diagnostic: a typed Acquire error's message
// (never a secret: none is put in one).
func errText(err error) string {
	return err.Error()
}

// oneOfValidator refuses a string outside a set, listing the set.
type oneOfValidator struct{ values []string }

func (v oneOfValidator) Description(context.Context) string {
	return "one of " + strings.Join(v.values, ", ")
}

func (v oneOfValidator) MarkdownDescription(ctx context.Context) string { return v.Description(ctx) }

func (v oneOfValidator) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() || slices.Contains(v.values, req.ConfigValue.ValueString()) {
		return
	}
	resp.Diagnostics.AddAttributeError(req.Path, "Unknown value",
		fmt.Sprintf("%s: %q is not one of %s.", req.Path, req.ConfigValue.ValueString(), strings.Join(v.values, ", ")))
}

// patternValidator refuses a string not matching a pattern.
type patternValidator struct {
	re   *regexp.Regexp
	what string
}

func (v patternValidator) Description(context.Context) string { return v.what }

func (v patternValidator) MarkdownDescription(ctx context.Context) string { return v.Description(ctx) }

func (v patternValidator) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() || v.re.MatchString(req.ConfigValue.ValueString()) {
		return
	}
	resp.Diagnostics.AddAttributeError(req.Path, "Invalid value",
		fmt.Sprintf("%s: %q must be %s.", req.Path, req.ConfigValue.ValueString(), v.what))
}
