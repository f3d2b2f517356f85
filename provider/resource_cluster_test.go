package provider

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"

	"github.com/openacquire/acquire/runtime/compute"
	"github.com/openacquire/acquire/runtime/host"
	"github.com/openacquire/acquire/runtime/store"
)

// acquire_cluster against a running compute service: the private key the
// resource keeps lets an agent claim; out-of-band removals and key changes
// show in the plan.
func TestAccClusterResource(t *testing.T) {
	const addr = "acquire_cluster.lab"
	// One host per engine: the out-of-band steps leave registrations behind.
	forEachEngine(t, func(t *testing.T) {
		env := startAcquire(t)
		storeURL, err := host.SubStoreURL(env.Store, compute.Kind)
		if err != nil {
			t.Fatal(err)
		}
		computeURL := env.Host.ServiceURL(compute.Kind)
		onStore := func(fn func(context.Context, *store.Bucket) error) error {
			ctx := context.Background()
			b, err := store.Open(ctx, storeURL)
			if err != nil {
				return err
			}
			defer func() { _ = b.Close() }()
			return fn(ctx, b)
		}
		registered := func(name string) bool {
			err := onStore(func(ctx context.Context, b *store.Bucket) error {
				_, err := compute.GetCluster(ctx, b, name)
				return err
			})
			if err != nil && !errors.Is(err, compute.ErrUnknownCluster) {
				t.Fatal(err)
			}
			return err == nil
		}
		// agentClaims: an agent holding the state's private key is accepted.
		agentClaims := func(name string) resource.TestCheckFunc {
			return func(s *terraform.State) error {
				attrs := s.RootModule().Resources["acquire_cluster.lab"].Primary.Attributes
				k, err := compute.ParseClusterKey(name, []byte(attrs["private_key_pem"]))
				if err != nil {
					return err
				}
				if k.PublicKey() != attrs["public_key"] {
					return fmt.Errorf("private_key_pem does not match public_key")
				}
				agent := &compute.AgentClient{C: env.Client, URL: computeURL, Key: k, Agent: "a1"}
				_, err = agent.Claim(context.Background())
				return err
			}
		}
		cfg := func(name, storeURL string) string {
			return providerBlock("") + fmt.Sprintf("resource \"acquire_cluster\" \"lab\" {\n  store_url = %q\n  name      = %q\n}\n", storeURL, name)
		}
		resource.UnitTest(t, resource.TestCase{
			ProtoV6ProviderFactories: testAccProviders,
			CheckDestroy: func(*terraform.State) error {
				if registered("lab3") {
					return fmt.Errorf("lab3 is still registered after destroy")
				}
				return nil
			},
			Steps: []resource.TestStep{
				{Config: cfg("Lab!", storeURL), ExpectError: errorText(`Attribute name must be 1-63 of a-z, 0-9, _ and -`)},
				{Config: cfg("lab", "http://not-a-store"), ExpectError: errorText(`Invalid store URL`)},
				// Create: the key works for an agent.
				{Config: cfg("lab", storeURL), Check: agentClaims("lab")},
				// Import: all but the private key, which only its creator holds.
				{ResourceName: addr, ImportState: true, ImportStateVerify: true, ImportStateId: "lab@" + storeURL,
					ImportStateVerifyIgnore: []string{"private_key_pem"}},
				// Replace: a new name is a new registration with a new key.
				{
					Config:           cfg("lab2", storeURL),
					ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(addr, plancheck.ResourceActionDestroyBeforeCreate)}},
					Check: resource.ComposeTestCheckFunc(agentClaims("lab2"), func(*terraform.State) error {
						if registered("lab") {
							return fmt.Errorf("the replaced registration lab is still there")
						}
						return nil
					}),
				},
				// Drift: removed out of band, registered again.
				{
					PreConfig: func() {
						if err := onStore(func(ctx context.Context, b *store.Bucket) error { return compute.RemoveCluster(ctx, b, "lab2") }); err != nil {
							t.Fatal(err)
						}
					},
					Config:           cfg("lab2", storeURL),
					ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(addr, plancheck.ResourceActionCreate)}},
					Check:            agentClaims("lab2"),
				},
				// Drift: re-registered out of band with another key. The plan
				// registers again, which the name's new key refuses, clearly.
				{
					PreConfig: func() {
						other, err := compute.GenerateClusterKey("lab2")
						if err != nil {
							t.Fatal(err)
						}
						if err := onStore(func(ctx context.Context, b *store.Bucket) error {
							if err := compute.RemoveCluster(ctx, b, "lab2"); err != nil {
								return err
							}
							_, err := compute.RegisterCluster(ctx, b, "lab2", other.PublicKey(), time.Now())
							return err
						}); err != nil {
							t.Fatal(err)
						}
					},
					Config:      cfg("lab2", storeURL),
					ExpectError: errorText(`cluster "lab2" is already registered with another key`),
				},
				{Config: cfg("lab3", storeURL), Check: agentClaims("lab3")},
			},
		})
	})
}
