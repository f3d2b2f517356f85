// Package s3store is the Amazon S3 object store driver (aws-sdk-go-v2). It
// also works with S3-compatible servers that honour conditional writes
// (tested against versitygw).
//
// # Store URL
//
//	s3://BUCKET?region=R&endpoint=URL&prefix=P&path_style=true
//
// region is the bucket's region (default: the SDK's default chain, e.g.
// AWS_REGION; "us-east-1" when an endpoint is given and none is set).
// endpoint is an S3-compatible server's base URL ("http://127.0.0.1:7070").
// prefix puts every key under P/ (a host gives each service its own area of
// one bucket). path_style=true addresses the bucket in the path instead of
// the host name, as most S3-compatible servers need. Credentials come only
// from the SDK's default chain (environment, shared files, IAM roles), never
// from the URL: a URL with user information is refused, and no error or log
// line repeats a credential. Call Register once at start-up to make
// store.Open accept s3:// URLs.
//
// # Versions and the ABA problem
//
// The version of an object is its ETag, and the conditional writes are S3's
// own: If-None-Match: * (PutIfAbsent) and If-Match (PutIfVersion,
// DeleteIfVersion), so the server decides every race; nothing is
// read-then-written. But a single-part ETag is the MD5 of the stored bytes,
// so two writes of identical bytes would share a version, and a stale
// compare-and-swap would succeed after an overwrite (ABA). This driver
// therefore stores each object inside a gzip frame whose header carries 16
// fresh random bytes (see frame.go): the stored bytes, and so the ETag,
// differ for every write, and the frame is stripped again on Get. The frame
// is a standard gzip member stored with Content-Encoding: gzip, so a signed
// GET URL serves the caller's exact bytes to any HTTP client that honours
// content codings (browsers, Go's net/http; curl needs --compressed). List
// reports the caller's data size, computed from the stored size.
//
// Objects written around the driver, e.g. through a signed PUT URL, are
// stored as sent: Get returns their bytes as they are, their version is still
// their ETag (so two such uploads of identical bytes share a version; they
// are unconditional writes anyway). List cannot tell them from framed
// objects without reading them, so it under-reports their size by the frame
// overhead (46 bytes up to 64 KiB). The next write through the driver frames
// them again.
//
// # Conditional writes are checked, once per bucket
//
// A server that ignores If-None-Match or If-Match would turn every
// put-if-absent into a plain put, silently: exactly-once would be gone.
// So OpenURL, and every conditional write of a driver made with New, first
// runs CheckConditionalWrites (see conditional.go): a probe object written,
// written again with each condition, refused 412 both times, deleted. A
// server that stored either is ErrConditionalWritesIgnored, and the driver
// writes nothing conditional through it. The check costs three PUTs and a
// DELETE per bucket per process (a cold function start pays it once).
//
// # Errors and retries
//
// 412 PreconditionFailed is ErrPrecondition; 404 (NoSuchKey) is ErrNotFound,
// or ErrPrecondition for PutIfVersion (a vanished object is a lost race). S3
// answers 409 ConditionalRequestConflict when a conditional write raced
// another in flight, before applying it; the driver retries it up to
// conflictAttempts times with jittered backoff, then reports ErrPrecondition.
// The SDK's own retries are off: a write whose first attempt may have landed
// must not be repeated blindly (a retried PutIfAbsent would report its own
// success as a lost race). Throttling, 5xx and network failures wrap
// ErrTransient instead, and store.Bucket retries the reads among them.
//
// Delete must report ErrNotFound for an absent key, which S3's plain
// DeleteObject does not: it reads the ETag with HEAD and deletes with
// If-Match on it, repeating (at most deleteAttempts times) if the object
// changed in between. DeleteIfVersion also reads with HEAD first: AWS answers
// a conditional delete of an absent key with 404, but some S3-compatible
// servers (versitygw 1.8) answer 204, so the HEAD is what tells absent from
// deleted. On such a server, an object deleted by someone else between the
// HEAD and the DELETE is reported as deleted by both; on AWS the DELETE's own
// 404 decides. With a URL prefix, keys may be only 1024 bytes minus the
// prefix long (S3's key limit); longer ones are ErrInvalidKey.
package s3store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/openacquire/acquire/adapters/storeurl"
	"github.com/openacquire/acquire/runtime/store/driver"
)

