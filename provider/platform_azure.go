package provider

import (
	"context"
	"fmt"

	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	azuredeploy "github.com/openacquire/acquire/adapters/azure/deploy"
	"github.com/openacquire/acquire/adapters/deployer"
)

// platform { azure {...} }: Azure Functions (adapters/azure/deploy), its
// state on store.azure in storage_account. The deployer still runs the app
// on a Linux Consumption (Y1) plan with a Key Vault access policy; Flex
// Consumption and RBAC role assignments are not built yet (see
// docs/design/provider.md), so the function attributes it would take
// there (memory, timeout, instances, log retention) are refused at plan
// rather than silently ignored.

type azurePlatformModel struct {
	functionModel
	Subscription   types.String `tfsdk:"subscription"`
	ResourceGroup  types.String `tfsdk:"resource_group"`
	Location       types.String `tfsdk:"location"`
	StorageAccount types.String `tfsdk:"storage_account"`
	KeyVault       types.String `tfsdk:"key_vault"`
}

func init() {
	setting := func(key string) validator.String { return deployerSetting{azuredeploy.CheckSetting, key} }
	registerPlatform(platformKind{
		Name: "azure", Stores: []string{"azure"},
		Description: "Azure Functions, Linux Consumption plan (adapters/azure/deploy); the state on store.azure, a container of storage_account. " +
			"memory_mb, timeout_s, max_instances and log_retention_days are not supported on it yet.",
		Attributes: map[string]schema.Attribute{
			"subscription":   schema.StringAttribute{Required: true, Description: "Subscription id.", Validators: []validator.String{setting("subscription")}},
			"resource_group": schema.StringAttribute{Required: true, Description: "Resource group (must exist).", Validators: []validator.String{setting("resourceGroup")}},
			"location":       schema.StringAttribute{Required: true, Description: "Azure location, e.g. uksouth.", Validators: []validator.String{setting("location")}},
			"storage_account": schema.StringAttribute{Required: true, Description: "Storage account (must exist) holding the store's container " +
				"and the deployment package; store.azure.account, when given, must be the same.", Validators: []validator.String{setting(azuredeploy.SettingStorageAccount)}},
			"key_vault": schema.StringAttribute{Required: true, Description: "Key Vault (must exist; access-policy permission model, as " +
				"the deployer adds an access policy for the function's identity) the service secret is kept in.",
				Validators: []validator.String{setting(azuredeploy.SettingKeyVault)}},
		},
		Replace: []string{"subscription", "resource_group", "location", "storage_account", "key_vault"}, ImportKeys: []string{"subscription", "resource_group"},
		Limits: functionLimits{},
		Decode: decodeAs[azurePlatformModel],
	})
}

func (m *azurePlatformModel) validate(at path.Path, store *storeModel, d *diag.Diagnostics) {
	if store == nil || store.Azure == nil {
		return
	}
	acct := store.Azure.Account
	if !acct.IsNull() && !acct.IsUnknown() && !m.StorageAccount.IsUnknown() && acct.ValueString() != m.StorageAccount.ValueString() {
		d.AddAttributeError(path.Root("store").AtName("azure").AtName("account"), "Store in another account",
			fmt.Sprintf("store.azure.account: %q differs from %s %q; the container is made in that account.",
				acct.ValueString(), at.AtName("storage_account"), m.StorageAccount.ValueString()))
	}
	refuseStoreOverrides(path.Root("store").AtName("azure"), d, map[string]bool{"endpoint": !store.Azure.Endpoint.IsNull(),
		"prefix": !store.Azure.Prefix.IsNull()})
}

func (m *azurePlatformModel) location() string { return m.Location.ValueString() }

func (m *azurePlatformModel) settings() map[string]string {
	return map[string]string{azuredeploy.SettingStorageAccount: m.StorageAccount.ValueString(), azuredeploy.SettingKeyVault: m.KeyVault.ValueString()}
}

func (m *azurePlatformModel) newDeployer(context.Context) (deployer.Deployer, error) {
	cred, err := azidentity.NewDefaultAzureCredential(nil)
	if err != nil {
		return nil, err
	}
	return azuredeploy.New(azuredeploy.Options{Subscription: m.Subscription.ValueString(),
		ResourceGroup: m.ResourceGroup.ValueString(), Credential: cred})
}
