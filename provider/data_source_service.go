package provider

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-validators/datasourcevalidator"
	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/openacquire/acquire/runtime/call"
	"github.com/openacquire/acquire/runtime/registry"
)

// LookupTimeout bounds one data source read (the registry fetches the
// service's keys from the service itself).
const LookupTimeout = 60 * time.Second

var (
	_ datasource.DataSourceWithConfigure        = (*serviceDataSource)(nil)
	_ datasource.DataSourceWithConfigValidators = (*serviceDataSource)(nil)
)

// serviceDataSource looks a registered service up by URL or UID through a
// registry: for services this configuration does not manage (another
// team's accounting service, a federated registry's identity service).
type serviceDataSource struct{ meta *Meta }

// NewServiceDataSource constructs data "acquire_service".
func NewServiceDataSource() datasource.DataSource { return &serviceDataSource{} }

type serviceDataModel struct {
	Registry        types.String `tfsdk:"registry"`
	URL             types.String `tfsdk:"url"`
	UID             types.String `tfsdk:"uid"`
	Kind            types.String `tfsdk:"kind"`
	Generation      types.Int64  `tfsdk:"key_generation"`
	PublicKey       types.String `tfsdk:"public_key"`
	Certificate     types.String `tfsdk:"certificate"`
	KeyFingerprint  types.String `tfsdk:"key_fingerprint"`
	CertFingerprint types.String `tfsdk:"cert_fingerprint"`
	Registered      types.String `tfsdk:"registered"`
}

func (d *serviceDataSource) Metadata(_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_service"
}

func (d *serviceDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	computed := func(desc string) schema.StringAttribute {
		return schema.StringAttribute{Computed: true, Description: desc}
	}
	resp.Schema = schema.Schema{
		Description: "Looks up a service registered with an Acquire registry, by URL or by UID, with its current " +
			"public keys as the registry checked them (they descend from the keys the service registered with).",
		Attributes: map[string]schema.Attribute{
			"registry": schema.StringAttribute{
				Required:    true,
				Description: "URL of the registry service to ask (e.g. `acquire_service.registry.url`). It must be a registry.",
				Validators:  []validatorString{httpURL()},
			},
			"url": schema.StringAttribute{
				Optional: true, Computed: true,
				Description: "URL of the service to look up. Exactly one of `url` and `uid` is given; the other is read.",
				Validators:  []validatorString{httpURL()},
			},
			"uid": schema.StringAttribute{
				Optional: true, Computed: true,
				Description: "UID the registry gave the service. Exactly one of `url` and `uid` is given; the other is read.",
			},
			"kind":             computed("Service kind: registry, identity, access, accounting, storage or compute."),
			"key_generation":   schema.Int64Attribute{Computed: true, Description: "Generation of the service's newest keys (rotation raises it)."},
			"public_key":       computed("The service's newest encryption public key (PEM): requests are encrypted to it."),
			"certificate":      computed("The service's newest certificate public key (PEM): it signs the service's replies."),
			"key_fingerprint":  computed("Fingerprint of `public_key` (see `provider::acquire::fingerprint`)."),
			"cert_fingerprint": computed("Fingerprint of `certificate`; clients pin it."),
			"registered":       computed("When the service registered (RFC 3339, UTC)."),
		},
	}
}

func (d *serviceDataSource) ConfigValidators(context.Context) []datasource.ConfigValidator {
	return []datasource.ConfigValidator{
		datasourcevalidator.ExactlyOneOf(path.MatchRoot("url"), path.MatchRoot("uid")),
	}
}

func (d *serviceDataSource) Configure(_ context.Context, req datasource.ConfigureRequest, resp *datasource.ConfigureResponse) {
	m, msg := metaFrom(req.ProviderData)
	if msg != "" {
		resp.Diagnostics.AddError("Provider not configured", msg)
	}
	d.meta = m
}

func (d *serviceDataSource) Read(ctx context.Context, req datasource.ReadRequest, resp *datasource.ReadResponse) {
	var m serviceDataModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() || d.meta == nil {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, LookupTimeout)
	defer cancel()
	regURL := m.Registry.ValueString()
	if attr, summary, detail := checkRegistry(ctx, d.meta.Call, regURL); summary != "" {
		resp.Diagnostics.AddAttributeError(path.Root(attr), summary, detail)
		return
	}
	rc := &registry.Client{C: d.meta.Call, URL: regURL}
	entry, err := rc.Lookup(ctx, registry.LookupArgs{UID: m.UID.ValueString(), URL: m.URL.ValueString()})
	if err != nil {
		attr := "url"
		if !m.UID.IsNull() {
			attr = "uid"
		}
		summary := "Lookup failed"
		if errors.Is(err, call.ErrNotFound) {
			summary = "Service not registered"
		}
		resp.Diagnostics.AddAttributeError(path.Root(attr), summary,
			fmt.Sprintf("registry %s answered: %s", regURL, err))
		return
	}
	newest, msg := newestGeneration(entry.Keys)
	if msg != "" {
		resp.Diagnostics.AddError("Registry answer unusable", msg)
		return
	}
	m.UID, m.URL, m.Kind = types.StringValue(entry.UID), types.StringValue(entry.URL), types.StringValue(entry.Kind)
	m.Generation = types.Int64Value(newest.Generation)
	m.PublicKey, m.Certificate = types.StringValue(newest.KeyPublic), types.StringValue(newest.CertPublic)
	m.KeyFingerprint, m.CertFingerprint = types.StringValue(newest.KeyFingerprint), types.StringValue(newest.CertFingerprint)
	m.Registered = types.StringValue(entry.Registered.UTC().Format(time.RFC3339))
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}

// checkRegistry proves the URL serves a registry: it fetches the service's
// public keys (which name its kind) before anything else is asked of it.
// It answers the attribute to blame and a diagnostic, or "" when all is well.
func checkRegistry(ctx context.Context, c *call.Client, u string) (attr, summary, detail string) {
	keys, err := c.ServiceKeys(ctx, u)
	if err != nil {
		return "registry", "Registry unreachable", fmt.Sprintf("cannot fetch the keys of %s: %s", u, err)
	}
	if keys.Kind != registry.Kind {
		return "registry", "Not a registry", fmt.Sprintf("%s is a %q service, not a registry", u, keys.Kind)
	}
	return "", "", ""
}

// newestGeneration picks the newest generation the registry returned; the
// registry has already checked the chain from the pinned certificate, and
// the reply is signed by the registry, so this only re-checks its shape.
func newestGeneration(pk *call.PublicKeys) (*call.PublicGeneration, string) {
	if pk == nil || len(pk.Generations) == 0 {
		return nil, "the registry returned no keys for the service"
	}
	if _, err := pk.Verify(""); err != nil {
		return nil, "the service's keys do not form an endorsed chain: " + err.Error()
	}
	newest := &pk.Generations[0]
	for i := range pk.Generations {
		if pk.Generations[i].Generation > newest.Generation {
			newest = &pk.Generations[i]
		}
	}
	return newest, ""
}
