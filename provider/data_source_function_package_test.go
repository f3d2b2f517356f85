package provider

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
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

// The data source finds make dist's artifact in dist_dir, checks and
// describes it, and builds and writes nothing: the folder is the same
// afterwards and no dist/ appears in the checkout. A missing artifact, a
// checksum that does not match and a URL without one fail the plan, each
// naming its attribute.
func TestAccFunctionPackageDataSource(t *testing.T) {
	dir := t.TempDir()
	var zipped bytes.Buffer
	zw := zip.NewWriter(&zipped)
	w, _ := zw.CreateHeader(&zip.FileHeader{Name: "bootstrap", Method: zip.Deflate})
	_, _ = w.Write([]byte("#!/bin/sh\n"))
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	zipPath := filepath.Join(dir, "aws-lambda-amd64.zip")
	if err := os.WriteFile(zipPath, zipped.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(zipped.Bytes())
	want := hex.EncodeToString(sum[:])
	_, statErr := os.Stat(filepath.Join(repoRoot(t), "dist"))
	cfg := func(extra string) string {
		return providerBlock("") + fmt.Sprintf("data \"acquire_function_package\" \"aws\" {\n  platform = \"aws\"\n  %s\n}\n", extra)
	}
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
					Config:      cfg(fmt.Sprintf("dist_dir = %q\narch = \"arm64\"", dir)),
					ExpectError: errorText(`dist_dir: ` + filepath.Join(dir, "aws-lambda-arm64.zip") + " is missing: run `make dist`"),
				},
				{
					Config:      cfg(fmt.Sprintf("dist_dir = %q\nsha256 = %q", dir, strings.Repeat("ab", 32))),
					ExpectError: errorText(`sha256: ` + zipPath + ` has SHA-256 ` + want + `, not the one given.`),
				},
				{
					Config:      cfg(`url = "https://example.com/releases/aws-lambda-amd64.zip"`),
					ExpectError: errorText(`url: give sha256 with it`),
				},
				{
					Config: cfg(fmt.Sprintf("dist_dir = %q\nsha256 = %q", dir, want)),
					ConfigStateChecks: []statecheck.StateCheck{
						statecheck.ExpectKnownValue("data.acquire_function_package.aws", tfjsonpath.New("filename"), knownvalue.StringExact("aws-lambda-amd64.zip")),
						statecheck.ExpectKnownValue("data.acquire_function_package.aws", tfjsonpath.New("runtime"), knownvalue.StringExact("provided.al2023")),
						statecheck.ExpectKnownValue("data.acquire_function_package.aws", tfjsonpath.New("artifact"), knownvalue.StringExact(zipPath)),
						statecheck.ExpectKnownValue("data.acquire_function_package.aws", tfjsonpath.New("size_bytes"), knownvalue.Int64Exact(int64(zipped.Len()))),
					},
					Check: func(*terraform.State) error {
						entries, err := os.ReadDir(dir)
						if err != nil || len(entries) != 1 {
							return fmt.Errorf("the data source wrote into dist_dir: %v %w", entries, err)
						}
						if _, err := os.Stat(filepath.Join(repoRoot(t), "dist")); (err == nil) != (statErr == nil) {
							return errors.New("the data source made a dist folder in the checkout")
						}
						return nil
					},
				},
				{
					Config: cfg(`url = "https://example.com/releases/aws-lambda-amd64.zip"` + "\n" + fmt.Sprintf("sha256 = %q", want)),
					ConfigStateChecks: []statecheck.StateCheck{
						statecheck.ExpectKnownValue("data.acquire_function_package.aws", tfjsonpath.New("artifact"), knownvalue.StringExact("https://example.com/releases/aws-lambda-amd64.zip")),
						statecheck.ExpectKnownValue("data.acquire_function_package.aws", tfjsonpath.New("path"), knownvalue.Null()),
					},
				},
			},
		})
	})
}
