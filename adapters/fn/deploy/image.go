package deploy

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/openacquire/acquire/adapters/dist"
)

// pushImage pushes the make dist OCI layout to <Registry>/<service> and
// returns the image by digest: the function runs exactly these bytes, and
// a re-push of the same archive is a no-op (the registry has every blob).
func (d *Deployer) pushImage(ctx context.Context, service, artifact string) (string, error) {
	tmp, err := os.MkdirTemp("", "acquire-fn-image-")
	if err != nil {
		return "", err
	}
	defer func() { _ = os.RemoveAll(tmp) }()
	img, err := dist.ReadOCIArchive(artifact, tmp)
	if errors.Is(err, dist.ErrOCIArchive) || errors.Is(err, os.ErrNotExist) {
		return "", &SpecError{Field: "Artifact", Reason: fmt.Sprintf("not an Fn image from make dist (dist/fn-<arch>.tar): %v", err)}
	}
	if err != nil {
		return "", err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return "", &SpecError{Field: "Artifact", Reason: fmt.Sprintf("image config: %v", err)}
	}
	if cf.OS != "linux" || (cf.Architecture != "amd64" && cf.Architecture != "arm64") {
		return "", &SpecError{Field: "Artifact", Reason: fmt.Sprintf("is %s/%s; Fn runs linux/amd64 or linux/arm64 images", cf.OS, cf.Architecture)}
	}
	digest, err := img.Digest()
	if err != nil {
		return "", fmt.Errorf("fn deploy: image digest: %w", err)
	}
	var opts []name.Option
	if d.cfg.RegistryInsecure {
		opts = append(opts, name.Insecure)
	}
	ref, err := name.NewDigest(d.cfg.Registry+"/"+service+"@"+digest.String(), opts...)
	if err != nil {
		return "", &SpecError{Field: "Config.Registry", Reason: err.Error()}
	}
	ctx, cancel := context.WithTimeout(ctx, d.cfg.PushTimeout)
	defer cancel()
	auth := remote.WithAuthFromKeychain(authn.DefaultKeychain)
	if d.cfg.RegistryAuth != nil {
		auth = remote.WithAuth(d.cfg.RegistryAuth)
	}
	if err := remote.Write(ref, img, remote.WithContext(ctx), auth); err != nil {
		return "", fmt.Errorf("fn deploy: push %s: %w", ref, err)
	}
	return ref.String(), nil
}

// checkSHA256 refuses an artifact whose SHA-256 is not want (when given).
func checkSHA256(artifact, want string) error {
	if want == "" {
		return nil
	}
	f, err := os.Open(artifact) //nolint:gosec // G304: the artifact the user named
	if err != nil {
		return &SpecError{Field: "Artifact", Reason: err.Error()}
	}
	defer func() { _ = f.Close() }()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return &SpecError{Field: "Artifact", Reason: err.Error()}
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != want {
		return &SpecError{Field: "Function.ArtifactSHA256", Reason: "the artifact's SHA-256 is " + got + ", not the one given"}
	}
	return nil
}
