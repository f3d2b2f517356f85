// Package gcsstore is the Google Cloud Storage object store driver
// (cloud.google.com/go/storage). It also runs against fake-gcs-server.
//
// # Store URL
//
//	gs://BUCKET?endpoint=URL&prefix=P&signer=ID&anonymous=true
//
// endpoint is a GCS-compatible server's JSON API base URL (e.g.
// "http://127.0.0.1:4443/storage/v1/"); STORAGE_EMULATOR_HOST works too.
// prefix puts every key under P/. signer enables signed URLs (V4 signing):
// "auto" lets the client library find the signing identity in the
// credentials (a service-account key file, or the attached service account
// through the IAM signBlob API), and a service-account e-mail signs as that
// account through IAM signBlob; without signer, SignedURL returns
// ErrUnsupported. anonymous=true sends no credentials (emulators).
// Credentials otherwise come only from Application Default Credentials,
// never from the URL, and no error repeats one. Call Register once at
// start-up to make store.Open accept gs:// URLs.
//
// # Versions
//
// The version is the object's generation, which GCS makes new for every
// write of a name (including after delete and re-create), so there is no ABA
// problem. PutIfAbsent is ifGenerationMatch=0 (DoesNotExist), PutIfVersion
// and DeleteIfVersion are ifGenerationMatch=g: the server decides every
// race. 412 is ErrPrecondition, 404 ErrNotFound; 429, 5xx and network
// failures wrap ErrTransient. The library's own retries are off: it would
// retry conditional writes, and a retried PutIfAbsent whose first attempt
// landed would report its own success as a lost race; store.Bucket retries
// the reads. Writes are single requests (no resumable upload), each with a CRC32C the
// server checks.
package gcsstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"cloud.google.com/go/storage"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/iterator"
	"google.golang.org/api/option"

	"github.com/openacquire/acquire/adapters/storeurl"
	"github.com/openacquire/acquire/runtime/store/driver"
)

// maxPrefixBytes bounds the URL's prefix, leaving room for keys.
const maxPrefixBytes = 256

// Config configures a driver. Bucket is required.
type Config struct {
	Bucket string
	// Endpoint of a GCS-compatible JSON API; "" is Google's.
	Endpoint string
	// Prefix, "" or a valid key prefix ending in "/", is prepended to every
	// key and stripped from listed keys.
	Prefix string
	// Signer enables SignedURL: "auto" or a service-account e-mail (see
	// the package doc); "" disables it.
	Signer string
	// PrivateKey (PEM) signs URLs locally as Signer (tests, key files).
	PrivateKey []byte
	// Anonymous sends no credentials (emulators).
	Anonymous bool
	// ClientOptions are appended to the client's options (tests).
	ClientOptions []option.ClientOption
}

// Driver is a GCS bucket (or a prefix of one).
type Driver struct {
	client   *storage.Client
	bucket   *storage.BucketHandle
	prefix   string
	signer   string
	key      []byte
	insecure bool
	closed   atomic.Bool
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
	var opts []option.ClientOption
	insecure := false
	if cfg.Endpoint != "" {
		if err := spec.Endpoint(cfg.Endpoint); err != nil {
			return nil, err
		}
		opts = append(opts, option.WithEndpoint(cfg.Endpoint))
		insecure = strings.HasPrefix(cfg.Endpoint, "http://")
	}
	if cfg.Anonymous {
		opts = append(opts, option.WithoutAuthentication())
	}
	opts = append(opts, cfg.ClientOptions...)
	client, err := storage.NewClient(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("gcsstore: new client: %w", err)
	}
	return &Driver{
		client: client,
		// No library retries: a retried conditional write whose first
		// attempt landed would report its own success as a lost race.
		// store.Bucket retries reads on ErrTransient.
		bucket:   client.Bucket(cfg.Bucket).Retryer(storage.WithPolicy(storage.RetryNever)),
		prefix:   cfg.Prefix,
		signer:   cfg.Signer,
		key:      cfg.PrivateKey,
		insecure: insecure,
	}, nil
}

// Client returns the underlying client (tests and tools that must, e.g.,
// create the bucket).
func (d *Driver) Client() *storage.Client { return d.client }

// check gates every operation; with a prefix, the stored name may be longer
// than GCS's 1024-byte limit.
func (d *Driver) check(ctx context.Context, key string) error {
	return storeurl.CheckOp(ctx, d.closed.Load(), d.prefix, key)
}

func (d *Driver) object(key string) *storage.ObjectHandle { return d.bucket.Object(d.prefix + key) }

// Get reads the object; the generation comes from the same response as the
// bytes, so they belong to one write.
func (d *Driver) Get(ctx context.Context, key string) ([]byte, driver.Version, error) {
	if err := d.check(ctx, key); err != nil {
		return nil, "", err
	}
	var err error
	for range crcAttempts {
		var data []byte
		var v driver.Version
		data, v, err = d.get(ctx, key)
		if err == nil || !strings.Contains(err.Error(), "bad CRC") {
			return data, v, err
		}
	}
	return nil, "", err
}

