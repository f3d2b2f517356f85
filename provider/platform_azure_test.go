package provider

import (
	"context"
	"fmt"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/terraform"

	azuredeploy "github.com/openacquire/acquire/adapters/azure/deploy"
	"github.com/openacquire/acquire/adapters/deployer"
)

// TestAccAzureFlexSettingsReachTheDeployer: the azure block's Flex
// Consumption sizing, HTTP concurrency, log retention and tags (the
// provider's default_tags under the block's) reach the deployer's Spec as
// the Azure deployer reads them, and the Spec passes the deployer's own
// checks (azuredeploy.CheckFunction, CheckSetting). The deployer is the
// fake cloud of TestAccServiceOnCloudPlatform; the Azure deployer's calls
// are tested in adapters/azure/deploy.
func TestAccAzureFlexSettingsReachTheDeployer(t *testing.T) {
	forEachEngine(t, func(t *testing.T) {
		t.Setenv(EnvSecretSeed, "")
		fake := newFakeDeployer(t, nil)
		saved := newDeployer
		newDeployer = func(context.Context, cloudBlock) (deployer.Deployer, error) { return fake, nil }
		t.Cleanup(func() { newDeployer = saved })
		artifact := testArtifact(t, "azure-functions-amd64.zip")
		config := providerBlock("") + fmt.Sprintf(`
provider "acquire" {
  default_tags = { owner = "platform", team = "overridden" }
}

resource "acquire_service" "reg" {
  name = "flexreg"
  kind = "registry"
  platform {
    azure {
      subscription       = "00000000-0000-0000-0000-000000000000"
      resource_group     = "acquire"
      location           = "uksouth"
      storage_account    = "acquiredemo"
      key_vault          = "acquire-kv"
      artifact           = %q
      memory_mb          = 4096
      timeout_s          = 120
      max_instances      = 40
      log_retention_days = 90
      http_concurrency   = 16
      tags               = { team = "ledger" }
    }
  }
  store = { azure = { container = "flexreg-store" } }
}
`, artifact)
		resource.Test(t, resource.TestCase{
			ProtoV6ProviderFactories: testAccProviders,
			Steps: scanEveryApply([]resource.TestStep{{
				Config: config,
				Check: func(*terraform.State) error {
					fake.mu.Lock()
					defer fake.mu.Unlock()
					if len(fake.specs) == 0 {
						return fmt.Errorf("no spec reached the deployer")
					}
					for _, s := range fake.specs {
						f := s.Function
						if f.MemoryMB != 4096 || f.TimeoutS != 120 || f.MaxInstances != 40 || f.LogRetentionDays != 90 ||
							f.Tags["team"] != "ledger" || f.Tags["owner"] != "platform" ||
							s.Settings[azuredeploy.SettingHTTPConcurrency] != "16" || s.Settings[azuredeploy.SettingKeyVault] != "acquire-kv" ||
							s.Location != "uksouth" || s.Bucket != "flexreg-store" {
							return fmt.Errorf("spec %+v", s)
						}
						if err := azuredeploy.CheckFunction(f); err != nil {
							return err
						}
					}
					return nil
				},
			}}, checkNoSecretsInState(fake.secretValues)),
		})
	})
}
