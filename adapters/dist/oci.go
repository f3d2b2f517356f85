package dist

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/google/go-containerregistry/pkg/v1/validate"
)

// OCIRefName is the reference name the Fn image carries in its layout's
// index (org.opencontainers.image.ref.name).
const OCIRefName = "acquire-fn:dist"

// ociLayoutFile is the layout's marker file and its only version.
const ociLayoutFile = `{"imageLayoutVersion":"1.0.0"}`

// OCIArchive writes the single-layer image FROM scratch holding /<binary>
// as an OCI image layout in a tar: oci-layout, index.json naming the
// manifest (with its platform and reference name), and blobs/sha256/ for
// the manifest, the config and the layer. Entries are sorted, owned by
// root, and carry Epoch: the same binary gives the same bytes.
func OCIArchive(w io.Writer, binary, arch string, bin []byte) error {
	img, err := scratchImage(binary, arch, bin, true)
	if err != nil {
		return err
	}
	blobs, desc, err := imageBlobs(img)
	if err != nil {
		return err
	}
	desc.Platform = &v1.Platform{Architecture: arch, OS: "linux"}
	desc.Annotations = map[string]string{"org.opencontainers.image.ref.name": OCIRefName}
	index, err := json.Marshal(v1.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex, Manifests: []v1.Descriptor{desc}})
	if err != nil {
		return err
	}
	files := []File{{Name: "oci-layout", Mode: 0o644, Data: []byte(ociLayoutFile)}, {Name: "index.json", Mode: 0o644, Data: index}}
	names := make([]string, 0, len(blobs))
	for n := range blobs {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		files = append(files, File{Name: "blobs/sha256/" + n, Mode: 0o644, Data: blobs[n]})
	}
	return Tar(w, files)
}

// imageBlobs are the image's manifest, config and layers by hex digest,
// and the manifest's descriptor.
func imageBlobs(img v1.Image) (map[string][]byte, v1.Descriptor, error) {
	blobs := map[string][]byte{}
	manifest, err := img.RawManifest()
	if err != nil {
		return nil, v1.Descriptor{}, err
	}
	digest, err := img.Digest()
	if err != nil {
		return nil, v1.Descriptor{}, err
	}
	mt, err := img.MediaType()
	if err != nil {
		return nil, v1.Descriptor{}, err
	}
	blobs[digest.Hex] = manifest
	config, err := img.RawConfigFile()
	if err != nil {
		return nil, v1.Descriptor{}, err
	}
	configName, err := img.ConfigName()
	if err != nil {
		return nil, v1.Descriptor{}, err
	}
	blobs[configName.Hex] = config
	layers, err := img.Layers()
	if err != nil {
		return nil, v1.Descriptor{}, err
	}
	for _, l := range layers {
		d, err := l.Digest()
		if err != nil {
			return nil, v1.Descriptor{}, err
		}
		rc, err := l.Compressed()
		if err != nil {
			return nil, v1.Descriptor{}, err
		}
		data, err := io.ReadAll(rc)
		_ = rc.Close()
		if err != nil {
			return nil, v1.Descriptor{}, err
		}
		blobs[d.Hex] = data
	}
	return blobs, v1.Descriptor{MediaType: mt, Digest: digest, Size: int64(len(manifest))}, nil
}

// Limits on an OCI archive read back: a deployer reads what a user named,
// so a hostile or corrupt file fails early instead of filling the disk.
const (
	MaxOCIArchiveBytes = 1 << 30
	maxOCIEntries      = 64
)

// ErrOCIArchive is returned for an archive that is not a single-image OCI
// layout as OCIArchive writes one.
var ErrOCIArchive = errors.New("dist: not an OCI image layout archive")

var ociEntry = regexp.MustCompile(`^(oci-layout|index\.json|blobs/sha256/[0-9a-f]{64})$`)

// ReadOCIArchive unpacks the OCI layout archive at path into dir (an empty
// folder the caller owns and keeps while it uses the image) and returns
// its one image. Entries other than the layout's own files, links, and
// archives over MaxOCIArchiveBytes are refused; the image must validate
// whole (every blob matches its digest, the config its layers).
func ReadOCIArchive(path, dir string) (v1.Image, error) {
	f, err := os.Open(path) //nolint:gosec // G304: the artifact the user named
	if err != nil {
		return nil, err
	}
	defer func() { _ = f.Close() }()
	if err := untarLayout(io.LimitReader(f, MaxOCIArchiveBytes+1), dir); err != nil {
		return nil, err
	}
	lp, err := layout.FromPath(dir)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrOCIArchive, err)
	}
	idx, err := lp.ImageIndex()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrOCIArchive, err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrOCIArchive, err)
	}
	if len(im.Manifests) != 1 || !im.Manifests[0].MediaType.IsImage() {
		return nil, fmt.Errorf("%w: want exactly one image in index.json", ErrOCIArchive)
	}
	img, err := lp.Image(im.Manifests[0].Digest)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrOCIArchive, err)
	}
	if err := validate.Image(img); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrOCIArchive, err)
	}
	return img, nil
}

func untarLayout(r io.Reader, dir string) error {
	tr := tar.NewReader(r)
	var total int64
	seen := map[string]bool{}
	for n := 0; ; n++ {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("%w: %w", ErrOCIArchive, err)
		}
		if n >= maxOCIEntries {
			return fmt.Errorf("%w: more than %d entries", ErrOCIArchive, maxOCIEntries)
		}
		if h.Typeflag == tar.TypeDir && (h.Name == "blobs/" || h.Name == "blobs/sha256/") {
			continue
		}
		if h.Typeflag != tar.TypeReg || !ociEntry.MatchString(h.Name) || seen[h.Name] {
			return fmt.Errorf("%w: unexpected entry %q", ErrOCIArchive, h.Name)
		}
		seen[h.Name] = true
		total += h.Size
		if h.Size < 0 || total > MaxOCIArchiveBytes {
			return fmt.Errorf("%w: over %d bytes", ErrOCIArchive, MaxOCIArchiveBytes)
		}
		var buf bytes.Buffer
		if _, err := io.CopyN(&buf, tr, h.Size); err != nil {
			return fmt.Errorf("%w: %w", ErrOCIArchive, err)
		}
		target := filepath.Join(dir, filepath.FromSlash(h.Name))
		if err := os.MkdirAll(filepath.Dir(target), 0o750); err != nil {
			return err
		}
		if err := os.WriteFile(target, buf.Bytes(), 0o600); err != nil {
			return err
		}
	}
	if !seen["oci-layout"] || !seen["index.json"] {
		return fmt.Errorf("%w: no oci-layout or index.json", ErrOCIArchive)
	}
	return nil
}
