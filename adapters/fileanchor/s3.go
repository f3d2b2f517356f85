package fileanchor

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/feature/s3/transfermanager"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/openacquire/acquire/adapters/aws/s3store"
	"github.com/openacquire/acquire/adapters/servertest"
	"github.com/openacquire/acquire/runtime/bench"
)

const anchorBucket = "acquire-anchor"

// startS3 runs versitygw and answers the AWS SDK v2 transfer manager
// (its defaults: what a user gets) on a bucket the storage service also
// runs on through s3store.
func startS3(ctx context.Context, st *Started, toolsBin string) (bench.FileAnchor, error) {
	srv, err := start(ctx, toolsBin, servertest.Versitygw)
	if err != nil {
		return bench.FileAnchor{}, err
	}
	st.stops = append(st.stops, srv.stop)
	// The host's s3store takes credentials from the AWS default chain:
	// versitygw's test pair (not a secret), for this process only.
	for k, v := range map[string]string{"AWS_ACCESS_KEY_ID": servertest.S3Access, "AWS_SECRET_ACCESS_KEY": servertest.S3Secret,
		"AWS_CONFIG_FILE": os.DevNull, "AWS_SHARED_CREDENTIALS_FILE": os.DevNull} {
		if err := os.Setenv(k, v); err != nil {
			return bench.FileAnchor{}, err
		}
	}
	client := s3.NewFromConfig(aws.Config{Region: "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider(servertest.S3Access, servertest.S3Secret, "")},
		func(o *s3.Options) { o.BaseEndpoint = aws.String(srv.base); o.UsePathStyle = true })
	if _, err := client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(anchorBucket)}); err != nil {
		return bench.FileAnchor{}, fmt.Errorf("fileanchor: create bucket: %w", err)
	}
	s3store.Register()
	tm := transfermanager.New(client)
	return bench.FileAnchor{
		Name:     "S3 (versitygw)",
		SDK:      "AWS SDK v2 transfer manager",
		StoreURL: fmt.Sprintf("s3://%s?region=us-east-1&path_style=true&prefix=acquire&endpoint=%s", anchorBucket, url.QueryEscape(srv.base)),
		Target:   S3Target,
		Rounds:   4,
		Upload: func(ctx context.Context, key string, r io.Reader, _ int64) error {
			_, err := tm.UploadObject(ctx, &transfermanager.UploadObjectInput{Bucket: aws.String(anchorBucket), Key: aws.String("sdk/" + key), Body: r})
			return err
		},
		Download: func(ctx context.Context, key string, f *os.File) error {
			_, err := tm.DownloadObject(ctx, &transfermanager.DownloadObjectInput{Bucket: aws.String(anchorBucket), Key: aws.String("sdk/" + key), WriterAt: f})
			return err
		},
	}, nil
}
