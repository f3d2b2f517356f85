package provider

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/openacquire/acquire/runtime/access"
	"github.com/openacquire/acquire/runtime/host"
	"github.com/openacquire/acquire/runtime/identity"
	"github.com/openacquire/acquire/runtime/ledger"
	"github.com/openacquire/acquire/runtime/store"
)

func TestShortDecimal(t *testing.T) {
	for in, want := range map[string]string{"1.5": "1.5", "2": "2", "0.000001": "0.000001", "10.10": "10.1", "100": "100"} {
		if got := shortDecimal(ledger.MustParse(in)); got != want {
			t.Errorf("shortDecimal(%s) = %q, want %q", in, got, want)
		}
	}
}

// acquire_resource against a running access service: every step is seen by
// a user listing the catalogue, and out-of-band changes show in the plan.
func TestAccCatalogueResource(t *testing.T) {
	env := startAcquire(t)
	alice := env.Users(t, "Password-123-long", "alice")["alice"]
	storeURL, err := host.SubStoreURL(env.Store, access.Kind)
	if err != nil {
		t.Fatal(err)
	}
	fulfiller := env.Host.ServiceURL(identity.Kind) // any service URL: nothing is requested here
	ac := &access.Client{C: env.Client, URL: env.Host.ServiceURL(access.Kind)}
	listed := func(name string) (*access.Resource, error) {
		cat, err := ac.ListResources(context.Background(), alice)
		if err != nil {
			return nil, err
		}
		for _, r := range cat.Resources {
			if r.Name == name {
				return r, nil
			}
		}
		return nil, nil
	}
	wantListed := func(name, price string, users int) resource.TestCheckFunc {
		return func(*terraform.State) error {
			r, err := listed(name)
			if err != nil {
				return err
			}
			if r == nil || r.Price.Cmp(ledger.MustParse(price)) != 0 || len(r.Users) != users || (users > 0) != (r.HoldS == 7200) {
				return fmt.Errorf("catalogue entry %s = %+v, want price %s and %d users (hold_s 7200 with users)", name, r, price, users)
			}
			return nil
		}
	}
	bucket := func() *store.Bucket {
		b, err := store.Open(context.Background(), storeURL)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	cfg := func(name, price, users string) string {
		return providerBlock("") + fmt.Sprintf(`
resource "acquire_resource" "gpu" {
  store_url   = %q
  name        = %q
  price       = %q
  service_url = %q
  function    = "run_job"
  description = "one GPU hour"
  %s
}
`, storeURL, name, price, fulfiller, users)
	}
	const addr = "acquire_resource.gpu"
	forEachEngine(t, func(t *testing.T) {
		resource.UnitTest(t, resource.TestCase{
			ProtoV6ProviderFactories: testAccProviders,
			CheckDestroy: func(*terraform.State) error {
				for _, n := range []string{"gpu-hour", "gpu-day"} {
					if r, err := listed(n); err != nil || r != nil {
						return fmt.Errorf("after destroy %s is still listed (%w)", n, err)
					}
				}
				return nil
			},
			Steps: []resource.TestStep{
				// Refused at plan, naming the attribute.
				{Config: cfg("gpu-hour", "0", ""), ExpectError: errorText(`price "0" must be an exact decimal above zero`)},
				{Config: cfg("../gpu", "1", ""), ExpectError: errorText(`Attribute name must be 1-64 of letters`)},
				{Config: cfg("gpu-hour", "1", `users = ["bad uid"]`), ExpectError: errorText(`must be <user uid>@<identity service URL>`)},
				{Config: cfg("gpu-hour", "1", `hold_s = 30`), ExpectError: errorText(`Attribute hold_s value must be between 60 and 604800, got: 30`)},
				{Config: cfg("gpu-hour", "1", "") + `
resource "acquire_resource" "other" {
  store_url   = "ftp://x/y"
  name        = "x"
  price       = "1"
  service_url = "not a url"
  function    = "run_job"
}`, ExpectError: errorText(`Invalid store URL`)},
				// Create.
				{
					Config: cfg("gpu-hour", "1.5", ""),
					Check:  wantListed("gpu-hour", "1.5", 0),
					ConfigStateChecks: []statecheck.StateCheck{
						statecheck.ExpectKnownValue(addr, tfjsonpath.New("id"), knownvalue.StringExact("gpu-hour@"+storeURL)),
						statecheck.ExpectKnownValue(addr, tfjsonpath.New("price"), knownvalue.StringExact("1.5")),
					},
				},
				// Import, verified against the state create wrote.
				{ResourceName: addr, ImportState: true, ImportStateVerify: true, ImportStateId: "gpu-hour@" + storeURL},
				// Update in place.
				{
					Config:           cfg("gpu-hour", "2.25", fmt.Sprintf("users = [%q]\n  hold_s = 7200", access.UserRef(alice.IdentityURL, alice.UserUID))),
					ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(addr, plancheck.ResourceActionUpdate)}},
					Check:            wantListed("gpu-hour", "2.25", 1),
				},
				// Drift: a price changed out of band is put back.
				{
					PreConfig: func() {
						b := bucket()
						defer func() { _ = b.Close() }()
						r, err := access.GetResource(context.Background(), b, "gpu-hour")
						if err != nil {
							t.Fatal(err)
						}
						r.Price = ledger.MustParse("9")
						if _, err := access.SetResource(context.Background(), b, *r, time.Now()); err != nil {
							t.Fatal(err)
						}
					},
					Config:           cfg("gpu-hour", "2.25", fmt.Sprintf("users = [%q]\n  hold_s = 7200", access.UserRef(alice.IdentityURL, alice.UserUID))),
					ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(addr, plancheck.ResourceActionUpdate)}},
					Check:            wantListed("gpu-hour", "2.25", 1),
				},
				// Drift: an entry deleted out of band is created again.
				{
					PreConfig: func() {
						b := bucket()
						defer func() { _ = b.Close() }()
						if err := access.RemoveResource(context.Background(), b, "gpu-hour"); err != nil {
							t.Fatal(err)
						}
					},
					Config:           cfg("gpu-hour", "2.25", fmt.Sprintf("users = [%q]\n  hold_s = 7200", access.UserRef(alice.IdentityURL, alice.UserUID))),
					ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(addr, plancheck.ResourceActionCreate)}},
					Check:            wantListed("gpu-hour", "2.25", 1),
				},
				// Replace: a new name is a new entry; the old one goes.
				{
					Config:           cfg("gpu-day", "2.25", ""),
					ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(addr, plancheck.ResourceActionDestroyBeforeCreate)}},
					Check: resource.ComposeTestCheckFunc(wantListed("gpu-day", "2.25", 0), func(*terraform.State) error {
						if r, err := listed("gpu-hour"); err != nil || r != nil {
							return fmt.Errorf("the replaced entry is still listed (%w)", err)
						}
						return nil
					}),
				},
			},
		})
	})
}

