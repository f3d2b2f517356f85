package provider

import (
	"context"
	"fmt"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/openacquire/acquire/adapters/deployer"
	gcpdeploy "github.com/openacquire/acquire/adapters/gcp/deploy"
)

// platform = { gcp = {...} }: Google Cloud Run (adapters/gcp/deploy), its
// state on store.gcs.

type gcpPlatformModel struct {
	functionModel
	Project        types.String `tfsdk:"project"`
	Region         types.String `tfsdk:"region"`
	Repository     types.String `tfsdk:"repository"`
	ServiceAccount types.String `tfsdk:"service_account"`
}

func init() {
	setting := func(key string) validator.String { return deployerSetting{gcpdeploy.CheckSetting, key} }
	registerPlatform(platformKind{
		Name: "gcp", Stores: []string{"gcs"},
		Description: "Google Cloud Run (adapters/gcp/deploy); the state on store.gcs.",
		Attributes: map[string]schema.Attribute{
			"project": schema.StringAttribute{Required: true, Description: "GCP project id.", Validators: []validator.String{setting(gcpdeploy.SettingProject)}},
			"region":  schema.StringAttribute{Required: true, Description: "GCP region, e.g. europe-west2.", Validators: []validator.String{setting("region")}},
			"repository": schema.StringAttribute{Required: true, Description: "Artifact Registry docker repository (in project and region; must " +
				"exist) the image is pushed to.", Validators: []validator.String{setting(gcpdeploy.SettingRepository)}},
			"service_account": schema.StringAttribute{Required: true, Description: "Email of the service account the service runs as (must " +
				"exist; bring your own). The deployer grants it exactly the service's bucket and secret.",
				Validators: []validator.String{setting(gcpdeploy.SettingServiceAccount)}},
		},
		Replace: []string{"project", "region"}, ImportKeys: []string{"project", "region"},
		Limits: functionLimits{MemoryMB: [2]int64{128, 32768}, TimeoutS: [2]int64{1, 3600}, MaxInstances: [2]int64{1, 1000},
			LogRetentionDays: [2]int64{1, gcpdeploy.MaxLogRetentionDays}, Tag: gcpdeploy.CheckLabel},
		Decode: decodeAs[gcpPlatformModel],
	})
}

func (m *gcpPlatformModel) validate(_ path.Path, store *storeModel, d *diag.Diagnostics) {
	if store == nil || store.GCS == nil {
		return
	}
	refuseStoreOverrides(path.Root("store").AtName("gcs"), d, map[string]bool{"endpoint": !store.GCS.Endpoint.IsNull(),
		"prefix": !store.GCS.Prefix.IsNull(), "anonymous": !store.GCS.Anonymous.IsNull()})
}

func (m *gcpPlatformModel) location() string { return m.Region.ValueString() }

func (m *gcpPlatformModel) settings() map[string]string {
	return map[string]string{gcpdeploy.SettingRepository: m.Repository.ValueString(), gcpdeploy.SettingServiceAccount: m.ServiceAccount.ValueString()}
}

func (m *gcpPlatformModel) newDeployer(ctx context.Context) (deployer.Deployer, error) {
	return gcpdeploy.New(ctx, gcpdeploy.Config{Project: m.Project.ValueString(), Region: m.Region.ValueString()})
}

// deployerSetting checks a value with its deployer's own rule, so plan and
// apply agree.
type deployerSetting struct {
	check func(key, value string) error
	key   string
}

func (v deployerSetting) Description(context.Context) string { return "a valid " + v.key }

func (v deployerSetting) MarkdownDescription(ctx context.Context) string { return v.Description(ctx) }

func (v deployerSetting) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	if err := v.check(v.key, req.ConfigValue.ValueString()); err != nil {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid value", fmt.Sprintf("%s: %v.", req.Path, err))
	}
}