// Limits.
const (
	// conflictAttempts bounds the tries of a write S3 answers with 409
	// ConditionalRequestConflict.
	conflictAttempts = 5
	// deleteAttempts bounds the HEAD + conditional DELETE rounds of Delete.
	deleteAttempts = 8
	// backoffBase and backoffMax bound the jittered waits between them.
	backoffBase = 5 * time.Millisecond
	backoffMax  = 200 * time.Millisecond
	// idleConnsPerHost keeps connections warm for concurrent callers.
	idleConnsPerHost = 64
	// maxPrefixBytes bounds the URL's prefix, leaving room for keys.
	maxPrefixBytes = 256
)

// Config configures a driver. Bucket is required.
type Config struct {
	Bucket string
	// Region of the bucket; "" takes the SDK default chain's.
	Region string
	// Endpoint of an S3-compatible server; "" is AWS.
	Endpoint string
	// Prefix, "" or a valid key prefix ending in "/", is prepended to every
	// key and stripped from listed keys.
	Prefix string
	// PathStyle addresses the bucket in the URL path.
	PathStyle bool
	// Credentials overrides the SDK's default chain (tests); nil uses it.
	Credentials aws.CredentialsProvider
}

// Driver is an S3 bucket (or a prefix of one).
type Driver struct {
	client   *s3.Client
	presign  *s3.PresignClient
	bucket   string
	prefix   string
	endpoint string
	closed   atomic.Bool
	cond     conditional
	// listed counts the items listings received from the server (EntriesRead).
	listed atomic.Int64
}

var (
	_ driver.Driver         = (*Driver)(nil)
	_ driver.SizedPutSigner = (*Driver)(nil)
)

// New returns a driver for cfg. It makes no network call.
func New(ctx context.Context, cfg Config) (*Driver, error) {
	if err := validateBucket(cfg.Bucket); err != nil {
		return nil, err
	}
	if p, err := spec.Prefix(cfg.Prefix); err != nil || p != cfg.Prefix {
		if err == nil {
			err = spec.Errorf("prefix must end in /")
		}
		return nil, err
	}
	if cfg.Endpoint != "" {
		if err := spec.Endpoint(cfg.Endpoint); err != nil {
			return nil, err
		}
	}
	opts := []func(*config.LoadOptions) error{
		// Retries are the store's business (see the package doc).
		config.WithRetryer(func() aws.Retryer { return aws.NopRetryer{} }),
		config.WithHTTPClient(awshttp.NewBuildableClient().WithTransportOptions(func(t *http.Transport) {
			t.MaxIdleConnsPerHost = idleConnsPerHost
		})),
	}
	if cfg.Region != "" {
		opts = append(opts, config.WithRegion(cfg.Region))
	}
	if cfg.Credentials != nil {
		opts = append(opts, config.WithCredentialsProvider(cfg.Credentials))
	}
	awsCfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("s3store: load AWS configuration: %w", err)
	}
	if awsCfg.Region == "" {
		if cfg.Endpoint == "" {
			return nil, fmt.Errorf("s3store: %w: no region: add ?region= to the URL or set AWS_REGION", driver.ErrInvalidArgument)
		}
		awsCfg.Region = "us-east-1"
	}
	client := s3.NewFromConfig(awsCfg, func(o *s3.Options) {
		if cfg.Endpoint != "" {
			o.BaseEndpoint = aws.String(cfg.Endpoint)
		}
		o.UsePathStyle = cfg.PathStyle
		// The frame carries its own CRC, checked on every Get; flexible
		// checksums would add a pass over the data and aws-chunked
		// encoding, which not every S3-compatible server accepts.
		o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
		o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
		o.DisableLogOutputChecksumValidationSkipped = true
	})
	return &Driver{
		client:   client,
		presign:  s3.NewPresignClient(client),
		bucket:   cfg.Bucket,
		prefix:   cfg.Prefix,
		endpoint: cfg.Endpoint,
	}, nil
}