// acquire_resource on an access service that acquire_service deployed on a
// host: the entry is addressed by the service's computed store_url, known
// only after the service is applied, and the entry lands in that store.
func TestAccCatalogueResourceOnDeployedAccess(t *testing.T) {
	forEachEngine(t, func(t *testing.T) {
		h := startAdminHost(t)
		cfg := providerBlock(h.env.URL) + `
resource "acquire_service" "accounting" {
  name = "accounting"
  kind = "accounting"
}

resource "acquire_service" "access" {
  name     = "access"
  kind     = "access"
  settings = { accounting_url = acquire_service.accounting.url }
}

resource "acquire_resource" "job" {
  store_url   = acquire_service.access.store_url
  name        = "job/small"
  price       = "0.25"
  service_url = acquire_service.accounting.url
  function    = "run_job"
}
`
		resource.Test(t, resource.TestCase{
			ProtoV6ProviderFactories: testAccProviders,
			Steps: []resource.TestStep{{
				Config: cfg,
				Check: func(s *terraform.State) error {
					attrs := s.RootModule().Resources["acquire_service.access"].Primary.Attributes
					b, err := store.Open(context.Background(), attrs["store_url"])
					if err != nil {
						return err
					}
					defer func() { _ = b.Close() }()
					r, err := access.GetResource(context.Background(), b, "job/small")
					if err != nil {
						return fmt.Errorf("the deployed access service's store has no entry: %w", err)
					}
					if r.Price.Cmp(ledger.MustParse("0.25")) != 0 || r.ServiceURL != attrs["settings.accounting_url"] {
						return fmt.Errorf("entry %+v", r)
					}
					return nil
				},
			}},
		})
	})
}
