// Package layering holds the test that keeps the runtime portable: nothing
// under runtime/ may import a cloud SDK, an adapter or the provider
// (docs/design/architecture.md: provider → adapters → runtime, never back).
package layering

import (
	"os/exec"
	"strings"
	"testing"
)

var forbidden = []string{
	"github.com/aws/",
	"cloud.google.com/",
	"google.golang.org/api",
	"github.com/Azure/",
	"github.com/hashicorp/terraform-plugin",
	"github.com/openacquire/acquire/adapters",
	"github.com/openacquire/acquire/provider",
}

func TestRuntimeImportsNoCloudSDK(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-test", "github.com/openacquire/acquire/runtime/...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	deps := strings.Fields(string(out))
	if len(deps) < 50 {
		t.Fatalf("go list gave %d packages: the check would prove nothing", len(deps))
	}
	for _, dep := range deps {
		for _, f := range forbidden {
			if strings.HasPrefix(dep, f) {
				t.Errorf("runtime depends on %s", dep)
			}
		}
	}
}
