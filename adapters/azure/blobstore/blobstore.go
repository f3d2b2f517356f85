// Package blobstore is the Azure Blob Storage object store driver (azblob).
// It also runs against Azurite, Microsoft's emulator.
//
// # Store URL
//
//	azblob://CONTAINER?account=NAME&endpoint=URL&prefix=P
//
// account is the storage account; endpoint is the blob service's base URL
// (default https://ACCOUNT.blob.core.windows.net; for Azurite
// "http://127.0.0.1:10000/devstoreaccount1"). prefix puts every key under P/.
//
// Credentials come only from the environment, never from the URL, and no
// error repeats one: AZURE_STORAGE_CONNECTION_STRING (AccountName and
// AccountKey, with BlobEndpoint or EndpointSuffix), else AZURE_STORAGE_KEY
// with the URL's account (or AZURE_STORAGE_ACCOUNT), else Microsoft Entra ID
// through azidentity's default credential chain. A shared key also signs
// URLs (a blob service SAS); without one SignedURL returns ErrUnsupported.
// Call Register once at start-up to make store.Open accept azblob:// URLs.
//
// # Versions
//
// The version is the blob's ETag, which Azure makes new for every write, so
// there is no ABA problem. PutIfAbsent sends If-None-Match: *, PutIfVersion
// and DeleteIfVersion send If-Match: the server decides every race. 412 and
// 409 BlobAlreadyExists are ErrPrecondition, 404 ErrNotFound; 429, 5xx and
// network failures wrap ErrTransient. The SDK's own retries are off: a
// retried conditional write whose first attempt landed would report its own
// success as a lost race; store.Bucket retries the reads. Each write is one
// Put Blob request carrying a Content-MD5 the server checks.
package blobstore

import (
	"bytes"
	"context"
	"crypto/md5" //nolint:gosec // Content-MD5 is Azure's transfer check, not a security measure
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/streaming"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/bloberror"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blockblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/sas"

	"github.com/openacquire/acquire/adapters/storeurl"
	"github.com/openacquire/acquire/runtime/store/driver"
)

// maxPrefixBytes bounds the URL's prefix, leaving room for keys.
const maxPrefixBytes = 256

// sasClockSkew back-dates a SAS's start time so a server whose clock is a
// little behind still accepts it.
const sasClockSkew = 5 * time.Minute

// Config configures a driver. Container and Account are required, and
// SharedKey, when set, must be for Account.
type Config struct {
	Container string
	Account   string
	// Endpoint is the blob service base URL; "" is
	// https://ACCOUNT.blob.core.windows.net.
	Endpoint string
	// Prefix, "" or a valid key prefix ending in "/", is prepended to every
	// key and stripped from listed keys.
	Prefix string
	// SharedKey authenticates requests and signs URLs. ParseURL never sets
	// it; OpenURL takes it from the environment (see the package doc).
	SharedKey *container.SharedKeyCredential `json:"-"`
	// TokenCredential (Microsoft Entra ID) authenticates when SharedKey is
	// nil; such a driver cannot sign URLs.
	TokenCredential azcore.TokenCredential `json:"-"`
	// HTTPClient replaces the SDK's transport (tests); nil is the default.
	HTTPClient policy.Transporter
}

// Driver is an Azure Blob container (or a prefix of one).
type Driver struct {
	client *container.Client
	shared bool
	prefix string
	closed atomic.Bool
	// listed counts the items listings received from the server (EntriesRead).
	listed atomic.Int64
}

var _ driver.Driver = (*Driver)(nil)

