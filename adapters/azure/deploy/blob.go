package deploy

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/bloberror"
)

// maxArtifactBytes bounds what is read into memory for upload; the
// Functions zip is a single static binary plus two JSON files.
const maxArtifactBytes = 256 << 20

// ensureContainer creates a container if it is missing.
func ensureContainer(ctx context.Context, c *azblob.Client, name string) error {
	_, err := c.CreateContainer(ctx, name, nil)
	if bloberror.HasCode(err, bloberror.ContainerAlreadyExists) {
		return nil
	}
	return err
}

// deleteContainer removes a container; gone already is success.
func deleteContainer(ctx context.Context, c *azblob.Client, name string) error {
	_, err := c.DeleteContainer(ctx, name, nil)
	if bloberror.HasCode(err, bloberror.ContainerNotFound) {
		return nil
	}
	return err
}

// readArtifact reads the zip and names it by its SHA-256, which is also the
// Deployment's Version.
func readArtifact(path string) (data []byte, digest string, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, "", &SpecError{"Artifact", "cannot be opened: " + errors.Unwrap(err).Error()}
	}
	defer func() { _ = f.Close() }() // read only: a close error loses nothing
	data, err = io.ReadAll(io.LimitReader(f, maxArtifactBytes+1))
	if err != nil {
		return nil, "", fmt.Errorf("azure deploy: reading artifact: %w", err)
	}
	if len(data) > maxArtifactBytes {
		return nil, "", &SpecError{"Artifact", fmt.Sprintf("larger than %d MiB", maxArtifactBytes>>20)}
	}
	if !bytes.HasPrefix(data, []byte("PK\x03\x04")) {
		return nil, "", &SpecError{"Artifact", "not a zip archive"}
	}
	sum := sha256.Sum256(data)
	return data, hex.EncodeToString(sum[:]), nil
}

// containers makes the store's container, the deployment's package
// container and the Functions host's containers, each if missing: the app
// is granted these by name, and may not create containers itself.
func (d *Deployer) containers(ctx context.Context, t target) error {
	bc, err := d.opts.BlobClient(t.account)
	if err != nil {
		return fmt.Errorf("azure deploy: blob client: %w", err)
	}
	for _, c := range []string{t.Bucket, deployContainer(t.Name), hostContainers[0], hostContainers[1]} {
		if err := ensureContainer(ctx, bc, c); err != nil {
			return fmt.Errorf("azure deploy: blob container %s: %w", c, err)
		}
	}
	return nil
}
