package provider

import (
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
)

// TestAccPlatformMistakesFailAtPlan: every mistake that would fail a cloud
// apply (issue 20, point 1) fails the plan instead, naming the attribute:
// each required value of each cloud, a misspelt key, a missing artifact,
// a checksum that does not match, a store in another region or account, a
// store attribute the deployer would drop, a value out of the platform's
// range. Nothing is deployed: the plans are refused before any call.
func TestAccPlatformMistakesFailAtPlan(t *testing.T) {
	forEachEngine(t, func(t *testing.T) {
		t.Setenv(EnvSecretSeed, "")
		zip := testArtifact(t, "aws-lambda-arm64.zip")
		sum, err := fileSHA256(zip)
		if err != nil {
			t.Fatal(err)
		}
		aws := func(platform, store string) string {
			return fmt.Sprintf(`resource "acquire_service" "x" {
  name     = "planck"
  kind     = "registry"
  platform {
    aws {
      region = "eu-west-2"
      artifact = %q
      %s
    }
  }
  store    = { s3 = { bucket = "planck-bucket" %s } }
}`, zip, platform, store)
		}
		gcp := func(attrs string) string {
			return fmt.Sprintf(`resource "acquire_service" "x" {
  name     = "planck"
  kind     = "registry"
  platform {
    gcp {
      project = "my-project"
      region = "europe-west2"
      artifact = %q
      %s
    }
  }
  store    = { gcs = { bucket = "planck-bucket" } }
}`, zip, attrs)
		}
		azure := func(attrs, store string) string {
			return fmt.Sprintf(`resource "acquire_service" "x" {
  name     = "planck"
  kind     = "registry"
  platform {
    azure {
      subscription = "00000000-0000-0000-0000-000000000000"
      resource_group = "rg"
      location = "uksouth"
      artifact = %q
      %s
    }
  }
  store    = { azure = { container = "planck" %s } }
}`, zip, attrs, store)
		}
		const azureOK = "storage_account = \"acquiredemo\"\nkey_vault = \"acquire-kv\""
		cases := []struct{ config, want string }{
			{gcp(`service_account = "fn@my-project.iam.gserviceaccount.com"`), `platform.\w+.repository: the argument "repository" is required`},
			{gcp(`repository = "acquire"`), `platform.\w+.service_account: the argument "service_account" is required`},
			{gcp("repository = \"acquire\"\nservice_account = \"not-an-email\""), `platform.gcp.service_account: .*service account email`},
			{gcp("repository = \"acquire\"\nservice_account = \"fn@my-project.iam.gserviceaccount.com\"\ntags = { Team = \"x\" }"), `platform.gcp.tags\["Team"\]: not a GCP label: key "Team"`},
			{gcp("repository = \"acquire\"\nservice_account = \"fn@my-project.iam.gserviceaccount.com\"\ntags = { team = \"Ledger Ops\" }"), `platform.gcp.tags\["team"\]: not a GCP label: value`},
			{gcp("repository = \"acquire\"\nservice_account = \"fn@my-project.iam.gserviceaccount.com\"\nlog_retention_days = 4000"), `platform.gcp.log_retention_days: 4000 is not in 1 to 3650`},
			{azure(`key_vault = "acquire-kv"`, ""), `platform.\w+.storage_account: the argument "storage_account" is required`},
			{azure(`storage_account = "acquiredemo"`, ""), `platform.\w+.key_vault: the argument "key_vault" is required`},
			{azure("storage_account = \"acquiredemo\"\nkey_vault = \"acquire-kv\"", `, account = "otheraccount"`), `store.azure.account: "otheraccount" differs from\s+platform.azure.storage_account`},
			{azure(azureOK+"\nmemory_mb = 1024", ""), `platform.azure.memory_mb: 1024 is not a Flex Consumption instance size`},
			{azure(azureOK+"\ntimeout_s = 300", ""), `platform.azure.timeout_s: 300 is not in 1 to 230 on azure`},
			{azure(azureOK+"\nmax_instances = 1001", ""), `platform.azure.max_instances: 1001 is not in 1 to 1000 on azure`},
			{azure(azureOK+"\nlog_retention_days = 7", ""), `platform.azure.log_retention_days: 7 is not in 30 to 730 on azure`},
			{azure(azureOK+"\nhttp_concurrency = 0", ""), `platform.azure.http_concurrency: .*whole number from 1 to 1000`},
			{azure(azureOK+"\ntags = { \"a/b\" = \"x\" }", ""), `platform.azure.tags\["a/b"\]: Azure tags`},
			{azure(azureOK+"\nmemory_mb = 4096\ntimeout_s = 230\nmax_instances = 40\nlog_retention_days = 90\nhttp_concurrency = 16", ""), ``}, // Flex sizes plan
			{aws(`memroy_mb = 512`, ""), `Unsupported argument.*"memroy_mb" is not expected here`},
			{aws("", `, region = "us-east-1"`), `store.s3.region: "us-east-1" differs from\s+platform.aws.region "eu-west-2"`},
			{aws("", `, endpoint = "http://127.0.0.1:9000"`), `store.s3.endpoint: a cloud deployment's function`},
			{aws(`memory_mb = 64`, ""), `platform.aws.memory_mb: 64 is not in 128 to 10240`},
			{aws(`arch = "amd64"`, ""), `platform.aws.arch: "amd64", but the artifact is built for arm64`},
			{aws(`artifact_sha256 = "`+strings.Repeat("0", 64)+`"`, ""), `platform.aws.artifact_sha256: the artifact's SHA-256 is ` + sum},
			{strings.Replace(aws("", ""), zip, zip+".missing", 1), `platform.aws.artifact: .*does not exist or is not a file: run\s+` + "`make dist`"},
			{strings.Replace(aws("", ""), zip, "https://example.com/aws-lambda-arm64.zip", 1), `platform.aws.artifact_sha256: required when the\s+artifact is a URL`},
			{aws("", "") + "\n" + strings.Replace(aws("", ""), `"x"`, `"y"`, 1), ``}, // two valid services plan
		}
		var steps []resource.TestStep
		for _, c := range cases {
			st := resource.TestStep{Config: providerBlock("") + c.config, PlanOnly: true, ExpectNonEmptyPlan: true}
			if c.want != "" {
				st.ExpectError = regexp.MustCompile("(?s)" + strings.ReplaceAll(c.want, " ", `\s+`))
			}
			steps = append(steps, st)
		}
		resource.Test(t, resource.TestCase{ProtoV6ProviderFactories: testAccProviders, Steps: steps})
	})
}