// Client returns the underlying S3 client (for tests and tools that must,
// e.g., create the bucket).
func (d *Driver) Client() *s3.Client { return d.client }

// check gates every operation. key is "" for operations without one; with
// a prefix, the stored key may be longer than the store's limit allows.
func (d *Driver) check(ctx context.Context, key string) error {
	return storeurl.CheckOp(ctx, d.closed.Load(), d.prefix, key)
}

func (d *Driver) objectKey(key string) *string { return aws.String(d.prefix + key) }

// Get reads the object and strips the frame (see the package doc).
func (d *Driver) Get(ctx context.Context, key string) ([]byte, driver.Version, error) {
	if err := d.check(ctx, key); err != nil {
		return nil, "", err
	}
	out, err := d.client.GetObject(ctx, &s3.GetObjectInput{Bucket: &d.bucket, Key: d.objectKey(key)})
	if err != nil {
		return nil, "", classify(ctx, err)
	}
	defer func() { _ = out.Body.Close() }()
	v, err := versionOf(out.ETag)
	if err != nil {
		return nil, "", err
	}
	raw, err := readBody(out.Body, aws.ToInt64(out.ContentLength))
	if err != nil {
		return nil, "", classify(ctx, err)
	}
	if strings.EqualFold(aws.ToString(out.ContentEncoding), "gzip") && isFramed(raw) {
		data, err := decode(raw)
		if err != nil {
			return nil, "", err
		}
		return data, v, nil
	}
	return raw, v, nil
}

// readBody reads at most maxStoredBytes, sized by the Content-Length.
func readBody(r io.Reader, length int64) ([]byte, error) {
	if length < 0 || length > int64(maxStoredBytes) {
		return nil, fmt.Errorf("%w: stored object of %d bytes", driver.ErrTooLarge, length)
	}
	buf := bytes.NewBuffer(make([]byte, 0, length+1))
	n, err := buf.ReadFrom(io.LimitReader(r, int64(maxStoredBytes)+1))
	if err != nil {
		return nil, err
	}
	if n > int64(maxStoredBytes) {
		return nil, fmt.Errorf("%w: stored object over %d bytes", driver.ErrTooLarge, maxStoredBytes)
	}
	return buf.Bytes(), nil
}

// Put writes unconditionally.
func (d *Driver) Put(ctx context.Context, key string, data []byte) (driver.Version, error) {
	return d.put(ctx, key, data, nil)
}

// PutIfAbsent writes with If-None-Match: *.
func (d *Driver) PutIfAbsent(ctx context.Context, key string, data []byte) (driver.Version, error) {
	return d.put(ctx, key, data, func(in *s3.PutObjectInput) { in.IfNoneMatch = aws.String("*") })
}

// PutIfVersion writes with If-Match: v. An absent key (404) is a lost race:
// ErrPrecondition.
func (d *Driver) PutIfVersion(ctx context.Context, key string, data []byte, v driver.Version) (driver.Version, error) {
	etag, err := etagOf(v)
	if err != nil {
		return "", err
	}
	nv, err := d.put(ctx, key, data, func(in *s3.PutObjectInput) { in.IfMatch = &etag })
	if errors.Is(err, driver.ErrNotFound) {
		return "", fmt.Errorf("%w: object absent: %w", driver.ErrPrecondition, err)
	}
	return nv, err
}

