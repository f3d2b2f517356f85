package dist_test

import (
	"archive/zip"
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/validate"

	"github.com/openacquire/acquire/adapters/dist"
)

// Building twice gives the same bytes, and each artifact holds what its
// platform looks for.
func TestArtifactsReproducibleAndComplete(t *testing.T) {
	ctx := context.Background()
	first, err := dist.WriteAll(ctx, "../..", t.TempDir(), []string{"amd64"})
	if err != nil {
		t.Fatal(err)
	}
	second, err := dist.WriteAll(ctx, "../..", t.TempDir(), []string{"amd64"})
	if err != nil {
		t.Fatal(err)
	}
	if len(first) != 3 || len(second) != 3 {
		t.Fatalf("artifacts: %d and %d, want 3", len(first), len(second))
	}
	for i := range first {
		if first[i].SHA256 != second[i].SHA256 || filepath.Base(first[i].Path) != filepath.Base(second[i].Path) {
			t.Errorf("not reproducible: %+v vs %+v", first[i], second[i])
		}
	}
	byName := map[string]string{}
	for _, a := range first {
		byName[filepath.Base(a.Path)] = a.Path
	}
	wantZip(t, byName["aws-lambda-amd64.zip"], map[string]os.FileMode{"bootstrap": 0o755})
	wantZip(t, byName["azure-functions-amd64.zip"], map[string]os.FileMode{"host.json": 0o644, "acquire/function.json": 0o644, "handler": 0o755})
	img, err := tarball.ImageFromPath(byName["gcp-run-amd64.tar"], nil)
	if err != nil {
		t.Fatal(err)
	}
	// The image must read back whole (manifest, config and layer agree), as
	// a registry push reads it.
	if err := validate.Image(img); err != nil {
		t.Fatalf("image does not validate: %v", err)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Architecture != "amd64" || cfg.OS != "linux" || len(cfg.Config.Entrypoint) != 1 || cfg.Config.Entrypoint[0] != "/server" ||
		len(cfg.RootFS.DiffIDs) != 1 {
		t.Fatalf("image config %+v", cfg.Config)
	}
}

func wantZip(t *testing.T, path string, want map[string]os.FileMode) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	if len(zr.File) != len(want) {
		t.Fatalf("%s holds %d files, want %d", path, len(zr.File), len(want))
	}
	for _, f := range zr.File {
		mode, ok := want[f.Name]
		if !ok || f.Mode().Perm() != mode || f.UncompressedSize64 == 0 || !f.Modified.Equal(dist.Epoch) {
			t.Errorf("%s: %s mode %v size %d time %v", path, f.Name, f.Mode(), f.UncompressedSize64, f.Modified)
		}
	}
}
