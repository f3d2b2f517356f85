package provider

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"

	"github.com/openacquire/acquire/runtime/host"
	"github.com/openacquire/acquire/runtime/host/hosttest"
)

// Namespace and hosts of the provider's address in test configs
// (source = "openacquire/acquire"): OpenTofu resolves it on its own
// registry host, Terraform on its own.
const (
	testNamespace     = "openacquire"
	tofuRegistry      = "registry.opentofu.org"
	terraformRegistry = "registry.terraform.io"
)

// testAccProviders runs the provider in the test process (reattach), so a
// test's in-process Acquire host and the provider share nothing but HTTP.
var testAccProviders = map[string]func() (tfprotov6.ProviderServer, error){
	"acquire": providerserver.NewProtocol6WithError(New("test")()),
}

// engine is one Terraform engine binary to run acceptance tests with.
type engine struct {
	Name, Path, Registry string
}

// engines are OpenTofu (built by `make tofu`; required) and Terraform when
// it is on PATH (optional, never depended on).
func engines(t *testing.T) []engine {
	t.Helper()
	tofu := os.Getenv("ACQUIRE_TOFU")
	if tofu == "" {
		tofu = filepath.Join(repoRoot(t), ".tools", "bin", "tofu")
	}
	if _, err := os.Stat(tofu); err != nil {
		t.Fatalf("OpenTofu not found at %s: run `make tofu` (or set ACQUIRE_TOFU): %v", tofu, err)
	}
	out := []engine{{Name: "tofu", Path: tofu, Registry: tofuRegistry}}
	if tf, err := exec.LookPath("terraform"); err == nil {
		out = append(out, engine{Name: "terraform", Path: tf, Registry: terraformRegistry})
	}
	return out
}

// forEachEngine runs fn once per engine with the environment
// terraform-plugin-testing reads. TF_ACC must be set by the caller
// (`make test` sets it); without it resource.Test skips, which
// testAccPreCheck turns into a failure when ACQUIRE_ACC_REQUIRED is set.
func forEachEngine(t *testing.T, fn func(t *testing.T)) {
	t.Helper()
	if os.Getenv("TF_ACC") == "" {
		if os.Getenv("ACQUIRE_ACC_REQUIRED") != "" {
			t.Fatal("ACQUIRE_ACC_REQUIRED is set but TF_ACC is not: acceptance tests would be skipped")
		}
		t.Skip("acceptance test: set TF_ACC=1 (make test does)")
	}
	for _, e := range engines(t) {
		onEngine(t, e, fn)
	}
}

// onEngine runs fn as subtest e.Name with the environment
// terraform-plugin-testing reads for engine e.
func onEngine(t *testing.T, e engine, fn func(t *testing.T)) {
	t.Helper()
	cli := filepath.Join(t.TempDir(), "tofurc")
	if err := os.WriteFile(cli, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Run(e.Name, func(t *testing.T) {
		t.Setenv("TF_ACC_TERRAFORM_PATH", e.Path)
		t.Setenv("TF_ACC_PROVIDER_NAMESPACE", testNamespace)
		t.Setenv("TF_ACC_PROVIDER_HOST", e.Registry)
		t.Setenv("TF_CLI_CONFIG_FILE", cli) // no user settings, no registry mirrors
		t.Setenv("CHECKPOINT_DISABLE", "1")
		// The harness's working folders, and so its state files, go
		// here, where checkNoSecretInState reads them.
		t.Setenv("TF_ACC_TEMP_DIR", t.TempDir())
		fn(t)
	})
}

// providerBlock is the terraform and provider blocks every test config
// starts with; hostURL may be "".
func providerBlock(hostURL string) string {
	cfg := `
terraform {
  required_providers {
    acquire = { source = "openacquire/acquire" }
  }
}
`
	if hostURL != "" {
		cfg += "provider \"acquire\" {\n  host_url = \"" + hostURL + "\"\n}\n"
	}
	return cfg
}

// startAcquire runs every service kind of one host in-process on a loopback
// listener, on an in-memory store, until the test ends.
func startAcquire(t *testing.T) *hosttest.Env {
	t.Helper()
	return hosttest.Start(t, hosttest.Options{Kinds: host.Kinds})
}

// repoRoot is the module root (this file sits in provider/).
func repoRoot(t *testing.T) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("cannot locate the test file")
	}
	return filepath.Dir(filepath.Dir(file))
}

func TestProviderSchemaValid(t *testing.T) {
	// The framework checks schemas when the server starts; GetProviderSchema
	// fails on an invalid one (a bad attribute name, a Sensitive+WriteOnly clash).
	srv, err := testAccProviders["acquire"]()
	if err != nil {
		t.Fatal(err)
	}
	resp, err := srv.GetProviderSchema(t.Context(), &tfprotov6.GetProviderSchemaRequest{})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range resp.Diagnostics {
		if d.Severity == tfprotov6.DiagnosticSeverityError {
			t.Errorf("schema error: %s: %s", d.Summary, d.Detail)
		}
	}
	if resp.Provider == nil || resp.Provider.Block == nil {
		t.Fatal("no provider schema")
	}
	var sensitive bool
	for _, a := range resp.Provider.Block.Attributes {
		if a.Name == "host_token" {
			sensitive = a.Sensitive
		}
	}
	if !sensitive {
		t.Error("host_token must be sensitive")
	}
}

// errorText matches phrase in an engine's error output, which wraps long
// lines at any space.
func errorText(phrase string) *regexp.Regexp {
	words := strings.Fields(phrase)
	for i, w := range words {
		words[i] = regexp.QuoteMeta(w)
	}
	return regexp.MustCompile(strings.Join(words, `\s+`))
}

// A malformed host URL is refused at plan, naming host_url, whether it
// comes from the provider block or from the environment.
func TestAccProviderHostURL(t *testing.T) {
	// A data source makes both engines validate and configure the provider.
	out := `data "acquire_function_package" "x" { platform = "aws" }`
	forEachEngine(t, func(t *testing.T) {
		resource.UnitTest(t, resource.TestCase{
			ProtoV6ProviderFactories: testAccProviders,
			Steps: []resource.TestStep{
				{Config: providerBlock("ftp://127.0.0.1:8080") + out, ExpectError: errorText(`host_url: "ftp://127.0.0.1:8080" does not start with http:// or https://`)},
				{
					PreConfig:   func() { t.Setenv(EnvHostURL, "127.0.0.1:8080") },
					Config:      providerBlock("") + out,
					ExpectError: errorText(`host_url (or ACQUIRE_HOST_URL) must be an http(s) URL`),
				},
			},
		})
	})
}