func (d *Driver) put(ctx context.Context, key string, data []byte, cond func(*s3.PutObjectInput)) (driver.Version, error) {
	if err := d.check(ctx, key); err != nil {
		return "", err
	}
	if cond != nil {
		if err := d.CheckConditionalWrites(ctx); err != nil {
			return "", err
		}
	}
	body := encode(data)
	var out *s3.PutObjectOutput
	err := retryConflict(ctx, func() error {
		in := &s3.PutObjectInput{
			Bucket:          &d.bucket,
			Key:             d.objectKey(key),
			Body:            bytes.NewReader(body),
			ContentLength:   aws.Int64(int64(len(body))),
			ContentEncoding: aws.String("gzip"),
			ContentType:     aws.String("application/octet-stream"),
		}
		if cond != nil {
			cond(in)
		}
		var err error
		out, err = d.client.PutObject(ctx, in)
		return err
	})
	if err != nil {
		return "", err
	}
	return versionOf(out.ETag)
}

// Delete removes the key; ErrNotFound if absent (see the package doc).
func (d *Driver) Delete(ctx context.Context, key string) error {
	if err := d.check(ctx, key); err != nil {
		return err
	}
	var err error
	for attempt := range deleteAttempts {
		if attempt > 0 {
			if err := sleep(ctx, attempt); err != nil {
				return err
			}
		}
		var etag string
		if etag, err = d.head(ctx, key); err != nil {
			return err
		}
		err = d.deleteIf(ctx, key, etag)
		if !errors.Is(err, driver.ErrPrecondition) {
			return err
		}
	}
	return fmt.Errorf("%w: object kept changing during %d delete attempts: %w", driver.ErrTransient, deleteAttempts, err)
}

// DeleteIfVersion deletes with If-Match: v, after a HEAD (see the package
// doc): ErrNotFound if absent, ErrPrecondition if the version differs.
func (d *Driver) DeleteIfVersion(ctx context.Context, key string, v driver.Version) error {
	if err := d.check(ctx, key); err != nil {
		return err
	}
	etag, err := etagOf(v)
	if err != nil {
		return err
	}
	cur, err := d.head(ctx, key)
	if err != nil {
		return err
	}
	// Sound without a lock: a version never recurs, so once the key shows
	// another one, v cannot come back.
	if cur != etag {
		return fmt.Errorf("%w: version differs", driver.ErrPrecondition)
	}
	return d.deleteIf(ctx, key, etag)
}

// head returns the key's current ETag header value (quoted).
func (d *Driver) head(ctx context.Context, key string) (string, error) {
	out, err := d.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &d.bucket, Key: d.objectKey(key)})
	if err != nil {
		return "", classify(ctx, err)
	}
	v, err := versionOf(out.ETag)
	if err != nil {
		return "", err
	}
	return `"` + string(v) + `"`, nil
}

// deleteIf deletes with If-Match: etag. S3 answers 404 when the key is
// absent (versitygw answers 204; the HEAD before covers that).
func (d *Driver) deleteIf(ctx context.Context, key, etag string) error {
	if err := d.CheckConditionalWrites(ctx); err != nil {
		return err
	}
	return retryConflict(ctx, func() error {
		_, err := d.client.DeleteObject(ctx, &s3.DeleteObjectInput{
			Bucket: &d.bucket, Key: d.objectKey(key), IfMatch: &etag,
		})
		return err
	})
}

