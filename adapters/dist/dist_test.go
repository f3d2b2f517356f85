package dist_test

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
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
	if len(first) != len(dist.Targets) || len(second) != len(dist.Targets) {
		t.Fatalf("artifacts: %d and %d, want %d", len(first), len(second), len(dist.Targets))
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
	wantFnLayout(t, byName["fn-amd64.tar"])
}

// The Fn artifact reads back as an OCI image layout: OCI media types, the
// platform and reference name in index.json, and the entry point inside.
func wantFnLayout(t *testing.T, path string) {
	t.Helper()
	img, err := dist.ReadOCIArchive(path, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	mt, _ := img.MediaType()
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	if mt != types.OCIManifestSchema1 || m.Config.MediaType != types.OCIConfigJSON || len(m.Layers) != 1 || m.Layers[0].MediaType != types.OCILayer {
		t.Fatalf("media types %s %+v", mt, m)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Architecture != "amd64" || cfg.OS != "linux" || len(cfg.Config.Entrypoint) != 1 || cfg.Config.Entrypoint[0] != "/function" {
		t.Fatalf("fn image config %+v", cfg)
	}
	layers, _ := img.Layers()
	rc, err := layers[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = rc.Close() }()
	h, err := tar.NewReader(rc).Next()
	if err != nil || h.Name != "function" || h.Mode != 0o755 || h.Size == 0 {
		t.Fatalf("layer entry %+v %v", h, err)
	}
	dir := t.TempDir()
	untar(t, path, dir)
	idx, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	im, err := idx.IndexManifest()
	if err != nil || len(im.Manifests) != 1 || im.Manifests[0].Platform == nil || im.Manifests[0].Platform.Architecture != "amd64" ||
		im.Manifests[0].Annotations["org.opencontainers.image.ref.name"] != dist.OCIRefName {
		t.Fatalf("index %+v %v", im, err)
	}
}

func untar(t *testing.T, path, dir string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, filepath.FromSlash(h.Name))
		if err := os.MkdirAll(filepath.Dir(p), 0o750); err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(tr)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
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