// New returns a driver for cfg. It makes no network call.
func New(_ context.Context, cfg Config) (*Driver, error) {
	if err := validateContainer(cfg.Container); err != nil {
		return nil, err
	}
	if err := validateAccount(cfg.Account); err != nil {
		return nil, err
	}
	if p, err := spec.Prefix(cfg.Prefix); err != nil || p != cfg.Prefix {
		if err == nil {
			err = spec.Errorf("prefix must end in /")
		}
		return nil, err
	}
	endpoint := cfg.Endpoint
	if endpoint == "" {
		endpoint = "https://" + cfg.Account + ".blob.core.windows.net"
	} else if err := spec.Endpoint(endpoint); err != nil {
		return nil, err
	}
	if cfg.SharedKey == nil && cfg.TokenCredential == nil {
		return nil, fmt.Errorf("blobstore: %w: no credentials (set %s)", driver.ErrInvalidArgument, credentialSources)
	}
	if cfg.SharedKey != nil && cfg.SharedKey.AccountName() != cfg.Account {
		return nil, spec.Errorf("the credentials are for another account than %q", cfg.Account)
	}
	opts := &container.ClientOptions{}
	// No SDK retries: a retried conditional write whose first attempt
	// landed would report its own success as a lost race. store.Bucket
	// retries reads on ErrTransient.
	opts.Retry = policy.RetryOptions{MaxRetries: -1}
	opts.Telemetry.Disabled = true
	if cfg.HTTPClient != nil {
		opts.Transport = cfg.HTTPClient
	}
	u := strings.TrimSuffix(endpoint, "/") + "/" + cfg.Container
	var client *container.Client
	var err error
	if cfg.SharedKey != nil {
		client, err = container.NewClientWithSharedKeyCredential(u, cfg.SharedKey, opts)
	} else {
		client, err = container.NewClient(u, cfg.TokenCredential, opts)
	}
	if err != nil {
		return nil, fmt.Errorf("blobstore: new client: %w", err)
	}
	return &Driver{client: client, shared: cfg.SharedKey != nil, prefix: cfg.Prefix}, nil
}

// Client returns the underlying container client (tests and tools that
// must, e.g., create the container).
func (d *Driver) Client() *container.Client { return d.client }

// check gates every operation; with a prefix, the stored name may be longer
// than Azure's 1024-character limit.
func (d *Driver) check(ctx context.Context, key string) error {
	return storeurl.CheckOp(ctx, d.closed.Load(), d.prefix, key)
}

func (d *Driver) blob(key string) *blockblob.Client {
	return d.client.NewBlockBlobClient(d.prefix + key)
}

// Get reads the blob; the ETag comes from the same response as the bytes,
// so they belong to one write.
func (d *Driver) Get(ctx context.Context, key string) ([]byte, driver.Version, error) {
	if err := d.check(ctx, key); err != nil {
		return nil, "", err
	}
	resp, err := d.blob(key).DownloadStream(ctx, nil)
	if err != nil {
		return nil, "", classify(ctx, err)
	}
	defer func() { _ = resp.Body.Close() }()
	size := int64(0)
	if resp.ContentLength != nil {
		size = *resp.ContentLength
	}
	if size < 0 || size > driver.MaxObjectBytes {
		return nil, "", fmt.Errorf("%w: object of %d bytes", driver.ErrTooLarge, size)
	}
	if resp.ETag == nil || *resp.ETag == "" {
		return nil, "", errors.New("blobstore: the server sent no ETag")
	}
	buf := bytes.NewBuffer(make([]byte, 0, size+1))
	n, err := buf.ReadFrom(io.LimitReader(resp.Body, driver.MaxObjectBytes+1))
	if err != nil {
		return nil, "", classify(ctx, err)
	}
	if n > driver.MaxObjectBytes {
		return nil, "", fmt.Errorf("%w: object over %d bytes", driver.ErrTooLarge, driver.MaxObjectBytes)
	}
	if n != size {
		return nil, "", fmt.Errorf("%w: read %d of %d bytes", driver.ErrTransient, n, size)
	}
	return buf.Bytes(), versionOf(*resp.ETag), nil
}

// Put writes unconditionally.
func (d *Driver) Put(ctx context.Context, key string, data []byte) (driver.Version, error) {
	return d.put(ctx, key, data, nil)
}

// PutIfAbsent writes with If-None-Match: *. Azure answers 409
// BlobAlreadyExists (or 412) when the blob exists.
func (d *Driver) PutIfAbsent(ctx context.Context, key string, data []byte) (driver.Version, error) {
	return d.put(ctx, key, data, &blob.ModifiedAccessConditions{IfNoneMatch: new(azcore.ETagAny)})
}

