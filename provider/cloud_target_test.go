package provider

import (
	"context"
	"errors"
	"strings"
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
	t.Setenv(EnvFnAPIURL, "https://fn.example")
	fnAt := func(api string) func(cloudBlock) bool {
		return func(b cloudBlock) bool {
			m, ok := b.(*fnPlatformModel)
			return ok && m.APIURL.ValueString() == api
		}
	}
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
		"fn/http:%2F%2Ffn.example:8080/reg-d":     fnAt("http://fn.example:8080"),
		"fn/http%3A%2F%2Ffn.example%3A8080/reg-d": fnAt("http://fn.example:8080"), // HCL's urlencode
		"fn/reg-e": fnAt("https://fn.example"), // FN_API_URL
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
		"gcp/p/reg-a", "azure/s/rg/x/reg-a", "https://example.org/registry", "fn/reg-a/", "fn//reg-a",
		"fn/ftp:%2F%2Ffn.example/reg-a", "fn/https:%2F%2Fu:p@fn.example/reg-a", "fn/https:%2F%2Ffn.example%3Fx=1/reg-a",
		"fn/https:%2F%2Ffn.example/x/reg-a", "fn/%zz/reg-a"} {
		if _, err := parseDeployment(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	t.Setenv(EnvFnAPIURL, "")
	if _, err := parseDeployment("fn/reg-e"); err == nil || !strings.Contains(err.Error(), EnvFnAPIURL) {
		t.Errorf("fn/<name> without %s: %v", EnvFnAPIURL, err)
	}
}