// List pages through ListObjectsV2; S3's continuation token is the page
// token, and S3 lists in UTF-8 byte order, which is the store's order.
func (d *Driver) List(ctx context.Context, prefix, pageToken string, pageSize int) (driver.Page, error) {
	if err := d.check(ctx, prefix); err != nil {
		return driver.Page{}, err
	}
	in := &s3.ListObjectsV2Input{
		Bucket:  &d.bucket,
		Prefix:  aws.String(d.prefix + prefix),
		MaxKeys: aws.Int32(int32(pageSize)),
	}
	if pageToken != "" {
		in.ContinuationToken = &pageToken
	}
	out, err := d.client.ListObjectsV2(ctx, in)
	if err != nil {
		return driver.Page{}, classify(ctx, err)
	}
	d.listed.Add(int64(len(out.Contents)))
	page := driver.Page{Items: make([]driver.ObjectInfo, 0, len(out.Contents))}
	for _, o := range out.Contents {
		k, ok := strings.CutPrefix(aws.ToString(o.Key), d.prefix)
		if !ok {
			return driver.Page{}, fmt.Errorf("s3store: listed key outside the prefix")
		}
		v, err := versionOf(o.ETag)
		if err != nil {
			return driver.Page{}, err
		}
		stored := aws.ToInt64(o.Size)
		size := stored
		if n, ok := dataSize(stored); ok {
			size = n
		}
		page.Items = append(page.Items, driver.ObjectInfo{
			Key: k, Size: size, StoredSize: stored, Version: v, Modified: aws.ToTime(o.LastModified),
		})
	}
	if aws.ToBool(out.IsTruncated) {
		page.Next = aws.ToString(out.NextContinuationToken)
		if page.Next == "" {
			return driver.Page{}, fmt.Errorf("s3store: truncated listing without a continuation token")
		}
	}
	return page, nil
}

// SignedURL presigns a GET or PUT (SigV4, query string). A GET serves the
// caller's bytes gzip-coded (see the package doc); a PUT stores the request
// body as it is sent.
func (d *Driver) SignedURL(ctx context.Context, key, method string, expiry time.Duration) (string, error) {
	if err := d.check(ctx, key); err != nil {
		return "", err
	}
	var req *v4.PresignedHTTPRequest
	var err error
	switch method {
	case http.MethodGet:
		req, err = d.presign.PresignGetObject(ctx, &s3.GetObjectInput{Bucket: &d.bucket, Key: d.objectKey(key)}, s3.WithPresignExpires(expiry))
	case http.MethodPut:
		req, err = d.presign.PresignPutObject(ctx, &s3.PutObjectInput{Bucket: &d.bucket, Key: d.objectKey(key)}, s3.WithPresignExpires(expiry))
	default:
		return "", fmt.Errorf("%w: method %q", driver.ErrInvalidArgument, method)
	}
	if err != nil {
		return "", fmt.Errorf("s3store: presign: %w", err)
	}
	return req.URL, nil
}

// SignedPutURL presigns a PUT of exactly size bytes: the Content-Length is
// among the signed headers, so S3 refuses a body of any other length
// (SignatureDoesNotMatch) and an HTTP client cannot send more than it
// declares. Every HTTP client sends Content-Length itself; no other header
// is needed.
func (d *Driver) SignedPutURL(ctx context.Context, key string, size int64, expiry time.Duration) (string, map[string]string, error) {
	if err := d.check(ctx, key); err != nil {
		return "", nil, err
	}
	req, err := d.presign.PresignPutObject(ctx, &s3.PutObjectInput{Bucket: &d.bucket, Key: d.objectKey(key), ContentLength: aws.Int64(size)},
		s3.WithPresignExpires(expiry))
	if err != nil {
		return "", nil, fmt.Errorf("s3store: presign: %w", err)
	}
	if !signsContentLength(req) {
		// Fail closed: an unbounded URL here would be a quota bypass.
		return "", nil, fmt.Errorf("s3store: presign: the SDK left Content-Length unsigned")
	}
	return req.URL, nil, nil
}

// signsContentLength says whether a presigned request binds its body's
// length: the header is among X-Amz-SignedHeaders.
func signsContentLength(req *v4.PresignedHTTPRequest) bool {
	u, err := url.Parse(req.URL)
	if err != nil {
		return false
	}
	return slices.Contains(strings.Split(u.Query().Get("X-Amz-SignedHeaders"), ";"), "content-length")
}

// Close marks the driver closed; the bucket is untouched.
func (d *Driver) Close() error {
	d.closed.Store(true)
	return nil
}

