package provider

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"
)

func TestSourceDir(t *testing.T) {
	root := repoRoot(t)
	if got, err := sourceDir(""); err != nil || got != root {
		t.Errorf("from the working directory: %q, %v; want %q", got, err, root)
	}
	if got, err := sourceDir(filepath.Join(root, "provider", "..")); err != nil || got != root {
		t.Errorf("given: %q, %v", got, err)
	}
	other := t.TempDir()
	if err := os.WriteFile(filepath.Join(other, "go.mod"), []byte("module example.com/other\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := sourceDir(other); err == nil {
		t.Error("a go.mod of another module was taken for Acquire's")
	}
}

// The Lambda package is built from this checkout into output_dir; its
// digests describe the file written, and it holds the bootstrap binary.
// One platform only: the three share dist's code, which its own tests cover.
func TestAccFunctionPackageDataSource(t *testing.T) {
	out := t.TempDir()
	cfg := fmt.Sprintf(`data "acquire_function_package" "aws" {
  platform   = "aws"
  output_dir = %q
}
`, out)
	forEachEngine(t, func(t *testing.T) {
		resource.UnitTest(t, resource.TestCase{
			ProtoV6ProviderFactories: testAccProviders,
			Steps: []resource.TestStep{
				{
					Config:      providerBlock("") + `data "acquire_function_package" "x" { platform = "local" }`,
					ExpectError: errorText(`Attribute platform value must be one of: ["aws" "gcp" "azure"], got: "local"`),
				},
				{
					Config:      providerBlock("") + "data \"acquire_function_package\" \"x\" {\n  platform = \"aws\"\n  arch     = \"386\"\n}\n",
					ExpectError: errorText(`Attribute arch value must be one of`),
				},
				{
					Config: providerBlock("") + cfg,
					ConfigStateChecks: []statecheck.StateCheck{
						statecheck.ExpectKnownValue("data.acquire_function_package.aws", tfjsonpath.New("filename"), knownvalue.StringExact("aws-lambda-amd64.zip")),
						statecheck.ExpectKnownValue("data.acquire_function_package.aws", tfjsonpath.New("runtime"), knownvalue.StringExact("provided.al2023")),
						statecheck.ExpectKnownValue("data.acquire_function_package.aws", tfjsonpath.New("source_dir"), knownvalue.StringExact(repoRoot(t))),
					},
					Check: func(s *terraform.State) error {
						attrs := s.RootModule().Resources["data.acquire_function_package.aws"].Primary.Attributes
						return checkLambdaZip(attrs["path"], attrs["sha256"], attrs["size_bytes"])
					},
				},
			},
		})
	})
}

func checkLambdaZip(path, wantSHA, wantSize string) error {
	data, err := os.ReadFile(path) //nolint:gosec // G304: the test's own artifact
	if err != nil {
		return err
	}
	sum := sha256.Sum256(data)
	if hex.EncodeToString(sum[:]) != wantSHA || fmt.Sprint(len(data)) != wantSize {
		return fmt.Errorf("sha256/size %s/%s do not describe %s", wantSHA, wantSize, path)
	}
	zr, err := zip.NewReader(bytesReader(data), int64(len(data)))
	if err != nil {
		return err
	}
	if len(zr.File) != 1 || zr.File[0].Name != "bootstrap" || zr.File[0].Mode().Perm() != 0o755 {
		return fmt.Errorf("the Lambda zip must hold only an executable bootstrap")
	}
	return nil
}

func bytesReader(b []byte) *bytes.Reader { return bytes.NewReader(b) }
