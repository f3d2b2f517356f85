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
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/bloberror"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"
)

// PackageContainer holds the function packages, apart from any store's
// container so that deleting data and deleting code never touch each other.
const PackageContainer = "acquire-packages"

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

func packageBlob(name, digest string) string { return name + "/" + digest + ".zip" }

// uploadPackage stores the zip under its digest; an existing blob of that
// name already holds these bytes, so a repeated Create uploads nothing.
func uploadPackage(ctx context.Context, c *azblob.Client, name string, data []byte, digest string) (string, error) {
	if err := ensureContainer(ctx, c, PackageContainer); err != nil {
		return "", fmt.Errorf("azure deploy: package container: %w", err)
	}
	blob := c.ServiceClient().NewContainerClient(PackageContainer).NewBlockBlobClient(packageBlob(name, digest))
	_, err := blob.GetProperties(ctx, nil)
	if bloberror.HasCode(err, bloberror.BlobNotFound) {
		_, err = blob.UploadBuffer(ctx, data, &azblob.UploadBufferOptions{Concurrency: 2})
	}
	if err != nil {
		return "", fmt.Errorf("azure deploy: uploading package: %w", err)
	}
	// Built by hand: the SDK escapes the '/' in the blob name as %2F.
	return strings.TrimSuffix(c.URL(), "/") + "/" + PackageContainer + "/" + packageBlob(name, digest), nil
}

// deletePackages removes every package blob of one deployment.
func deletePackages(ctx context.Context, c *azblob.Client, name string) error {
	cc := c.ServiceClient().NewContainerClient(PackageContainer)
	pager := cc.NewListBlobsFlatPager(&container.ListBlobsFlatOptions{Prefix: to.Ptr(name + "/")})
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if bloberror.HasCode(err, bloberror.ContainerNotFound) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("azure deploy: listing packages: %w", err)
		}
		for _, b := range page.Segment.BlobItems {
			_, err := cc.NewBlobClient(*b.Name).Delete(ctx, nil)
			if err != nil && !bloberror.HasCode(err, bloberror.BlobNotFound) {
				return fmt.Errorf("azure deploy: deleting package: %w", err)
			}
		}
	}
	return nil
}