// crcAttempts bounds reads again after a checksum mismatch. The client
// checks the body against the CRC32C the answer's headers carry; a
// mismatch means the bytes are not that generation's (corrupted in
// transit, or, on fake-gcs-server, a body from an overwrite racing the
// read), so the read is repeated rather than trusted or failed.
const crcAttempts = 3

func (d *Driver) get(ctx context.Context, key string) ([]byte, driver.Version, error) {
	r, err := d.object(key).ReadCompressed(true).NewReader(ctx)
	if err != nil {
		return nil, "", classify(ctx, err)
	}
	defer func() { _ = r.Close() }()
	size := r.Attrs.Size
	if size < 0 || size > driver.MaxObjectBytes {
		return nil, "", fmt.Errorf("%w: object of %d bytes", driver.ErrTooLarge, size)
	}
	buf := bytes.NewBuffer(make([]byte, 0, size+1))
	n, err := buf.ReadFrom(io.LimitReader(r, driver.MaxObjectBytes+1))
	if err != nil {
		return nil, "", classify(ctx, err)
	}
	if n > driver.MaxObjectBytes {
		return nil, "", fmt.Errorf("%w: object over %d bytes", driver.ErrTooLarge, driver.MaxObjectBytes)
	}
	return buf.Bytes(), versionOf(r.Attrs.Generation), nil
}

// Put writes unconditionally.
func (d *Driver) Put(ctx context.Context, key string, data []byte) (driver.Version, error) {
	return d.put(ctx, key, data, nil)
}

// PutIfAbsent writes with ifGenerationMatch=0.
func (d *Driver) PutIfAbsent(ctx context.Context, key string, data []byte) (driver.Version, error) {
	return d.put(ctx, key, data, &storage.Conditions{DoesNotExist: true})
}

// PutIfVersion writes with ifGenerationMatch=v; GCS answers 412 for an
// absent object too.
func (d *Driver) PutIfVersion(ctx context.Context, key string, data []byte, v driver.Version) (driver.Version, error) {
	g, err := generationOf(v)
	if err != nil {
		return "", err
	}
	nv, err := d.put(ctx, key, data, &storage.Conditions{GenerationMatch: g})
	if errors.Is(err, driver.ErrNotFound) {
		return "", fmt.Errorf("%w: object absent: %w", driver.ErrPrecondition, err)
	}
	return nv, err
}

func (d *Driver) put(ctx context.Context, key string, data []byte, cond *storage.Conditions) (driver.Version, error) {
	if err := d.check(ctx, key); err != nil {
		return "", err
	}
	o := d.object(key)
	if cond != nil {
		o = o.If(*cond)
	}
	// The writer's context bounds the upload: cancelling it aborts.
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w := o.NewWriter(wctx)
	w.ChunkSize = 0 // one request: no resumable session
	w.ContentType = "application/octet-stream"
	w.CRC32C = crc32.Checksum(data, crc32.MakeTable(crc32.Castagnoli))
	w.SendCRC32C = true
	if _, err := w.Write(data); err != nil {
		cancel()
		_ = w.Close()
		return "", classify(ctx, err)
	}
	if err := w.Close(); err != nil {
		return "", classify(ctx, err)
	}
	return versionOf(w.Attrs().Generation), nil
}

// Delete removes the key; GCS answers 404 for an absent one.
func (d *Driver) Delete(ctx context.Context, key string) error {
	if err := d.check(ctx, key); err != nil {
		return err
	}
	return classify(ctx, d.object(key).Delete(ctx))
}

// DeleteIfVersion deletes with ifGenerationMatch=v.
func (d *Driver) DeleteIfVersion(ctx context.Context, key string, v driver.Version) error {
	if err := d.check(ctx, key); err != nil {
		return err
	}
	g, err := generationOf(v)
	if err != nil {
		return err
	}
	return classify(ctx, d.object(key).If(storage.Conditions{GenerationMatch: g}).Delete(ctx))
}

// List reads one page; GCS lists in byte order of UTF-8 names, which is the
// store's order, and its page token is the page token.
func (d *Driver) List(ctx context.Context, prefix, pageToken string, pageSize int) (driver.Page, error) {
	if err := d.check(ctx, prefix); err != nil {
		return driver.Page{}, err
	}
	q := &storage.Query{Prefix: d.prefix + prefix}
	if err := q.SetAttrSelection([]string{"Name", "Size", "Generation", "Updated"}); err != nil {
		return driver.Page{}, err
	}
	var objs []*storage.ObjectAttrs
	next, err := iterator.NewPager(d.bucket.Objects(ctx, q), pageSize, pageToken).NextPage(&objs)
	if err != nil {
		return driver.Page{}, classify(ctx, err)
	}
	d.listed.Add(int64(len(objs)))
	page := driver.Page{Items: make([]driver.ObjectInfo, 0, len(objs)), Next: next}
	for _, o := range objs {
		k, ok := strings.CutPrefix(o.Name, d.prefix)
		if !ok {
			return driver.Page{}, fmt.Errorf("gcsstore: listed name outside the prefix")
		}
		page.Items = append(page.Items, driver.ObjectInfo{
			Key: k, Size: o.Size, Version: versionOf(o.Generation), Modified: o.Updated,
		})
	}
	return page, nil
}

