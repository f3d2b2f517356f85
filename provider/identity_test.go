package provider

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-go/tftypes"
	acc "github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/openacquire/acquire/adapters/deployer"
	"github.com/openacquire/acquire/runtime/compute"
)

// identityEngine is the engine that imports by resource identity: OpenTofu
// 1.12 (`make tofu-next`, ACQUIRE_TOFU_NEXT). The tests' OpenTofu 1.10 and
// the Terraform 1.11 some machines have do not (identity needs >= 1.12).
func identityEngine(t *testing.T) engine {
	t.Helper()
	p := os.Getenv("ACQUIRE_TOFU_NEXT")
	if p == "" {
		p = filepath.Join(repoRoot(t), ".tools", "bin", "tofu-next")
	}
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("OpenTofu 1.12 not found at %s: run `make tofu-next` (or set ACQUIRE_TOFU_NEXT): %v", p, err)
	}
	return engine{Name: "tofu-next", Path: p, Registry: tofuRegistry}
}

// identityConfig deploys one of every importable resource on the local
// platform: services, a trust, a catalogue entry and a cluster.
func identityConfig(hostURL, clusterKey string) string {
	return providerBlock(hostURL) + fmt.Sprintf(`
resource "acquire_service" "accounting" {
  name = "accounting"
  kind = "accounting"
}

resource "acquire_service" "access" {
  name     = "access"
  kind     = "access"
  settings = { accounting_url = acquire_service.accounting.url }
}

resource "acquire_service" "compute" {
  name     = "compute"
  kind     = "compute"
  settings = { access_url = acquire_service.access.url }
}

resource "acquire_trust" "t" {
  service = acquire_service.accounting.url
  trusted = acquire_service.access.url
}

resource "acquire_resource" "gpu" {
  store_url   = acquire_service.access.store_url
  name        = "gpu-hour"
  price       = "1.5"
  service_url = acquire_service.compute.url
  function    = "run_job"
}

resource "acquire_cluster" "lab" {
  store_url  = acquire_service.compute.store_url
  name       = "lab"
  public_key = %q
}
`, clusterKey)
}

// TestAccImportByIdentity: every importable resource reports its identity
// after create, and `import { identity = {...} }` blocks (the harness
// writes them from the identity in state) import each one with no change
// planned and the same identity.
func TestAccImportByIdentity(t *testing.T) {
	if os.Getenv("TF_ACC") == "" {
		forEachEngine(t, func(*testing.T) {}) // skips, or fails under ACQUIRE_ACC_REQUIRED
		return
	}
	onEngine(t, identityEngine(t), func(t *testing.T) {
		h := startAdminHost(t)
		key, err := compute.GenerateClusterKey("lab")
		if err != nil {
			t.Fatal(err)
		}
		u := h.env.URL
		cfg := identityConfig(u, key.PublicKey())
		str := func(v string) knownvalue.Check { return knownvalue.StringExact(v) }
		id := func(addr, attr string, want knownvalue.Check) statecheck.StateCheck {
			return statecheck.ExpectIdentityValue(addr, tfjsonpath.New(attr), want)
		}
		storeOf := func(s *terraform.State, svc string) string {
			return s.RootModule().Resources["acquire_service."+svc].Primary.Attributes["store_url"]
		}
		steps := []acc.TestStep{{
			Config: cfg,
			ConfigStateChecks: []statecheck.StateCheck{
				id("acquire_service.access", "name", str("access")),
				id("acquire_service.access", "platform", str("local")),
				id("acquire_service.access", "region", knownvalue.Null()),
				id("acquire_trust.t", "service", str(u+"/accounting")),
				id("acquire_trust.t", "trusted", str(u+"/access")),
				id("acquire_resource.gpu", "name", str("gpu-hour")),
				id("acquire_resource.gpu", "store_url", knownvalue.StringRegexp(storeURLPattern)),
				id("acquire_cluster.lab", "name", str("lab")),
				id("acquire_cluster.lab", "store_url", knownvalue.StringRegexp(storeURLPattern)),
			},
			Check: func(s *terraform.State) error {
				for addr, svc := range map[string]string{"acquire_resource.gpu": "access", "acquire_cluster.lab": "compute"} {
					if got, want := s.RootModule().Resources[addr].Primary.Attributes["store_url"], storeOf(s, svc); got != want {
						return fmt.Errorf("%s: store_url %q, want %s's %q", addr, got, svc, want)
					}
				}
				return nil
			},
		}}
		for _, addr := range []string{"acquire_service.accounting", "acquire_service.access", "acquire_service.compute",
			"acquire_trust.t", "acquire_resource.gpu", "acquire_cluster.lab"} {
			steps = append(steps, acc.TestStep{
				Config: cfg, ResourceName: addr, ImportState: true, ImportStateKind: acc.ImportBlockWithResourceIdentity,
			})
		}
		acc.Test(t, acc.TestCase{
			ProtoV6ProviderFactories: testAccProviders,
			Steps:                    scanEveryApply(steps, checkNoSecretInState(testHostToken)),
		})
	})
}

// storeURLPattern: a local deployment's store (a folder under the host's).
var storeURLPattern = regexp.MustCompile(`^file:///.+`)

