package provider

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"

	"github.com/openacquire/acquire/runtime/host"
)

// trustConfig: an accounting service trusting one of two access services
// (deployed out of Terraform, so the trust is the only resource).
func trustConfig(hostURL, trusted string) string {
	return providerBlock(hostURL) + fmt.Sprintf(`
resource "acquire_trust" "t" {
  service = "%[1]s/accounting"
  trusted = "%[1]s/%[2]s"
}
`, hostURL, trusted)
}

func trusts(h *adminHost, want ...string) resource.TestCheckFunc {
	return checkHost(h, "accounting", func(st *host.Status) error {
		if !slices.Equal(st.Trusted, want) {
			return fmt.Errorf("accounting trusts %v, want %v", st.Trusted, want)
		}
		return nil
	})
}

// TestAccTrust: create, import with verify, replace (another trusted
// service), drift (removed out of band, planned again), destroy. Both
// attributes name the trust, so there is nothing to update in place.
func TestAccTrust(t *testing.T) {
	forEachEngine(t, func(t *testing.T) {
		h := startAdminHost(t)
		ctx := context.Background()
		for _, d := range []struct {
			name string
			spec host.Spec
		}{
			{"accounting", host.Spec{Kind: "accounting"}},
			{"access", host.Spec{Kind: "access", Settings: map[string]string{"accounting_url": h.env.URL + "/accounting"}}},
			{"access2", host.Spec{Kind: "access", Settings: map[string]string{"accounting_url": h.env.URL + "/accounting"}}},
		} {
			if _, err := h.admin.Deploy(ctx, d.name, d.spec); err != nil {
				t.Fatal(err)
			}
		}
		u := h.env.URL
		resource.Test(t, resource.TestCase{
			ProtoV6ProviderFactories: testAccProviders,
			Steps: scanEveryApply([]resource.TestStep{
				{Config: trustConfig(u, "access"), Check: trusts(h, u+"/access")},
				{ResourceName: "acquire_trust.t", ImportState: true, ImportStateVerify: true, ImportStateId: u + "/accounting," + u + "/access"},
				{
					Config: trustConfig(u, "access2"),
					ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction("acquire_trust.t", plancheck.ResourceActionDestroyBeforeCreate),
					}},
					Check: trusts(h, u+"/access2"),
				},
				{
					PreConfig: func() {
						if _, err := h.admin.Untrust(ctx, "accounting", u+"/access2"); err != nil {
							t.Fatal(err)
						}
					},
					Config: trustConfig(u, "access2"),
					ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction("acquire_trust.t", plancheck.ResourceActionCreate),
					}},
					Check: trusts(h, u+"/access2"),
				},
				{
					Config:      providerBlock(u) + `resource "acquire_trust" "t" {` + "\n" + `  service = "` + u + `/nowhere"` + "\n  trusted = \"" + u + "/access\"\n}\n",
					ExpectError: regexp.MustCompile(`no deployment at`),
				},
			}, checkNoSecretInState(testHostToken)),
			CheckDestroy: func(*terraform.State) error { return trusts(h)(nil) },
		})
	})
}
