package provider

import (
	"fmt"
	"regexp"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
)

// TestAccWeakSecretSeedRefusedAtPlan: ACQUIRE_SECRET_SEED derives every
// cloud service's secret, so a guessable seed is refused when a cloud
// service is planned, before anything is deployed, and the error does
// not show the seed.
func TestAccWeakSecretSeedRefusedAtPlan(t *testing.T) {
	forEachEngine(t, func(t *testing.T) {
		t.Setenv(EnvSecretSeed, "Seed-2024")
		resource.Test(t, resource.TestCase{
			ProtoV6ProviderFactories: testAccProviders,
			Steps: []resource.TestStep{{
				Config: providerBlock("") + fmt.Sprintf(`resource "acquire_service" "x" {
  name     = "weakseed"
  kind     = "identity"
  platform {
    aws {
      region   = "us-east-1"
      artifact = %q
    }
  }
  store    = { s3 = { bucket = "weakseed-bucket" } }
}`, testArtifact(t, "aws-lambda-arm64.zip")),
				PlanOnly:    true,
				ExpectError: regexp.MustCompile(`ACQUIRE_SECRET_SEED:\s+crypto:\s+weak\s+secret`),
			}},
		})
	})
}

// TestSecretSeedRule: a weak seed is refused with the typed error; a
// strong one derives a secret the service rule accepts.
func TestSecretSeedRule(t *testing.T) {
	t.Setenv(EnvSecretSeed, "Seed-2024")
	if _, err := newSecret("x", "s3://b"); err == nil || regexp.MustCompile("Seed-2024").MatchString(err.Error()) {
		t.Fatalf("weak seed: err = %v, want a refusal that does not show it", err)
	}
	t.Setenv(EnvSecretSeed, "test-seed-for-cloud-secrets")
	s, err := newSecret("x", "s3://b")
	if err != nil || len(s) != 40 {
		t.Fatalf("strong seed: %q %v", s, err)
	}
}