// versionOf turns an ETag header value into a version: the quotes go, and
// anything that is not a plain ETag is refused rather than trusted.
func versionOf(etag *string) (driver.Version, error) {
	v := strings.Trim(aws.ToString(etag), `"`)
	if !validETag(v) {
		return "", fmt.Errorf("s3store: server answered a malformed ETag")
	}
	return driver.Version(v), nil
}

// etagOf turns a caller's version back into an If-Match value.
func etagOf(v driver.Version) (string, error) {
	if !validETag(string(v)) {
		return "", fmt.Errorf("%w: not a version this driver made", driver.ErrInvalidArgument)
	}
	return `"` + string(v) + `"`, nil
}

// validETag accepts S3's ETag forms: hex digests, "-N" part counts, and the
// letters other S3-compatible servers use; never quotes or control bytes.
func validETag(s string) bool {
	if s == "" || len(s) > 256 {
		return false
	}
	for _, c := range []byte(s) {
		if !etagByte(c) {
			return false
		}
	}
	return true
}

func etagByte(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || strings.IndexByte("-_.:", c) >= 0
}

// errConflict marks a 409 ConditionalRequestConflict: the write did not
// apply and may be retried.
var errConflict = errors.New("conditional request conflict")

// retryConflict runs a write, retrying it only on 409
// ConditionalRequestConflict, and classifies the final error.
func retryConflict(ctx context.Context, write func() error) error {
	var err error
	for attempt := range conflictAttempts {
		if attempt > 0 {
			if err := sleep(ctx, attempt); err != nil {
				return err
			}
		}
		err = classify(ctx, write())
		if !errors.Is(err, errConflict) {
			return err
		}
	}
	return fmt.Errorf("%w: %d conflicting attempts: %w", driver.ErrPrecondition, conflictAttempts, err)
}

// sleep waits a full-jitter backoff for the given retry, or until ctx ends.
func sleep(ctx context.Context, attempt int) error {
	ceiling := min(backoffBase<<min(attempt, 16), backoffMax)
	t := time.NewTimer(time.Duration(rand.Int64N(int64(ceiling))) + 1)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// classify maps an SDK error onto the store's sentinels, keeping the SDK's
// message (operation, status, code, request id: never credentials).
func classify(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		return fmt.Errorf("s3store: %w", ctx.Err())
	}
	status := 0
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		status = re.HTTPStatusCode()
	}
	code := ""
	var ae smithy.APIError
	if errors.As(err, &ae) {
		code = ae.ErrorCode()
	}
	var sendErr *smithyhttp.RequestSendError
	switch {
	case code == "NoSuchBucket":
		return fmt.Errorf("s3store: bucket missing: %w", err)
	case status == http.StatusPreconditionFailed || code == "PreconditionFailed":
		return fmt.Errorf("%w: %w", driver.ErrPrecondition, err)
	case status == http.StatusConflict && code == "ConditionalRequestConflict":
		return fmt.Errorf("%w: %w", errConflict, err)
	case code == "KeyTooLongError":
		return fmt.Errorf("%w: %w", driver.ErrInvalidKey, err)
	case status == http.StatusNotFound || code == "NoSuchKey" || code == "NotFound":
		return fmt.Errorf("%w: %w", driver.ErrNotFound, err)
	case status == http.StatusTooManyRequests || status >= 500 ||
		code == "SlowDown" || code == "Throttling" || code == "RequestTimeout" || code == "InternalError":
		return fmt.Errorf("%w: %w", driver.ErrTransient, err)
	case errors.As(err, &sendErr) || errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("%w: %w", driver.ErrTransient, err)
	}
	return fmt.Errorf("s3store: %w", err)
}

// EntriesRead counts the items this driver's listings received from the
// server: one request of at most a page per List call, never the folder.
func (d *Driver) EntriesRead() int64 { return d.listed.Load() }
