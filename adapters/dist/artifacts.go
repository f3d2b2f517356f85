package dist

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/openacquire/acquire/adapters/azure/azurefn"
)

// ImageRef is the name the GCP image is saved under; the deployer pushes
// it to the project's registry under its own name.
const ImageRef = "acquire/gcp-run:dist"

// Artifact is one written file and its SHA-256.
type Artifact struct {
	Path   string `json:"path"`
	SHA256 string `json:"sha256"`
	Bytes  int64  `json:"bytes"`
}

// WriteAll builds every target for every arch into dir.
func WriteAll(ctx context.Context, root, dir string, archs []string) ([]Artifact, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, err
	}
	var out []Artifact
	for _, t := range Targets {
		for _, arch := range archs {
			a, err := WriteTarget(ctx, root, dir, t, arch)
			if err != nil {
				return nil, err
			}
			out = append(out, a)
		}
	}
	return out, nil
}

// WriteTarget builds one target for one arch into dir (which must exist),
// for callers that need a single platform's artifact (the Terraform
// provider's acquire_function_package).
func WriteTarget(ctx context.Context, root, dir string, t Target, arch string) (Artifact, error) {
	bin, err := Build(ctx, root, t, arch)
	if err != nil {
		return Artifact{}, err
	}
	return writeArtifact(dir, t, arch, bin)
}

// TargetFor is the target of a platform (aws-lambda, gcp-run, azure-functions, fn).
func TargetFor(platform string) (Target, bool) {
	for _, t := range Targets {
		if t.Platform == platform {
			return t, true
		}
	}
	return Target{}, false
}

func writeArtifact(dir string, t Target, arch string, bin []byte) (Artifact, error) {
	var buf bytes.Buffer
	var ext string
	var err error
	switch t.Platform {
	case "aws-lambda":
		ext, err = ".zip", Zip(&buf, []File{{Name: t.Binary, Mode: 0o755, Data: bin}})
	case "azure-functions":
		ext, err = ".zip", Zip(&buf, []File{
			{Name: "host.json", Mode: 0o644, Data: azurefn.HostJSON},
			{Name: azurefn.FunctionName + "/function.json", Mode: 0o644, Data: azurefn.FunctionJSON},
			{Name: t.Binary, Mode: 0o755, Data: bin},
		})
	case "gcp-run":
		ext, err = ".tar", Image(&buf, t.Binary, arch, bin)
	case "fn":
		ext, err = ".tar", OCIArchive(&buf, t.Binary, arch, bin)
	default:
		err = fmt.Errorf("dist: unknown platform %q", t.Platform)
	}
	if err != nil {
		return Artifact{}, err
	}
	path := filepath.Join(dir, t.Platform+"-"+arch+ext)
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil { //nolint:gosec // artifacts are for publishing
		return Artifact{}, err
	}
	return Artifact{Path: path, SHA256: sha256Hex(buf.Bytes()), Bytes: int64(buf.Len())}, nil
}

// Image writes a single-layer OCI image FROM scratch holding /<binary> as
// its entry point, as a docker-save tarball.
func Image(w io.Writer, binary, arch string, bin []byte) error {
	img, err := scratchImage(binary, arch, bin, false)
	if err != nil {
		return err
	}
	ref, err := name.NewTag(ImageRef)
	if err != nil {
		return err
	}
	return tarball.Write(ref, img, w)
}

// scratchImage is one layer holding /<binary>, its entry point, with fixed
// times; with oci, every media type is OCI's (an OCI image layout needs
// them), otherwise Docker's (what docker-save tarballs carry).
func scratchImage(binary, arch string, bin []byte, oci bool) (v1.Image, error) {
	var layerTar bytes.Buffer
	if err := Tar(&layerTar, []File{{Name: binary, Mode: 0o755, Data: bin}}); err != nil {
		return nil, err
	}
	var opts []tarball.LayerOption
	if oci {
		opts = append(opts, tarball.WithMediaType(types.OCILayer))
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(layerTar.Bytes())), nil
	}, opts...)
	if err != nil {
		return nil, err
	}
	base := empty.Image
	if oci {
		base = mutate.ConfigMediaType(mutate.MediaType(base, types.OCIManifestSchema1), types.OCIConfigJSON)
	}
	// The config first, then the layer: AppendLayers records the layer's
	// diff id in the config, which a config set afterwards would drop.
	img, err := mutate.ConfigFile(base, &v1.ConfigFile{
		Architecture: arch, OS: "linux", Created: v1.Time{Time: Epoch},
		RootFS: v1.RootFS{Type: "layers"},
		Config: v1.Config{Entrypoint: []string{"/" + binary}, User: "65532:65532"},
	})
	if err != nil {
		return nil, err
	}
	img, err = mutate.Append(img, mutate.Addendum{Layer: layer, History: v1.History{Created: v1.Time{Time: Epoch}, CreatedBy: "acquire-dist"}})
	if err != nil {
		return nil, err
	}
	return mutate.CreatedAt(img, v1.Time{Time: Epoch})
}
