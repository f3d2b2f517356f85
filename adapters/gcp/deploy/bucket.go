package deploy

import (
	"context"
	"errors"
	"fmt"

	"cloud.google.com/go/storage"
	"google.golang.org/api/iterator"
)

// ensureBucket creates the bucket in the deployer's region, labelled, if
// it is missing. An existing bucket is used as it is (it may hold the data
// of an earlier deployment of the same service) but for its labels.
func (d *Deployer) ensureBucket(ctx context.Context, name string, labels map[string]string) error {
	ctx, cancel := d.call(ctx)
	defer cancel()
	b := d.storage.Bucket(name)
	have, err := b.Attrs(ctx)
	if err == nil {
		return d.labelBucket(ctx, b, have.Labels, labels)
	}
	if !errors.Is(err, storage.ErrBucketNotExist) {
		return fmt.Errorf("gcp deploy: bucket %s: %w", name, err)
	}
	attrs := &storage.BucketAttrs{
		Location:                 d.cfg.Region,
		UniformBucketLevelAccess: storage.UniformBucketLevelAccess{Enabled: true},
		PublicAccessPrevention:   storage.PublicAccessPreventionEnforced,
		Labels:                   labels,
	}
	if err := b.Create(ctx, d.cfg.Project, attrs); err != nil && !isConflict(err) {
		return fmt.Errorf("gcp deploy: create bucket %s: %w", name, err)
	}
	return nil
}

// deleteBucket deletes every object (every generation) and then the bucket,
// within OperationTimeout.
func (d *Deployer) deleteBucket(ctx context.Context, name string) error {
	ctx, cancel := context.WithTimeout(ctx, d.cfg.OperationTimeout)
	defer cancel()
	b := d.storage.Bucket(name)
	it := b.Objects(ctx, &storage.Query{Versions: true})
	for {
		o, err := it.Next()
		if errors.Is(err, iterator.Done) {
			break
		}
		if errors.Is(err, storage.ErrBucketNotExist) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("gcp deploy: list bucket %s: %w", name, err)
		}
		err = b.Object(o.Name).Generation(o.Generation).Delete(ctx)
		if err != nil && !errors.Is(err, storage.ErrObjectNotExist) {
			return fmt.Errorf("gcp deploy: empty bucket %s: %w", name, err)
		}
	}
	if err := b.Delete(ctx); err != nil && !errors.Is(err, storage.ErrBucketNotExist) && !isNotFound(err) {
		return fmt.Errorf("gcp deploy: delete bucket %s: %w", name, err)
	}
	return nil
}

// bucketRole is what a service's identity gets on its bucket: objects
// only (read, write, delete, list), not the bucket's settings or policy.
const bucketRole = "roles/storage.objectAdmin"

// grantBucketAccess binds the service account to bucketRole on exactly
// this bucket (uniform bucket-level access is on, so the bucket policy is
// the only grant); without it the first store read would get 403.
// Re-binding is a no-op.
func (d *Deployer) grantBucketAccess(ctx context.Context, bucket, account string) error {
	ctx, cancel := d.call(ctx)
	defer cancel()
	h := d.storage.Bucket(bucket).IAM()
	pol, err := h.Policy(ctx)
	if err != nil {
		return fmt.Errorf("gcp deploy: bucket %s policy: %w", bucket, err)
	}
	member := "serviceAccount:" + account
	if pol.HasRole(member, bucketRole) {
		return nil
	}
	pol.Add(member, bucketRole)
	if err := h.SetPolicy(ctx, pol); err != nil {
		return fmt.Errorf("gcp deploy: set bucket %s policy: %w", bucket, err)
	}
	return nil
}
