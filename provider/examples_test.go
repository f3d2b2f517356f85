package provider

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// Every example topology under examples/ is valid HCL for this provider's
// schema: `validate` with the provider built from this checkout, on each
// engine. examples/multi-cloud (real clouds) is checked only this way;
// the local examples are also applied by acctest.
func TestExamplesValidate(t *testing.T) {
	root := repoRoot(t)
	dirs, err := filepath.Glob(filepath.Join(root, "examples", "*", "main.tf"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, d := range dirs {
		names = append(names, filepath.Base(filepath.Dir(d)))
	}
	if !slices.Contains(names, "multi-cloud") {
		t.Fatalf("examples/multi-cloud/main.tf is missing (found %v)", names)
	}
	bin := buildProvider(t, root)
	forEachEngine(t, func(t *testing.T) {
		cli := filepath.Join(t.TempDir(), "rc")
		rc := "provider_installation {\n  dev_overrides {\n" +
			"    \"registry.opentofu.org/openacquire/acquire\" = \"" + bin + "\"\n" +
			"    \"registry.terraform.io/openacquire/acquire\" = \"" + bin + "\"\n" +
			"  }\n  direct {}\n}\n"
		if err := os.WriteFile(cli, []byte(rc), 0o600); err != nil {
			t.Fatal(err)
		}
		engine := os.Getenv("TF_ACC_TERRAFORM_PATH")
		for _, name := range names {
			t.Run(name, func(t *testing.T) {
				work := t.TempDir() // a copy: validate must not leave .terraform in the repo
				if err := os.CopyFS(work, os.DirFS(filepath.Join(root, "examples", name))); err != nil {
					t.Fatal(err)
				}
				cmd := exec.Command(engine, "validate", "-no-color") //nolint:gosec // G204: the test's own engine binary
				cmd.Dir = work
				cmd.Env = append(os.Environ(), "TF_CLI_CONFIG_FILE="+cli, "CHECKPOINT_DISABLE=1", "TF_IN_AUTOMATION=1")
				if out, err := cmd.CombinedOutput(); err != nil {
					t.Fatalf("%s validate examples/%s: %v\n%s", filepath.Base(engine), name, err, out)
				}
				if name == "multi-cloud" {
					planMultiCloud(t, engine, work, cmd.Env)
				}
			})
		}
	})
}

// buildProvider builds the provider binary into a temp folder and answers
// the folder (what dev_overrides names).
func buildProvider(t *testing.T, root string) string {
	t.Helper()
	dir := t.TempDir()
	cmd := exec.Command("go", "build", "-o", filepath.Join(dir, "terraform-provider-acquire"), "./cmd/terraform-provider-acquire")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building the provider: %v\n%s", err, out)
	}
	return dir
}

// planMultiCloud plans examples/multi-cloud against stand-in make dist
// artifacts with fake credentials: every value the example sets passes the
// plan-time checks, all six services are planned, nothing is built (no Go
// toolchain on PATH) and no cloud is called (the deployers run only at
// apply).
func planMultiCloud(t *testing.T, engine, work string, env []string) {
	dist := t.TempDir()
	for _, f := range []string{"aws-lambda-arm64.zip", "gcp-run-amd64.tar", "azure-functions-amd64.zip"} {
		if err := os.WriteFile(filepath.Join(dist, f), []byte("stand-in "+f), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(engine, "plan", "-no-color", "-input=false", "-var", "dist_dir="+dist, //nolint:gosec // G204: the test's own engine
		"-var", "gcp_project=my-project-1", "-var", "gcp_service_account=acquire-run@my-project-1.iam.gserviceaccount.com",
		"-var", "azure_subscription=00000000-0000-0000-0000-000000000000", "-var", "azure_resource_group=acquire",
		"-var", "azure_storage_account=acquiredemo", "-var", "azure_key_vault=acquire-kv")
	cmd.Dir = work
	cmd.Env = append(env, "PATH=/nonexistent", "AWS_ACCESS_KEY_ID=fake", "AWS_SECRET_ACCESS_KEY=fake", "ACQUIRE_SECRET_SEED=",
		"AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "Plan: 6 to add, 0 to change, 0 to destroy.") {
		t.Fatalf("%s plan examples/multi-cloud: %v\n%s", filepath.Base(engine), err, out)
	}
	entries, _ := os.ReadDir(dist)
	if len(entries) != 3 {
		t.Fatalf("the plan wrote into dist: %v", entries)
	}
}
