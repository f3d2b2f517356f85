package provider

import (
	"context"
	"errors"
	"testing"

	"github.com/openacquire/acquire/adapters/deployer"
)

// TestDeploymentRefs: a deployment reference builds its platform's
// deployer from the import keys alone (what import does), on each cloud
// whose services are importable; malformed references are refused.
func TestDeploymentRefs(t *testing.T) {
	ctx := context.Background()
	var got cloudBlock
	saved := newDeployer
	t.Cleanup(func() { newDeployer = saved })
	stop := errors.New("stop")
	newDeployer = func(_ context.Context, b cloudBlock) (deployer.Deployer, error) { got = b; return nil, stop }
	for ref, check := range map[string]func(cloudBlock) bool{
		"aws/eu-west-2/reg-a": func(b cloudBlock) bool {
			m, ok := b.(*awsPlatformModel)
			return ok && m.Region.ValueString() == "eu-west-2"
		},
		"gcp/my-project/europe-west1/reg-b": func(b cloudBlock) bool {
			m, ok := b.(*gcpPlatformModel)
			return ok && m.Project.ValueString() == "my-project" && m.Region.ValueString() == "europe-west1"
		},
		"azure/sub-1/rg-1/reg-c": func(b cloudBlock) bool {
			m, ok := b.(*azurePlatformModel)
			return ok && m.Subscription.ValueString() == "sub-1" && m.ResourceGroup.ValueString() == "rg-1"
		},
	} {
		tg, err := parseDeployment(ref)
		if err != nil {
			t.Fatalf("%s: %v", ref, err)
		}
		got = nil
		if _, _, err := tg.deployment(ctx, nil); !errors.Is(err, stop) || got == nil || !check(got) {
			t.Fatalf("%s: deployer built from %#v (%v)", ref, got, err)
		}
	}
	for _, bad := range []string{"", "fn/app/x", "local/x", "aws/reg-a", "aws//reg-a", "aws/eu-west-2/Bad_Name",
		"gcp/p/reg-a", "azure/s/rg/x/reg-a", "https://example.org/registry"} {
		if _, err := parseDeployment(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
