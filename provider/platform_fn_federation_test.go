package provider

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"

	"github.com/openacquire/acquire/adapters/aws/s3store"
	"github.com/openacquire/acquire/adapters/servertest"
	"github.com/openacquire/acquire/runtime/auth"
	"github.com/openacquire/acquire/runtime/host"
	"github.com/openacquire/acquire/runtime/registry"
	"github.com/openacquire/acquire/runtime/service"
	"github.com/openacquire/acquire/runtime/store"
)

// fnFedRig is region "eu" on Fn (the real Fn deployer against the
// simulated Fn API, whose triggers run the function handler in-process;
// state on versitygw) and region "us" on a local host. It reuses the
// cloud rig's stranger and its calls (cloudRig.cashAsStranger).
type fnFedRig struct {
	*cloudRig
	fn *fnRig
}

func newFnFedRig(t *testing.T) *fnFedRig {
	t.Helper()
	ctx := context.Background()
	fr := newFnRig(t)
	h := startAdminHost(t)
	if _, err := h.admin.Deploy(ctx, "reg", host.Spec{Kind: registry.Kind}); err != nil {
		t.Fatal(err)
	}
	c := s3.New(s3.Options{Region: "us-east-1", BaseEndpoint: aws.String(fr.storeEnd), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider(servertest.S3Access, servertest.S3Secret, "")})
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("stranger")}); err != nil {
		t.Fatal(err)
	}
	s3store.Register()
	b, err := store.Open(ctx, "s3://stranger?"+url.Values{"endpoint": {fr.storeEnd}, "path_style": {"true"}, "region": {"us-east-1"}}.Encode())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return &fnFedRig{cloudRig: &cloudRig{cloud: "fn", h: h, stranger: newStranger(ctx, t, h, b)}, fn: fr}
}

// ref is a deployment on the rig's Fn server, its API URL escaped.
func (r *fnFedRig) ref(name string) string { return "fn/" + url.PathEscape(r.fn.api.URL) + "/" + name }

func (r *fnFedRig) config(trust bool) string {
	u := r.h.env.URL
	place := fmt.Sprintf(`platform {
    fn {
      api_url  = %q
      registry = %q
      artifact = %q
      pass_env = ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"]
    }
  }
  store = { s3 = { bucket = "fn-acc", region = "us-east-1", endpoint = %q, path_style = true } }`,
		r.fn.api.URL, r.fn.registry, r.fn.artifact, r.fn.storeEnd)
	cfg := providerBlock(u) + fmt.Sprintf(`
resource "acquire_service" "registry" {
  name = "reg-eu"
  kind = "registry"
  %[2]s
}

resource "acquire_service" "accounting" {
  name     = "acct-eu"
  kind     = "accounting"
  registry = acquire_service.registry.url
  %[2]s
}

resource "acquire_registry_peering" "eu_us" {
  deployment = "fn/${urlencode(%[3]q)}/reg-eu"
  registry   = acquire_service.registry.url
  peer       = "%[1]s/reg"
  label      = "us"
}

resource "acquire_registry_peering" "us_eu" {
  registry   = "%[1]s/reg"
  peer       = acquire_service.registry.url
  label      = "eu"
  depends_on = [acquire_registry_peering.eu_us]
}
`, u, place, r.fn.api.URL)
	if trust {
		cfg += fmt.Sprintf(`
resource "acquire_trust" "stranger" {
  deployment = %q
  service    = acquire_service.accounting.url
  trusted    = %q
}
`, r.ref("acct-eu"), r.stranger.URL())
	}
	return cfg
}

// cloudPeers lists the Fn registry's peers by opening it on its store
// with its secret read back from its Fn configuration, as the provider
// does.
func (r *fnFedRig) cloudPeers(ctx context.Context) (map[string]string, string, error) {
	tg, err := parseDeployment(r.ref("reg-eu"))
	if err != nil {
		return nil, "", err
	}
	return registryPeersAt(ctx, tg)
}

func (r *fnFedRig) peeredBoth(s *terraform.State) error {
	got, _, err := r.cloudPeers(context.Background())
	if err != nil {
		return err
	}
	if got[r.h.env.URL+"/reg"] != registry.PeerActive || len(got) != 1 {
		return fmt.Errorf("the Fn registry's peers %v, want us active", got)
	}
	regURL := s.RootModule().Resources["acquire_service.registry"].Primary.Attributes["url"]
	return peered(r.h, map[string]string{regURL: registry.PeerActive})(s)
}

func (r *fnFedRig) trustRecord(ctx context.Context) ([]string, error) {
	tg, err := parseDeployment(r.ref("acct-eu"))
	if err != nil {
		return nil, err
	}
	var list []string
	err = withCloudStore(ctx, nil, tg, func(b *store.Bucket, _, _ string) (err error) {
		list, err = service.TrustedRecord(ctx, b)
		return err
	})
	return list, err
}

