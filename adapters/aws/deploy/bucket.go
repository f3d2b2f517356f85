package deploy

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
)

// ensureBucket creates the store's bucket unless it exists.
func (d *Deployer) ensureBucket(ctx context.Context, bucket string) error {
	_, err := d.c.S3.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(bucket)})
	if err == nil {
		return nil
	}
	if !isS3NotFound(err) {
		return fmt.Errorf("deploy: bucket %s: %w", bucket, err)
	}
	in := &s3.CreateBucketInput{Bucket: aws.String(bucket)}
	// us-east-1 is the one region S3 refuses as a location constraint.
	if d.region != "us-east-1" {
		in.CreateBucketConfiguration = &s3types.CreateBucketConfiguration{LocationConstraint: s3types.BucketLocationConstraint(d.region)}
	}
	_, err = d.c.S3.CreateBucket(ctx, in)
	var owned *s3types.BucketAlreadyOwnedByYou
	if err != nil && !errors.As(err, &owned) {
		return fmt.Errorf("deploy: create bucket %s: %w", bucket, err)
	}
	return nil
}

// deleteBucket empties the bucket (bounded) and deletes it. Versioned
// objects are not removed: such a bucket stays, with ErrBucketNotEmpty.
func (d *Deployer) deleteBucket(ctx context.Context, bucket string) error {
	removed := 0
	for {
		list, err := d.c.S3.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), MaxKeys: aws.Int32(1000)})
		if isS3NotFound(err) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("deploy: list bucket %s: %w", bucket, err)
		}
		if len(list.Contents) == 0 {
			break
		}
		if removed += len(list.Contents); removed > MaxEmptyObjects {
			return fmt.Errorf("%w: %s holds over %d objects", ErrBucketNotEmpty, bucket, MaxEmptyObjects)
		}
		if err := d.deleteObjects(ctx, bucket, list.Contents); err != nil {
			return err
		}
	}
	_, err := d.c.S3.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String(bucket)})
	var ae smithy.APIError
	switch {
	case err == nil || isS3NotFound(err):
		return nil
	case errors.As(err, &ae) && ae.ErrorCode() == "BucketNotEmpty":
		return fmt.Errorf("%w: %s (versioned objects or new writes)", ErrBucketNotEmpty, bucket)
	default:
		return fmt.Errorf("deploy: delete bucket %s: %w", bucket, err)
	}
}

func (d *Deployer) deleteObjects(ctx context.Context, bucket string, objs []s3types.Object) error {
	ids := make([]s3types.ObjectIdentifier, len(objs))
	for i, o := range objs {
		ids[i] = s3types.ObjectIdentifier{Key: o.Key}
	}
	out, err := d.c.S3.DeleteObjects(ctx, &s3.DeleteObjectsInput{
		Bucket: aws.String(bucket),
		Delete: &s3types.Delete{Objects: ids, Quiet: aws.Bool(true)},
	})
	if err != nil {
		return fmt.Errorf("deploy: empty bucket %s: %w", bucket, err)
	}
	if len(out.Errors) > 0 {
		return fmt.Errorf("%w: %s: %d objects could not be deleted", ErrBucketNotEmpty, bucket, len(out.Errors))
	}
	return nil
}

func isS3NotFound(err error) bool {
	if err == nil {
		return false
	}
	var nb *s3types.NoSuchBucket
	var nf *s3types.NotFound
	var ae smithy.APIError
	return errors.As(err, &nb) || errors.As(err, &nf) ||
		(errors.As(err, &ae) && (ae.ErrorCode() == "NoSuchBucket" || ae.ErrorCode() == "NotFound"))
}
