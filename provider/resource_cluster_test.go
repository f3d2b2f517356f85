package provider

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"

	"github.com/openacquire/acquire/runtime/compute"
	"github.com/openacquire/acquire/runtime/host"
	"github.com/openacquire/acquire/runtime/store"
)

// acquire_cluster against a running compute service: an agent holding the
// private half of the registered public key may claim; out-of-band
// removals and key changes show in the plan; no private key is in state.
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
		// Keys as 'acquire cluster key' makes them: the private halves stay here.
		keys := map[string]*compute.ClusterKey{}
		for _, name := range []string{"lab", "lab2", "lab3", "other"} {
			if keys[name], err = compute.GenerateClusterKey(name); err != nil {
				t.Fatal(err)
			}
		}
		// agentClaims: an agent holding the key's private half is accepted,
		// and the state holds the public half only.
		agentClaims := func(cluster, key string) resource.TestCheckFunc {
			return func(s *terraform.State) error {
				pemBytes, err := keys[key].MarshalPEM()
				if err != nil {
					return err
				}
				k, err := compute.ParseClusterKey(cluster, pemBytes) // the agent signs as the cluster
				if err != nil {
					return err
				}
				attrs := s.RootModule().Resources["acquire_cluster.lab"].Primary.Attributes
				if attrs["public_key"] != keys[key].PublicKey() {
					return fmt.Errorf("public_key %q is not the configured one", attrs["public_key"])
				}
				for k := range attrs {
					if strings.Contains(k, "private") {
						return fmt.Errorf("state holds %s", k)
					}
				}
				agent := &compute.AgentClient{C: env.Client, URL: computeURL, Key: k, Agent: "a1"}
				_, err = agent.Claim(context.Background())
				return err
			}
		}
		cfg := func(name, key, storeURL string) string {
			return providerBlock("") + fmt.Sprintf("resource \"acquire_cluster\" \"lab\" {\n  store_url  = %q\n  name       = %q\n  public_key = %q\n}\n",
				storeURL, name, keys[key].PublicKey())
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
				{Config: cfg("Lab!", "lab", storeURL), ExpectError: errorText(`Attribute name must be 1-63 of a-z, 0-9, _ and -`)},
				{Config: cfg("lab", "lab", "http://not-a-store"), ExpectError: errorText(`Invalid store URL`)},
				{Config: strings.Replace(cfg("lab", "lab", storeURL), keys["lab"].PublicKey(), "bm90IGEga2V5", 1), ExpectError: errorText(`Invalid public key`)},
				// Create: the key works for an agent.
				{Config: cfg("lab", "lab", storeURL), Check: agentClaims("lab", "lab")},
				// Import: everything is public.
				{ResourceName: addr, ImportState: true, ImportStateVerify: true, ImportStateId: "lab@" + storeURL},
				// Replace: a new name is a new registration.
				{
					Config:           cfg("lab2", "lab2", storeURL),
					ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(addr, plancheck.ResourceActionDestroyBeforeCreate)}},
					Check: resource.ComposeTestCheckFunc(agentClaims("lab2", "lab2"), func(*terraform.State) error {
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
					Config:           cfg("lab2", "lab2", storeURL),
					ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(addr, plancheck.ResourceActionCreate)}},
					Check:            agentClaims("lab2", "lab2"),
				},
				// Drift: re-registered out of band with another key. The plan
				// puts the configured key back (a replacement).
				{
					PreConfig: func() {
						if err := onStore(func(ctx context.Context, b *store.Bucket) error {
							if err := compute.RemoveCluster(ctx, b, "lab2"); err != nil {
								return err
							}
							_, err := compute.RegisterCluster(ctx, b, "lab2", keys["other"].PublicKey(), time.Now())
							return err
						}); err != nil {
							t.Fatal(err)
						}
					},
					Config:           cfg("lab2", "lab2", storeURL),
					ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(addr, plancheck.ResourceActionDestroyBeforeCreate)}},
					Check:            agentClaims("lab2", "lab2"),
				},
				// Replace: a new key for the same name.
				{
					Config:           cfg("lab2", "lab3", storeURL),
					ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(addr, plancheck.ResourceActionDestroyBeforeCreate)}},
					Check:            agentClaims("lab2", "lab3"),
				},
				{Config: cfg("lab3", "lab3", storeURL), Check: agentClaims("lab3", "lab3")},
			},
		})
	})
}
