package provider

import (
	"context"
	"fmt"
	"maps"
	"regexp"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"

	"github.com/openacquire/acquire/adapters/deployer"
)

func taggedConfig(platform, defaultTags, tags string) string {
	return providerBlock("") + fmt.Sprintf(`
provider "acquire" {
  default_tags = %s
}

resource "acquire_service" "reg" {
  name = "tagged"
  kind = "registry"
  platform {
    %s
  }
}
`, defaultTags, fmt.Sprintf(platform, tags))
}

// TestAccTagsUpdateInPlaceAndShowDrift (issue 20): on aws and on azure,
// a change of the provider's default_tags alone is a planned in-place
// update that reaches the deployer; a tag changed on the cloud out of
// band is drift (the plan updates) and the apply puts the configured tags
// back; default_tags a platform would refuse (GCP labels, the Azure
// deployer's own tag keys, the acquire-service tag) fail the plan naming
// the key. The deployer is the fake cloud; each real deployer's
// TagReader is tested at its SDK boundary (adapters/*/deploy).
func TestAccTagsUpdateInPlaceAndShowDrift(t *testing.T) {
	forEachEngine(t, func(t *testing.T) {
		t.Setenv(EnvSecretSeed, "")
		fake := newFakeDeployer(t, nil)
		saved := newDeployer
		newDeployer = func(context.Context, cloudBlock) (deployer.Deployer, error) { return fake, nil }
		t.Cleanup(func() { newDeployer = saved })
		zip := testArtifact(t, "aws-lambda-arm64.zip")
		img := testArtifact(t, "gcp-run-amd64.tar")
		azzip := testArtifact(t, "azure-functions-amd64.zip")
		aws := `aws {
      region   = "eu-west-2"
      artifact = "` + zip + `"
      tags     = %s
    }
  }
  store = { s3 = { bucket = "tagged-bucket" }`
		gcp := `gcp {
      project         = "my-project"
      region          = "europe-west2"
      repository      = "acquire"
      service_account = "fn@my-project.iam.gserviceaccount.com"
      artifact        = "` + img + `"
      tags            = %s
    }
  }
  store = { gcs = { bucket = "tagged-bucket" }`
		azure := `azure {
      subscription    = "00000000-0000-0000-0000-000000000000"
      resource_group  = "acquire"
      location        = "uksouth"
      storage_account = "acquiredemo"
      key_vault       = "acquire-kv"
      artifact        = "` + azzip + `"
      tags            = %s
    }
  }
  store = { azure = { container = "tagged-azure" }`
		refused := []resource.TestStep{
			{
				Config: taggedConfig(gcp, `{ Owner = "x" }`, `{ team = "ledger" }`), PlanOnly: true,
				ExpectError: regexp.MustCompile(`provider default_tags\["Owner"\]: not a GCP label`),
			},
			{
				Config: taggedConfig(aws, `{ acquire-service = "x" }`, `{ team = "ledger" }`), PlanOnly: true,
				ExpectError: regexp.MustCompile(`provider default_tags\["acquire-service"\]: set by the deployer`),
			},
			{
				Config: taggedConfig(azure, `{ acquire-key-vault = "x" }`, `{ team = "ledger" }`), PlanOnly: true,
				ExpectError: regexp.MustCompile(`provider default_tags\["acquire-key-vault"\]: set by the deployer`),
			},
			{
				Config: taggedConfig(azure, `{ owner = "x" }`, `{ Acquire-Kinds = "ledger" }`), PlanOnly: true,
				ExpectError: regexp.MustCompile(`platform.azure.tags\["Acquire-Kinds"\]: set by the deployer`),
			},
		}
		for i, c := range []struct{ cloud, block string }{{"aws", aws}, {"azure", azure}} {
			steps := tagDriftSteps(fake, c.cloud, c.block)
			if i == 0 {
				steps = append(refused, steps...)
			}
			resource.Test(t, resource.TestCase{ProtoV6ProviderFactories: testAccProviders, Steps: steps})
		}
	})
}

// tagDriftSteps: apply, a default_tags change alone, a tag changed out of
// band, a tag dropped, on the platform block block (of cloud).
func tagDriftSteps(fake *fakeDeployer, cloud, block string) []resource.TestStep {
	deployed := func(want map[string]string) resource.TestCheckFunc {
		return func(s *terraform.State) error {
			got, err := fake.Tags(context.Background(), "tagged")
			if err != nil || !maps.Equal(got, want) {
				return fmt.Errorf("deployed tags %v; want %v: %w", got, want, err)
			}
			return nil
		}
	}
	update := resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
		plancheck.ExpectResourceAction("acquire_service.reg", plancheck.ResourceActionUpdate)}}
	all := "platform." + cloud + ".tags_all."
	return []resource.TestStep{
		{
			Config: taggedConfig(block, `{ owner = "platform" }`, `{ team = "ledger" }`),
			Check: resource.ComposeTestCheckFunc(deployed(map[string]string{"owner": "platform", "team": "ledger"}),
				resource.TestCheckResourceAttr("acquire_service.reg", all+"owner", "platform"),
				resource.TestCheckResourceAttr("acquire_service.reg", all+"team", "ledger")),
		},
		{ // default_tags alone changed: an in-place update
			Config: taggedConfig(block, `{ owner = "finance" }`, `{ team = "ledger" }`), ConfigPlanChecks: update,
			Check: resource.ComposeTestCheckFunc(deployed(map[string]string{"owner": "finance", "team": "ledger"}),
				resource.TestCheckResourceAttr("acquire_service.reg", all+"owner", "finance")),
		},
		{ // a tag changed out of band is drift; the apply puts it back
			PreConfig: func() {
				fake.mu.Lock()
				fake.tags["tagged"]["team"] = "changed-by-hand"
				fake.mu.Unlock()
			},
			Config: taggedConfig(block, `{ owner = "finance" }`, `{ team = "ledger" }`), ConfigPlanChecks: update,
			Check: deployed(map[string]string{"owner": "finance", "team": "ledger"}),
		},
		{ // a tag dropped from the configuration is removed
			Config: taggedConfig(block, `{ owner = "finance" }`, `null`), ConfigPlanChecks: update,
			Check: resource.ComposeTestCheckFunc(deployed(map[string]string{"owner": "finance"}),
				resource.TestCheckNoResourceAttr("acquire_service.reg", all+"team")),
		},
	}
}
