package deploy

import (
	"context"
	"fmt"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/google"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// pushImage pushes the make dist tarball to Artifact Registry and returns
// the image by digest (host/project/repository/name@sha256:…): the service
// runs exactly these bytes, and a re-push of the same tarball is a no-op.
func (d *Deployer) pushImage(ctx context.Context, repository, service, artifact string) (string, error) {
	img, err := tarball.ImageFromPath(artifact, nil)
	if err != nil {
		return "", &SpecError{Field: "Artifact", Reason: fmt.Sprintf("not an image tarball from make dist: %v", err)}
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return "", &SpecError{Field: "Artifact", Reason: fmt.Sprintf("image config: %v", err)}
	}
	// Cloud Run runs linux/amd64 only; make dist also builds arm64.
	if cf.OS != "linux" || cf.Architecture != "amd64" {
		return "", &SpecError{Field: "Artifact", Reason: fmt.Sprintf("is %s/%s; Cloud Run runs linux/amd64 (gcp-run-amd64.tar)", cf.OS, cf.Architecture)}
	}
	digest, err := img.Digest()
	if err != nil {
		return "", fmt.Errorf("gcp deploy: image digest: %w", err)
	}
	ref, err := d.imageRef(repository, service, digest.String())
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(ctx, d.cfg.PushTimeout)
	defer cancel()
	if err := remote.Write(ref, img, remote.WithContext(ctx), d.registryAuth()); err != nil {
		return "", fmt.Errorf("gcp deploy: push %s: %w", ref, err)
	}
	return ref.String(), nil
}

func (d *Deployer) imageRef(repository, service, digest string) (name.Digest, error) {
	var opts []name.Option
	if d.cfg.RegistryInsecure {
		opts = append(opts, name.Insecure)
	}
	repo := d.cfg.RegistryHost + "/" + d.cfg.Project + "/" + repository + "/" + service
	ref, err := name.NewDigest(repo+"@"+digest, opts...)
	if err != nil {
		return name.Digest{}, fmt.Errorf("gcp deploy: image name: %w", err)
	}
	return ref, nil
}

func (d *Deployer) registryAuth() remote.Option {
	if d.cfg.RegistryAuth != nil {
		return remote.WithAuth(d.cfg.RegistryAuth)
	}
	return remote.WithAuthFromKeychain(google.Keychain)
}
