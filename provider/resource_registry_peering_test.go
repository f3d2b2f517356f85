package provider

import (
	"context"
	"fmt"
	"regexp"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"

	"github.com/openacquire/acquire/runtime/host"
	"github.com/openacquire/acquire/runtime/registry"
)

// peeringConfig: the two halves of a peering between the registries of
// two hosts (deployed out of Terraform, so the peerings are the only
// resources).
func peeringConfig(eu, us string) string {
	return providerBlock("") + fmt.Sprintf(`
resource "acquire_registry_peering" "eu_us" {
  host_url = %[1]q
  registry = "%[1]s/reg"
  peer     = "%[2]s/reg"
  label    = "us"
}

resource "acquire_registry_peering" "us_eu" {
  host_url   = %[2]q
  registry   = "%[2]s/reg"
  peer       = "%[1]s/reg"
  label      = "eu"
  depends_on = [acquire_registry_peering.eu_us]
}
`, eu, us)
}

// peered checks h's registry's peers: want maps a peer URL to its state.
func peered(h *adminHost, want map[string]string) resource.TestCheckFunc {
	return func(*terraform.State) error {
		l, err := h.admin.Peers(context.Background(), "reg")
		if err != nil {
			return err
		}
		got := map[string]string{}
		for _, p := range l.Peers {
			if p.State == registry.PeerActive || p.State == registry.PeerPending {
				got[p.URL] = p.State
			}
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			return fmt.Errorf("%s peers %v, want %v", h.env.URL, got, want)
		}
		return nil
	}
}

// TestAccRegistryPeering: both halves (active), import with verify, drift
// (unpeered out of band, planned again), a registry that is not there,
// destroy (unpeered on both hosts).
func TestAccRegistryPeering(t *testing.T) {
	forEachEngine(t, func(t *testing.T) {
		eu, us := startAdminHost(t), startAdminHost(t)
		ctx := context.Background()
		for _, h := range []*adminHost{eu, us} {
			if _, err := h.admin.Deploy(ctx, "reg", host.Spec{Kind: registry.Kind}); err != nil {
				t.Fatal(err)
			}
		}
		e, u := eu.env.URL, us.env.URL
		both := resource.ComposeTestCheckFunc(
			peered(eu, map[string]string{u + "/reg": registry.PeerActive}),
			peered(us, map[string]string{e + "/reg": registry.PeerActive}),
			resource.TestCheckResourceAttrSet("acquire_registry_peering.eu_us", "peer_region"),
		)
		resource.Test(t, resource.TestCase{
			ProtoV6ProviderFactories: testAccProviders,
			Steps: []resource.TestStep{
				{Config: peeringConfig(e, u), Check: resource.ComposeTestCheckFunc(both,
					// The second half made it active on both sides; the first read it pending.
					resource.TestCheckResourceAttr("acquire_registry_peering.us_eu", "state", registry.PeerActive))},
				{ResourceName: "acquire_registry_peering.eu_us", ImportState: true, ImportStateVerify: true,
					ImportStateId: e + "/reg " + u + "/reg", ImportStateVerifyIgnore: []string{"host_url", "state"}},
				{
					PreConfig: func() {
						l, err := us.admin.Peers(ctx, "reg")
						if err != nil {
							t.Fatal(err)
						}
						if _, err := eu.admin.RemovePeer(ctx, "reg", l.Region); err != nil {
							t.Fatal(err)
						}
					},
					Config: peeringConfig(e, u),
					ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction("acquire_registry_peering.eu_us", plancheck.ResourceActionCreate),
					}},
					Check: both,
				},
				{
					Config: peeringConfig(e, u) + fmt.Sprintf(`
resource "acquire_registry_peering" "x" {
  host_url = %[1]q
  registry = "%[1]s/nowhere"
  peer     = "%[2]s/reg"
}
`, e, u),
					ExpectError: regexp.MustCompile(`no registry deployed at`),
				},
			},
			CheckDestroy: func(*terraform.State) error {
				if err := peered(eu, map[string]string{})(nil); err != nil {
					return err
				}
				return peered(us, map[string]string{})(nil)
			},
		})
	})
}