// identityRequest is an import by identity of the service resource.
func identityRequest(t *testing.T, values map[string]string) resource.ImportStateRequest {
	t.Helper()
	var resp resource.IdentitySchemaResponse
	(&serviceResource{}).IdentitySchema(context.Background(), resource.IdentitySchemaRequest{}, &resp)
	typ := resp.IdentitySchema.Type().TerraformType(context.Background()).(tftypes.Object)
	vals := map[string]tftypes.Value{}
	for name := range typ.AttributeTypes {
		var v any
		if s, ok := values[name]; ok {
			v = s
		}
		vals[name] = tftypes.NewValue(tftypes.String, v)
	}
	return resource.ImportStateRequest{Identity: &tfsdk.ResourceIdentity{Schema: resp.IdentitySchema, Raw: tftypes.NewValue(typ, vals)}}
}

// TestServiceImportIdentity: an identity becomes the string import ID of
// the same service; a wrong one is refused naming the attribute, never
// guessed at.
func TestServiceImportIdentity(t *testing.T) {
	ok := []struct {
		in   map[string]string
		want string
	}{
		{map[string]string{"name": "identity"}, "identity"},
		{map[string]string{"name": "identity", "platform": "local"}, "identity"},
		{map[string]string{"name": "ident", "platform": "aws", "region": "eu-west-2"}, "aws/eu-west-2/ident"},
		{map[string]string{"name": "ident", "platform": "gcp", "project": "p-1", "region": "europe-west2"}, "gcp/p-1/europe-west2/ident"},
		{map[string]string{"name": "ident", "platform": "azure", "subscription": "s", "resource_group": "rg"}, "azure/s/rg/ident"},
	}
	for _, c := range ok {
		got, byIdentity, d := serviceImportID(context.Background(), identityRequest(t, c.in))
		if d.HasError() || !byIdentity || got != c.want {
			t.Errorf("%v: %q, %v, %v; want %q", c.in, got, byIdentity, d, c.want)
		}
	}
	bad := []struct {
		in   map[string]string
		attr string
	}{
		{map[string]string{"platform": "aws", "region": "eu-west-2"}, "name"},
		{map[string]string{"name": "ident", "platform": "mars"}, "platform"},
		{map[string]string{"name": "ident", "platform": "aws"}, "region"},
		{map[string]string{"name": "ident", "platform": "aws", "region": "r", "project": "p"}, "project"},
		{map[string]string{"name": "ident", "region": "eu-west-2"}, "region"},
		{map[string]string{"name": "ident", "platform": "gcp", "project": "a/b", "region": "r"}, "project"},
	}
	for _, c := range bad {
		_, _, d := serviceImportID(context.Background(), identityRequest(t, c.in))
		if !d.HasError() || !slices.ContainsFunc(d.Errors(), func(e diag.Diagnostic) bool {
			p, ok := e.(diag.DiagnosticWithPath)
			return ok && p.Path().Equal(path.Root(c.attr))
		}) {
			t.Errorf("%v: want an error naming %s, got %v", c.in, c.attr, d)
		}
	}
	// An import by string ID is not an import by identity.
	if _, byIdentity, _ := serviceImportID(context.Background(), resource.ImportStateRequest{ID: "identity"}); byIdentity {
		t.Error("a string ID was taken as an identity")
	}
}

// TestAccCloudServiceIdentity: a cloud service (through the fake cloud of
// TestAccServiceOnCloudPlatform) has {platform, its import keys, name} as
// identity; TestServiceImportIdentity checks that such an identity is the
// import ID "aws/us-east-1/ident" that TestAccServiceOnCloudPlatform
// imports by. (An import block here would plan a replacement: the fake
// keeps its buckets in folders, so the store it reports is not the
// configured s3 one.)
func TestAccCloudServiceIdentity(t *testing.T) {
	if os.Getenv("TF_ACC") == "" {
		forEachEngine(t, func(*testing.T) {})
		return
	}
	onEngine(t, identityEngine(t), func(t *testing.T) {
		h := startAdminHost(t)
		t.Setenv(EnvSecretSeed, "test-seed-for-cloud-secrets")
		fake := newFakeDeployer(t, h.env.Clock.Now)
		saved := newDeployer
		newDeployer = func(context.Context, cloudBlock) (deployer.Deployer, error) { return fake, nil }
		t.Cleanup(func() { newDeployer = saved })
		cfg := cloudConfig(t, h.env.URL, "Root-Password-1", "1", testArtifact(t, "aws-lambda-arm64.zip"))
		const addr = "acquire_service.identity"
		id := func(attr string, want knownvalue.Check) statecheck.StateCheck {
			return statecheck.ExpectIdentityValue(addr, tfjsonpath.New(attr), want)
		}
		acc.Test(t, acc.TestCase{
			ProtoV6ProviderFactories: testAccProviders,
			Steps: scanEveryApply([]acc.TestStep{
				{Config: cfg, ConfigStateChecks: []statecheck.StateCheck{
					id("name", knownvalue.StringExact("ident")),
					id("platform", knownvalue.StringExact("aws")),
					id("region", knownvalue.StringExact("us-east-1")),
					id("project", knownvalue.Null()),
				}},
			}, checkNoSecretsInState(func() []string {
				return append(append(fake.secretValues(), "Root-Password-1", testHostToken), withEnrolment()()...)
			})),
		})
	})
}