// TestAccCloudPeeringAndTrustOnFn: a registry on Fn peers with one on a
// local host (both halves active; the deployment named by the API URL
// escaped with HCL's urlencode), an accounting service on Fn trusts a
// stranger through acquire_trust (the running function cashes for it
// without a redeploy), import by fn/<escaped API URL>/<name> and by
// fn/<name> with FN_API_URL, drift of the peering (unpeered on the Fn
// side) and of the trust, destroy. Abuse: an unpeered stranger is refused
// by name; a deployment that names no Fn deployment, and fn/<name>
// without FN_API_URL, are refused. Against the simulated Fn API and
// versitygw; nothing here ran on a real Fn server.
func TestAccCloudPeeringAndTrustOnFn(t *testing.T) {
	forEachEngine(t, func(t *testing.T) {
		r := newFnFedRig(t)
		ctx := context.Background()
		u := r.h.env.URL
		trusted := func(s *terraform.State) error {
			time.Sleep(200 * time.Millisecond) // past the trust record's stranger rate limit
			if list, err := r.trustRecord(ctx); err != nil || !slices.Equal(list, []string{r.stranger.URL()}) {
				return fmt.Errorf("trust record %v (%w)", list, err)
			}
			if err := r.cashAsStranger(ctx, s); err != nil {
				return fmt.Errorf("trusted through acquire_trust, the function on Fn still refuses: %w", err)
			}
			return nil
		}
		missing := fmt.Sprintf(`
resource "acquire_trust" "missing" {
  deployment = %q
  service    = acquire_service.accounting.url
  trusted    = %q
}
`, r.ref("nowhere"), r.stranger.URL())
		resource.Test(t, resource.TestCase{
			ProtoV6ProviderFactories: testAccProviders,
			Steps: scanEveryApply([]resource.TestStep{
				{
					PreConfig:   func() { t.Setenv(EnvFnAPIURL, "") },
					Config:      r.config(false) + strings.Replace(missing, r.ref("nowhere"), "fn/nowhere", 1),
					PlanOnly:    true,
					ExpectError: regexp.MustCompile(`(?s)deployment.*FN_API_URL`),
				},
				{
					// A malformed UID in settlement_peers is refused at plan, named.
					Config: strings.Replace(r.config(false), `name     = "acct-eu"`,
						`name     = "acct-eu"
  settings = { settlement_peers = "acco-12@zz, https://us.example/accounting" }`, 1),
					PlanOnly:    true,
					ExpectError: regexp.MustCompile(`settlement_peers:\s+"acco-12@zz"\s+must\s+be\s+an\s+accounting\s+service's`),
				},
				{
					Config: r.config(false),
					Check: resource.ComposeTestCheckFunc(r.peeredBoth,
						resource.TestCheckResourceAttr("acquire_registry_peering.eu_us", "service_name", "reg-eu"),
						func(s *terraform.State) error {
							err := r.cashAsStranger(ctx, s)
							if !errors.Is(err, auth.ErrServiceNotTrusted) || !strings.Contains(err.Error(), r.stranger.URL()) {
								return fmt.Errorf("an untrusted service must be refused by name: %w", err)
							}
							return nil
						}),
				},
				{Config: r.config(true), Check: trusted},
				{Config: r.config(true) + missing, ExpectError: regexp.MustCompile(`deployment:\s+no\s+deployment\s+fn/\S+/nowhere\s+on\s+its\s+platform`)},
				{Config: r.config(true), ResourceName: "acquire_trust.stranger", ImportState: true, ImportStateVerify: true,
					ImportStateId: r.ref("acct-eu") + "," + r.stranger.URL()},
				{
					PreConfig:    func() { t.Setenv(EnvFnAPIURL, r.fn.api.URL) },
					Config:       r.config(true),
					ResourceName: "acquire_registry_peering.eu_us", ImportState: true, ImportStateVerify: true,
					ImportStateId: "fn/reg-eu," + u + "/reg", ImportStateVerifyIgnore: []string{"state", "deployment"},
				},
				{
					// Drift: unpeered on the Fn side, untrusted out of band.
					PreConfig: func() {
						tg, _ := parseDeployment(r.ref("reg-eu"))
						l, err := r.h.admin.Peers(ctx, "reg")
						if err != nil {
							t.Fatal(err)
						}
						if err := withCloudService(ctx, nil, tg, func(h *host.Host, _ string) error {
							_, err := h.RemovePeer(ctx, registry.Kind, l.Region)
							return err
						}); err != nil {
							t.Fatal(err)
						}
						tg, _ = parseDeployment(r.ref("acct-eu"))
						if err := withCloudStore(ctx, nil, tg, func(b *store.Bucket, _, _ string) error {
							_, err := service.SetTrusted(ctx, b, r.stranger.URL(), false, time.Now())
							return err
						}); err != nil {
							t.Fatal(err)
						}
					},
					Config: r.config(true),
					ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction("acquire_registry_peering.eu_us", plancheck.ResourceActionCreate),
						plancheck.ExpectResourceAction("acquire_trust.stranger", plancheck.ResourceActionCreate),
					}},
					Check: resource.ComposeTestCheckFunc(r.peeredBoth, trusted),
				},
			}, checkNoSecretsInState(r.fn.secrets)),
			CheckDestroy: func(*terraform.State) error {
				if err := peered(r.h, map[string]string{})(nil); err != nil {
					return err
				}
				if apps, fns, trs := r.fn.api.Counts(); apps+fns+trs != 0 {
					return fmt.Errorf("destroy left %d apps, %d functions, %d triggers", apps, fns, trs)
				}
				return nil
			},
		})
	})
}