// SignedURL signs a V4 URL when a signer is configured (see the package
// doc), else ErrUnsupported.
func (d *Driver) SignedURL(ctx context.Context, key, method string, expiry time.Duration) (string, error) {
	return d.sign(ctx, key, method, expiry, nil)
}

// LengthRangeHeader is the GCS request header that bounds an upload's
// size ("MIN,MAX" bytes, inclusive).
const LengthRangeHeader = "x-goog-content-length-range"

// SignedPutURL signs a PUT of exactly size bytes: the URL signs
// x-goog-content-length-range "size,size", which the PUT must send (the
// returned header) and GCS enforces, refusing any other body size.
// fake-gcs-server checks neither signatures nor this header; the storage
// service's commit measures every chunk anyway (see docs/design/storage.md).
func (d *Driver) SignedPutURL(ctx context.Context, key string, size int64, expiry time.Duration) (string, map[string]string, error) {
	bound := strconv.FormatInt(size, 10) + "," + strconv.FormatInt(size, 10)
	u, err := d.sign(ctx, key, http.MethodPut, expiry, []string{LengthRangeHeader + ":" + bound})
	if err != nil {
		return "", nil, err
	}
	return u, map[string]string{LengthRangeHeader: bound}, nil
}

func (d *Driver) sign(ctx context.Context, key, method string, expiry time.Duration, headers []string) (string, error) {
	if err := d.check(ctx, key); err != nil {
		return "", err
	}
	if d.signer == "" {
		return "", fmt.Errorf("%w: no signer configured (add ?signer=auto or ?signer=SERVICE_ACCOUNT_EMAIL)", driver.ErrUnsupported)
	}
	if method != http.MethodGet && method != http.MethodPut {
		return "", fmt.Errorf("%w: method %q", driver.ErrInvalidArgument, method)
	}
	opts := &storage.SignedURLOptions{
		Scheme:   storage.SigningSchemeV4,
		Method:   method,
		Expires:  time.Now().Add(expiry),
		Insecure: d.insecure,
		Headers:  headers,
	}
	if d.signer != "auto" {
		opts.GoogleAccessID = d.signer
		opts.PrivateKey = d.key
	}
	u, err := d.bucket.SignedURL(d.prefix+key, opts)
	if err != nil {
		return "", fmt.Errorf("gcsstore: sign URL: %w", err)
	}
	return u, nil
}

// Close closes the client; the bucket is untouched.
func (d *Driver) Close() error {
	if d.closed.Swap(true) {
		return nil
	}
	return d.client.Close()
}

func versionOf(g int64) driver.Version { return driver.Version(strconv.FormatInt(g, 10)) }

func generationOf(v driver.Version) (int64, error) {
	g, err := strconv.ParseInt(string(v), 10, 64)
	if err != nil || g <= 0 {
		return 0, fmt.Errorf("%w: not a version this driver made", driver.ErrInvalidArgument)
	}
	return g, nil
}

// classify maps a client error onto the store's sentinels.
func classify(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		return fmt.Errorf("gcsstore: %w", ctx.Err())
	}
	if errors.Is(err, storage.ErrObjectNotExist) {
		return fmt.Errorf("%w: %w", driver.ErrNotFound, err)
	}
	if errors.Is(err, storage.ErrBucketNotExist) {
		return fmt.Errorf("gcsstore: bucket missing: %w", err)
	}
	var ge *googleapi.Error
	if errors.As(err, &ge) {
		switch {
		case ge.Code == http.StatusPreconditionFailed:
			return fmt.Errorf("%w: %w", driver.ErrPrecondition, err)
		case ge.Code == http.StatusNotFound:
			return fmt.Errorf("%w: %w", driver.ErrNotFound, err)
		case ge.Code == http.StatusTooManyRequests || ge.Code >= 500:
			return fmt.Errorf("%w: %w", driver.ErrTransient, err)
		}
	}
	var ne net.Error
	if errors.As(err, &ne) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%w: %w", driver.ErrTransient, err)
	}
	return fmt.Errorf("gcsstore: %w", err)
}

// EntriesRead counts the items this driver's listings received from the
// server: one request of at most a page per List call, never the folder.
func (d *Driver) EntriesRead() int64 { return d.listed.Load() }
