package s3store_test

import (
	"errors"
	"fmt"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/openacquire/acquire/adapters/aws/s3store"
	"github.com/openacquire/acquire/runtime/store"
)

// conditionStripper is a reverse proxy on 127.0.0.1 in front of versitygw
// playing an S3-compatible server that ignores conditional writes: it
// drops If-None-Match and If-Match and signs the request again with the
// test credentials (they are signed headers, and a server that ignores
// them still verifies the rest). With drop false it only signs again,
// the control that the proxy itself changes nothing else.
func conditionStripper(t *testing.T, endpoint string, drop bool) string {
	t.Helper()
	target, err := url.Parse(endpoint)
	if err != nil {
		t.Fatal(err)
	}
	signer := v4.NewSigner()
	creds := aws.Credentials{AccessKeyID: serverAccess, SecretAccessKey: serverSecret}
	rp := &httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) {
		pr.SetURL(target)
		r := pr.Out
		r.Host = target.Host
		if drop {
			r.Header.Del("If-None-Match")
			r.Header.Del("If-Match")
		}
		r.Header.Del("Authorization")
		if err := signer.SignHTTP(r.Context(), creds, r, r.Header.Get("X-Amz-Content-Sha256"), "s3", "us-east-1", time.Now()); err != nil {
			t.Errorf("re-sign: %v", err)
		}
	}}
	srv := httptest.NewServer(rp) // 127.0.0.1, ephemeral port
	t.Cleanup(srv.Close)
	return srv.URL
}

// TestConditionalWritesIgnoredFailsClosed: behind a server that ignores
// If-None-Match, put-if-absent would silently become a plain put. The
// driver checks the server once per bucket, at store.Open and before its
// first conditional write, and refuses it with ErrConditionalWritesIgnored,
// writing nothing and leaving no probe behind; through the same proxy
// without the header dropped, everything works.
func TestConditionalWritesIgnoredFailsClosed(t *testing.T) {
	endpoint := startServer(t)
	real := newDriver(t, endpoint, "svc/")
	bucket := fmt.Sprintf("acq-test-%04d", bucketSeq.Load())
	s3store.Register()
	t.Setenv("AWS_ACCESS_KEY_ID", serverAccess)
	t.Setenv("AWS_SECRET_ACCESS_KEY", serverSecret)
	t.Setenv("AWS_CONFIG_FILE", "/dev/null")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
	open := func(proxy string) (*store.Bucket, error) {
		return store.Open(ctx(t), fmt.Sprintf("s3://%s?region=us-east-1&path_style=true&prefix=svc&endpoint=%s", bucket, url.QueryEscape(proxy)))
	}

	stripping := conditionStripper(t, endpoint, true)
	if b, err := open(stripping); !errors.Is(err, s3store.ErrConditionalWritesIgnored) || !errors.Is(err, store.ErrUnsupported) ||
		!strings.Contains(err.Error(), "If-None-Match") {
		if b != nil {
			_ = b.Close()
		}
		t.Fatalf("store.Open behind a server ignoring If-None-Match: %v; want ErrConditionalWritesIgnored", err)
	}
	// A driver made with New, which makes no call, fails closed at its
	// first conditional write, before writing anything.
	d, err := s3store.New(ctx(t), s3store.Config{Bucket: bucket, Region: "us-east-1", Endpoint: stripping, Prefix: "svc/", PathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider(serverAccess, serverSecret, "")})
	if err != nil {
		t.Fatal(err)
	}
	b := store.NewBucket(d)
	for i := range 2 {
		if _, err := b.PutIfAbsent(ctx(t), "once", []byte("x")); !errors.Is(err, s3store.ErrConditionalWritesIgnored) {
			t.Fatalf("PutIfAbsent %d behind a server ignoring If-None-Match: %v; want ErrConditionalWritesIgnored", i, err)
		}
	}
	listed, err := real.Client().ListObjectsV2(ctx(t), &s3.ListObjectsV2Input{Bucket: &bucket})
	if err != nil || len(listed.Contents) != 0 {
		t.Fatalf("bucket after refused writes: %d objects %v; want none (no write, no probe left)", len(listed.Contents), err)
	}

	ok, err := open(conditionStripper(t, endpoint, false))
	if err != nil {
		t.Fatalf("store.Open through the proxy keeping the headers: %v", err)
	}
	defer func() { _ = ok.Close() }()
	if _, err := ok.PutIfAbsent(ctx(t), "once", []byte("x")); err != nil {
		t.Fatal(err)
	}
	if _, err := ok.PutIfAbsent(ctx(t), "once", []byte("y")); !errors.Is(err, store.ErrPrecondition) {
		t.Fatalf("second PutIfAbsent through the faithful proxy: %v; want ErrPrecondition", err)
	}
}
