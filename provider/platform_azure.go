package provider

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"

	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	azuredeploy "github.com/openacquire/acquire/adapters/azure/deploy"
	"github.com/openacquire/acquire/adapters/deployer"
)

// platform { azure {...} }: Azure Functions on a Flex Consumption plan
// (adapters/azure/deploy), its state on store.azure in storage_account.
// memory_mb, timeout_s, max_instances, log_retention_days and
// http_concurrency map to Flex's own settings and a Log Analytics
// workspace's retention; each is checked at plan by the deployer's rules.

type azurePlatformModel struct {
	functionModel
	Subscription    types.String `tfsdk:"subscription"`
	ResourceGroup   types.String `tfsdk:"resource_group"`
	Location        types.String `tfsdk:"location"`
	StorageAccount  types.String `tfsdk:"storage_account"`
	KeyVault        types.String `tfsdk:"key_vault"`
	HTTPConcurrency types.Int64  `tfsdk:"http_concurrency"`
}

func init() {
	setting := func(key string) validator.String { return deployerSetting{azuredeploy.CheckSetting, key} }
	registerPlatform(platformKind{
		Name: "azure", Stores: []string{"azure"},
		Description: "Azure Functions on a Flex Consumption plan (adapters/azure/deploy); the state on store.azure, a container of " +
			"storage_account. memory_mb is an instance size (512, 2048 or 4096), log_retention_days the Log Analytics workspace's retention.",
		Attributes: map[string]schema.Attribute{
			"subscription":   schema.StringAttribute{Required: true, Description: "Subscription id.", Validators: []validator.String{setting("subscription")}},
			"resource_group": schema.StringAttribute{Required: true, Description: "Resource group (must exist, and hold the storage account and the Key Vault).", Validators: []validator.String{setting("resourceGroup")}},
			"location":       schema.StringAttribute{Required: true, Description: "Azure location with Flex Consumption, e.g. uksouth.", Validators: []validator.String{setting("location")}},
			"storage_account": schema.StringAttribute{Required: true, Description: "Storage account (must exist) holding the store's container, " +
				"the service's deployment container and the Functions host's containers; the function is granted those containers only. " +
				"store.azure.account, when given, must be the same.", Validators: []validator.String{setting(azuredeploy.SettingStorageAccount)}},
			"key_vault": schema.StringAttribute{Required: true, Description: "Key Vault (must exist, in the Azure RBAC permission model) the " +
				"service secret is kept in; the function is granted Key Vault Secrets User on that one secret. The deployer's identity needs " +
				"Key Vault Secrets Officer on the vault.", Validators: []validator.String{setting(azuredeploy.SettingKeyVault)}},
			"http_concurrency": schema.Int64Attribute{Optional: true, Description: fmt.Sprintf("Most concurrent HTTP calls one instance takes "+
				"(Flex Consumption's per-instance HTTP trigger concurrency), %d to %d. Default: the platform's, by memory size.",
				azuredeploy.HTTPConcurrencyRange[0], azuredeploy.HTTPConcurrencyRange[1])},
		},
		Replace: []string{"subscription", "resource_group", "location", "storage_account", "key_vault"}, ImportKeys: []string{"subscription", "resource_group"},
		Limits: functionLimits{
			MemoryMB:         [2]int64{azuredeploy.MemorySizesMB[0], azuredeploy.MemorySizesMB[len(azuredeploy.MemorySizesMB)-1]},
			TimeoutS:         azuredeploy.TimeoutRangeS,
			MaxInstances:     azuredeploy.MaxInstancesRange,
			LogRetentionDays: azuredeploy.LogRetentionRangeDays,
			Tag: func(k, v string) error {
				var se *azuredeploy.SpecError
				if err := azuredeploy.CheckTag(k, v); errors.As(err, &se) {
					return errors.New(se.Reason)
				}
				return nil
			},
		},
		Decode: decodeAs[azurePlatformModel],
	})
}

func (m *azurePlatformModel) validate(at path.Path, store *storeModel, d *diag.Diagnostics) {
	if mem := m.MemoryMB; !mem.IsNull() && !mem.IsUnknown() && !slices.Contains(azuredeploy.MemorySizesMB, mem.ValueInt64()) {
		d.AddAttributeError(at.AtName("memory_mb"), "Not a Flex Consumption size",
			fmt.Sprintf("%s: %d is not a Flex Consumption instance size (512, 2048 or 4096).", at.AtName("memory_mb"), mem.ValueInt64()))
	}
	if tags := m.Tags; !tags.IsNull() && !tags.IsUnknown() && len(tags.Elements()) > azuredeploy.MaxTags {
		d.AddAttributeError(at.AtName("tags"), "Too many tags", fmt.Sprintf("%s: at most %d on azure, with the provider's default_tags "+
			"(ARM takes 50 on a resource; the deployer adds its own).", at.AtName("tags"), azuredeploy.MaxTags))
	}
	if c := m.HTTPConcurrency; !c.IsNull() && !c.IsUnknown() {
		if err := azuredeploy.CheckSetting(azuredeploy.SettingHTTPConcurrency, strconv.FormatInt(c.ValueInt64(), 10)); err != nil {
			d.AddAttributeError(at.AtName("http_concurrency"), "Out of range", fmt.Sprintf("%s: %v.", at.AtName("http_concurrency"), err))
		}
	}
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
	s := map[string]string{azuredeploy.SettingStorageAccount: m.StorageAccount.ValueString(), azuredeploy.SettingKeyVault: m.KeyVault.ValueString()}
	if !m.HTTPConcurrency.IsNull() && !m.HTTPConcurrency.IsUnknown() {
		s[azuredeploy.SettingHTTPConcurrency] = strconv.FormatInt(m.HTTPConcurrency.ValueInt64(), 10)
	}
	return s
}

func (m *azurePlatformModel) newDeployer(context.Context) (deployer.Deployer, error) {
	cred, err := azidentity.NewDefaultAzureCredential(nil)
	if err != nil {
		return nil, err
	}
	return azuredeploy.New(azuredeploy.Options{Subscription: m.Subscription.ValueString(),
		ResourceGroup: m.ResourceGroup.ValueString(), Credential: cred})
}