// PutIfVersion writes with If-Match: v; an absent blob is a lost race.
func (d *Driver) PutIfVersion(ctx context.Context, key string, data []byte, v driver.Version) (driver.Version, error) {
	etag, err := etagOf(v)
	if err != nil {
		return "", err
	}
	nv, err := d.put(ctx, key, data, &blob.ModifiedAccessConditions{IfMatch: &etag})
	if errors.Is(err, driver.ErrNotFound) {
		return "", fmt.Errorf("%w: object absent: %w", driver.ErrPrecondition, err)
	}
	return nv, err
}

func (d *Driver) put(ctx context.Context, key string, data []byte, cond *blob.ModifiedAccessConditions) (driver.Version, error) {
	if err := d.check(ctx, key); err != nil {
		return "", err
	}
	sum := md5.Sum(data) //nolint:gosec // see the import
	opts := &blockblob.UploadOptions{
		HTTPHeaders:             &blob.HTTPHeaders{BlobContentType: new("application/octet-stream")},
		TransactionalValidation: blob.TransferValidationTypeMD5(sum[:]),
	}
	if cond != nil {
		opts.AccessConditions = &blob.AccessConditions{ModifiedAccessConditions: cond}
	}
	resp, err := d.blob(key).Upload(ctx, streaming.NopCloser(bytes.NewReader(data)), opts)
	if err != nil {
		return "", classify(ctx, err)
	}
	if resp.ETag == nil || *resp.ETag == "" {
		return "", errors.New("blobstore: the server sent no ETag")
	}
	return versionOf(*resp.ETag), nil
}

// Delete removes the blob; Azure answers 404 for an absent one.
func (d *Driver) Delete(ctx context.Context, key string) error {
	if err := d.check(ctx, key); err != nil {
		return err
	}
	_, err := d.blob(key).Delete(ctx, nil)
	return classify(ctx, err)
}

// DeleteIfVersion deletes with If-Match: v.
func (d *Driver) DeleteIfVersion(ctx context.Context, key string, v driver.Version) error {
	if err := d.check(ctx, key); err != nil {
		return err
	}
	etag, err := etagOf(v)
	if err != nil {
		return err
	}
	b := d.blob(key)
	_, err = b.Delete(ctx, &blob.DeleteOptions{AccessConditions: &blob.AccessConditions{
		ModifiedAccessConditions: &blob.ModifiedAccessConditions{IfMatch: &etag},
	}})
	err = classify(ctx, err)
	if !errors.Is(err, driver.ErrPrecondition) {
		return err
	}
	// Azure (and Azurite) answer 412 for If-Match on an absent blob too;
	// the contract says ErrNotFound then, so ask whether it exists.
	if _, perr := b.GetProperties(ctx, nil); errors.Is(classify(ctx, perr), driver.ErrNotFound) {
		return fmt.Errorf("%w: object absent: %w", driver.ErrNotFound, err)
	}
	return err
}

// List reads one page of a flat listing. Azure lists in lexical order of
// names, and its continuation marker is the page token.
func (d *Driver) List(ctx context.Context, prefix, pageToken string, pageSize int) (driver.Page, error) {
	if err := d.check(ctx, prefix); err != nil {
		return driver.Page{}, err
	}
	opts := &container.ListBlobsFlatOptions{Prefix: new(d.prefix + prefix), MaxResults: new(int32(pageSize))}
	if pageToken != "" {
		opts.Marker = &pageToken
	}
	resp, err := d.client.NewListBlobsFlatPager(opts).NextPage(ctx)
	if err != nil {
		if pageToken != "" && statusOf(err) == http.StatusBadRequest {
			return driver.Page{}, fmt.Errorf("%w: page token refused by the server", driver.ErrInvalidArgument)
		}
		return driver.Page{}, classify(ctx, err)
	}
	page := driver.Page{}
	if resp.NextMarker != nil {
		page.Next = *resp.NextMarker
	}
	if resp.Segment == nil {
		return page, nil
	}
	d.listed.Add(int64(len(resp.Segment.BlobItems)))
	page.Items = make([]driver.ObjectInfo, 0, len(resp.Segment.BlobItems))
	for _, it := range resp.Segment.BlobItems {
		if it == nil || it.Name == nil || it.Properties == nil {
			return driver.Page{}, errors.New("blobstore: listing item without name or properties")
		}
		k, ok := strings.CutPrefix(*it.Name, d.prefix)
		if !ok {
			return driver.Page{}, errors.New("blobstore: listed name outside the prefix")
		}
		info := driver.ObjectInfo{Key: k}
		if p := it.Properties; p.ContentLength != nil {
			info.Size = *p.ContentLength
		}
		if p := it.Properties; p.ETag != nil {
			info.Version = versionOf(*p.ETag)
		}
		if p := it.Properties; p.LastModified != nil {
			info.Modified = *p.LastModified
		}
		page.Items = append(page.Items, info)
	}
	return page, nil
}

