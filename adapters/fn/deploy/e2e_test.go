package deploy_test

import (
	"context"
	"net/url"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/openacquire/acquire/adapters/aws/s3store"
	"github.com/openacquire/acquire/adapters/deployer"
	"github.com/openacquire/acquire/adapters/fn/deploy"
	"github.com/openacquire/acquire/adapters/functiontest"
	"github.com/openacquire/acquire/adapters/servertest"
	"github.com/openacquire/acquire/runtime/store"
)

// What the deployer deploys works: the function, configured only by what
// the deployer sent, answers real encrypted calls at the deployment's URL
// through its triggers, over a real S3 store (versitygw). Delete with data
// empties that store and keeps the bucket.
func TestDeployedServiceAnswersAndDeleteEmptiesItsStore(t *testing.T) {
	ctx := context.Background()
	endpoint := servertest.Start(t, servertest.Versitygw)
	t.Setenv("AWS_ACCESS_KEY_ID", servertest.S3Access)
	t.Setenv("AWS_SECRET_ACCESS_KEY", servertest.S3Secret)
	t.Setenv("AWS_CONFIG_FILE", "/dev/null")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
	client := s3.New(s3.Options{Region: "us-east-1", BaseEndpoint: aws.String(endpoint), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider(servertest.S3Access, servertest.S3Secret, "")})
	if _, err := client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("fn-e2e")}); err != nil {
		t.Fatal(err)
	}
	storeURL := "s3://fn-e2e?region=us-east-1&path_style=true&endpoint=" + url.QueryEscape(endpoint)

	r := newRig(t)
	r.api.RunFunctions(t)
	s := deployer.Spec{Name: "acq-e2e", Kinds: []string{"registry", "identity"}, Artifact: r.artifact, Secret: functiontest.Secret,
		Settings: map[string]string{deploy.SettingStoreURL: storeURL}}
	dep, err := r.d.Create(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	functiontest.Journey(t, dep.URL)

	s3store.Register()
	b, err := store.Open(ctx, storeURL)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = b.Close() }()
	if page, err := b.List(ctx, "", "", 10); err != nil || len(page.Items) == 0 {
		t.Fatalf("the service wrote nothing to its store: %v %v", page, err)
	}
	if err := r.d.Delete(ctx, "acq-e2e", true); err != nil {
		t.Fatal(err)
	}
	if page, err := b.List(ctx, "", "", 10); err != nil || len(page.Items) != 0 {
		t.Fatalf("delete with data left %v %v", page.Items, err)
	}
	if _, err := client.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String("fn-e2e")}); err != nil {
		t.Fatalf("the bucket is not the deployer's to delete: %v", err)
	}
}
