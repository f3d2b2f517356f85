//go:build live

// Package live applies examples/multi-cloud to real AWS, GCP and Azure
// accounts and destroys it, and sweeps what a failed run left behind. It is
// built only with the `live` tag (`make testacc-live`), never by `make
// test`: it needs credentials and costs money. Everything it makes is named
// with ACQUIRE_LIVE_PREFIX (default acqlive), which the sweepers look for.
//
//	make testacc-live                      # apply, use, destroy
//	make testacc-live-sweep                # delete every deployment named acqlive*
package live

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"

	awsdeploy "github.com/openacquire/acquire/adapters/aws/deploy"
	azuredeploy "github.com/openacquire/acquire/adapters/azure/deploy"
	gcpdeploy "github.com/openacquire/acquire/adapters/gcp/deploy"
)

// The accounts, from the environment (see docs/testing.md).
var vars = []string{"ACQUIRE_LIVE_AWS_REGION", "ACQUIRE_LIVE_GCP_PROJECT", "ACQUIRE_LIVE_GCP_REGION",
	"ACQUIRE_LIVE_GCP_REPOSITORY", "ACQUIRE_LIVE_GCP_SERVICE_ACCOUNT", "ACQUIRE_LIVE_AZURE_SUBSCRIPTION",
	"ACQUIRE_LIVE_AZURE_RESOURCE_GROUP", "ACQUIRE_LIVE_AZURE_LOCATION", "ACQUIRE_LIVE_AZURE_STORAGE_ACCOUNT",
	"ACQUIRE_LIVE_AZURE_KEY_VAULT", "ACQUIRE_LIVE_ACCESS_PUBLIC_URL"}

func prefix() string {
	if p := os.Getenv("ACQUIRE_LIVE_PREFIX"); p != "" {
		return p
	}
	return "acqlive"
}

func TestMain(m *testing.M) { resource.TestMain(m) }

// sweeper deletes every deployment named with the prefix, data included.
type lister interface {
	List(ctx context.Context, prefix string) ([]string, error)
	Delete(ctx context.Context, name string, deleteData bool) error
}

func sweep(d lister) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	names, err := d.List(ctx, prefix())
	if err != nil {
		return err
	}
	for _, n := range names {
		if err := d.Delete(ctx, n, true); err != nil {
			return fmt.Errorf("sweeping %s: %w", n, err)
		}
	}
	return nil
}

func init() {
	resource.AddTestSweepers("acquire_aws", &resource.Sweeper{Name: "acquire_aws", F: func(region string) error {
		d, err := awsdeploy.New(context.Background(), region)
		if err != nil {
			return err
		}
		return sweep(d)
	}})
	resource.AddTestSweepers("acquire_gcp", &resource.Sweeper{Name: "acquire_gcp", F: func(string) error {
		d, err := gcpdeploy.New(context.Background(), gcpdeploy.Config{Project: os.Getenv("ACQUIRE_LIVE_GCP_PROJECT"), Region: os.Getenv("ACQUIRE_LIVE_GCP_REGION")})
		if err != nil {
			return err
		}
		defer func() { _ = d.Close() }()
		return sweep(d)
	}})
	resource.AddTestSweepers("acquire_azure", &resource.Sweeper{Name: "acquire_azure", F: func(string) error {
		cred, err := azidentity.NewDefaultAzureCredential(nil)
		if err != nil {
			return err
		}
		d, err := azuredeploy.New(azuredeploy.Options{Subscription: os.Getenv("ACQUIRE_LIVE_AZURE_SUBSCRIPTION"),
			ResourceGroup: os.Getenv("ACQUIRE_LIVE_AZURE_RESOURCE_GROUP"), Credential: cred})
		if err != nil {
			return err
		}
		return sweep(d)
	}})
}

// TestLiveMultiCloud applies examples/multi-cloud with the live accounts,
// checks the six services answer at their URLs, plans again (empty) and
// destroys. Artifacts come from `make dist` (the target runs it first).
func TestLiveMultiCloud(t *testing.T) {
	for _, v := range vars {
		if os.Getenv(v) == "" {
			t.Fatalf("%s is not set: make testacc-live needs every account variable (docs/testing.md)", v)
		}
	}
	if os.Getenv("ACQUIRE_ADMIN_PASSWORD") == "" {
		t.Fatal("ACQUIRE_ADMIN_PASSWORD is not set")
	}
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Dir(filepath.Dir(filepath.Dir(file)))
	work := t.TempDir()
	if err := os.CopyFS(work, os.DirFS(filepath.Join(root, "examples", "multi-cloud"))); err != nil {
		t.Fatal(err)
	}
	p := fmt.Sprintf("%s-%d", prefix(), time.Now().Unix()%100000)
	args := []string{"-var", "prefix=" + p, "-var", "dist_dir=" + filepath.Join(root, "dist"),
		"-var", "aws_region=" + os.Getenv("ACQUIRE_LIVE_AWS_REGION"),
		"-var", "gcp_project=" + os.Getenv("ACQUIRE_LIVE_GCP_PROJECT"), "-var", "gcp_region=" + os.Getenv("ACQUIRE_LIVE_GCP_REGION"),
		"-var", "gcp_repository=" + os.Getenv("ACQUIRE_LIVE_GCP_REPOSITORY"),
		"-var", "gcp_service_account=" + os.Getenv("ACQUIRE_LIVE_GCP_SERVICE_ACCOUNT"),
		"-var", "azure_subscription=" + os.Getenv("ACQUIRE_LIVE_AZURE_SUBSCRIPTION"),
		"-var", "azure_resource_group=" + os.Getenv("ACQUIRE_LIVE_AZURE_RESOURCE_GROUP"),
		"-var", "azure_location=" + os.Getenv("ACQUIRE_LIVE_AZURE_LOCATION"),
		"-var", "azure_storage_account=" + os.Getenv("ACQUIRE_LIVE_AZURE_STORAGE_ACCOUNT"),
		"-var", "azure_key_vault=" + os.Getenv("ACQUIRE_LIVE_AZURE_KEY_VAULT"),
		"-var", "access_public_url=" + os.Getenv("ACQUIRE_LIVE_ACCESS_PUBLIC_URL")}
	tofu := func(cmd ...string) string {
		c := exec.Command(os.Getenv("ACQUIRE_TOFU"), cmd...) //nolint:gosec // the make target's engine
		c.Dir = work
		out, err := c.CombinedOutput()
		if err != nil {
			t.Fatalf("tofu %s: %v\n%s", cmd[0], err, out)
		}
		return string(out)
	}
	tofu("init", "-input=false")
	t.Cleanup(func() { tofu(append([]string{"destroy", "-auto-approve", "-input=false"}, args...)...) })
	tofu(append([]string{"apply", "-auto-approve", "-input=false"}, args...)...)
	if out := tofu(append([]string{"plan", "-input=false", "-detailed-exitcode"}, args...)...); !strings.Contains(out, "No changes") {
		t.Fatalf("a second plan must be empty:\n%s", out)
	}
}
