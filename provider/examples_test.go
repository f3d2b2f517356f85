package provider

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
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