// SignedURL makes a blob service SAS URL signed with the shared key: read
// for GET, create and write for PUT. A PUT through it must send
// "x-ms-blob-type: BlockBlob", as Azure's Put Blob requires.
// A SAS cannot bound the size of the body: whoever counts the bytes
// written through it measures what landed (the storage service's commit
// compares every chunk's listed size with its declared one).
func (d *Driver) SignedURL(ctx context.Context, key, method string, expiry time.Duration) (string, error) {
	if err := d.check(ctx, key); err != nil {
		return "", err
	}
	if !d.shared {
		return "", fmt.Errorf("%w: signed URLs need a shared key credential", driver.ErrUnsupported)
	}
	var perms sas.BlobPermissions
	switch method {
	case http.MethodGet:
		perms.Read = true
	case http.MethodPut:
		perms.Create, perms.Write = true, true
	default:
		return "", fmt.Errorf("%w: method %q", driver.ErrInvalidArgument, method)
	}
	now := time.Now()
	u, err := d.client.NewBlobClient(d.prefix+key).GetSASURL(perms, now.Add(expiry),
		&blob.GetSASURLOptions{StartTime: new(now.Add(-sasClockSkew))})
	if err != nil {
		return "", fmt.Errorf("blobstore: sign URL: %w", err)
	}
	return u, nil
}

// Close marks the driver closed; the container is untouched.
func (d *Driver) Close() error {
	d.closed.Store(true)
	return nil
}

// versionOf makes a version of an ETag in its quoted form: Azure quotes
// ETags in headers but not in listings.
func versionOf(etag azcore.ETag) driver.Version {
	s := string(etag)
	if !strings.HasPrefix(s, `"`) && !strings.HasPrefix(s, "W/") {
		s = `"` + s + `"`
	}
	return driver.Version(s)
}

func etagOf(v driver.Version) (azcore.ETag, error) {
	s := string(v)
	if s == "" || s == "*" || strings.ContainsAny(s, "\r\n,") {
		return "", fmt.Errorf("%w: not a version this driver made", driver.ErrInvalidArgument)
	}
	return azcore.ETag(s), nil
}

func statusOf(err error) int {
	var re *azcore.ResponseError
	if errors.As(err, &re) {
		return re.StatusCode
	}
	return 0
}

// classify maps an SDK error onto the store's sentinels.
func classify(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		return fmt.Errorf("blobstore: %w", ctx.Err())
	}
	if bloberror.HasCode(err, bloberror.ContainerNotFound) {
		return fmt.Errorf("blobstore: container missing: %w", err)
	}
	if bloberror.HasCode(err, bloberror.BlobAlreadyExists) {
		return fmt.Errorf("%w: %w", driver.ErrPrecondition, err)
	}
	switch code := statusOf(err); {
	case code == http.StatusPreconditionFailed:
		return fmt.Errorf("%w: %w", driver.ErrPrecondition, err)
	case code == http.StatusNotFound:
		return fmt.Errorf("%w: %w", driver.ErrNotFound, err)
	case code == http.StatusTooManyRequests || code >= 500:
		return fmt.Errorf("%w: %w", driver.ErrTransient, err)
	case code != 0:
		return fmt.Errorf("blobstore: %w", err)
	}
	var ne net.Error
	if errors.As(err, &ne) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%w: %w", driver.ErrTransient, err)
	}
	return fmt.Errorf("blobstore: %w", err)
}

// EntriesRead counts the items this driver's listings received from the
// server: one request of at most a page per List call, never the folder.
func (d *Driver) EntriesRead() int64 { return d.listed.Load() }
