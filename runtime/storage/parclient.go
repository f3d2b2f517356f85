package storage

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/openacquire/acquire/runtime/call"
	"github.com/openacquire/acquire/runtime/service"
)

// PARLinkPath is the part of a PAR link between the service URL and the
// PAR's id; the secret follows '#', so browsers and proxies never send it.
const PARLinkPath = "/par/"

// ParsePARLink splits a link <service URL>/par/<id>#<secret>.
func ParsePARLink(link string) (serviceURL string, key PARKey, err error) {
	rest, secret, ok := strings.Cut(link, "#")
	i := strings.LastIndex(rest, PARLinkPath)
	if !ok || i <= 0 || secret == "" {
		return "", PARKey{}, call.Errorf(ErrPARInvalid, "a PAR link looks like <service URL>/par/<id>#<secret>")
	}
	serviceURL, id := rest[:i], rest[i+len(PARLinkPath):]
	// A service URL with a query or user names the same service as one
	// without: links the service makes have neither, and refusing them
	// keeps one service from passing for many.
	u, err := url.Parse(serviceURL)
	if err != nil || u.Host == "" || u.User != nil || strings.ContainsAny(serviceURL, "?#") || id == "" || strings.Contains(id, "/") {
		return "", PARKey{}, call.Errorf(ErrPARInvalid, "a PAR link looks like <service URL>/par/<id>#<secret>")
	}
	return serviceURL, PARKey{ID: id, Secret: secret}, nil
}

// PARClient uses a PAR without logging in: what its link allows, nothing
// more. The compute agent reads job inputs and writes outputs with it.
type PARClient struct {
	C   *call.Client
	URL string // the storage service
	// HTTP and Parallel are as in Client.
	HTTP     *http.Client
	Parallel int
	key      PARKey
}

// OpenPAR makes a client for a PAR link; it calls nothing yet.
func OpenPAR(c *call.Client, link string) (*PARClient, error) {
	u, key, err := ParsePARLink(link)
	if err != nil {
		return nil, err
	}
	return &PARClient{C: c, URL: u, key: key}, nil
}

// ID is the PAR's id (never its secret).
func (p *PARClient) ID() string { return p.key.ID }

func (p *PARClient) call(ctx context.Context, fn string, args *PARCallArgs, out any, idem bool) error {
	args.PARKey = p.key
	var opts []call.CallOption
	if idem {
		opts = append(opts, call.WithIdempotencyKey(fn+":"+service.NewID()))
	}
	return p.C.Call(ctx, p.URL, fn, args, out, opts...)
}

// Info describes the PAR: its drive, file (if any), mode and expiry.
func (p *PARClient) Info(ctx context.Context) (*PAR, error) {
	var out PAR
	return &out, p.call(ctx, "par_info", &PARCallArgs{}, &out, false)
}

// List pages through the files a drive PAR can read (a file PAR: its file).
func (p *PARClient) List(ctx context.Context, page string, limit int) (*FileList, error) {
	return p.ListUnder(ctx, "", page, limit)
}

// ListUnder pages through a drive PAR's files whose names start with prefix.
func (p *PARClient) ListUnder(ctx context.Context, prefix, page string, limit int) (*FileList, error) {
	var out FileList
	return &out, p.call(ctx, "par_list_files", &PARCallArgs{Prefix: prefix, Page: page, Limit: limit}, &out, false)
}

// Versions pages through a file's versions (read PARs).
func (p *PARClient) Versions(ctx context.Context, name, page string, limit int) (*VersionList, error) {
	var out VersionList
	return &out, p.call(ctx, "par_list_versions", &PARCallArgs{Name: name, Page: page, Limit: limit}, &out, false)
}

// Download writes name (relative to the PAR's drive; "" for a file PAR's
// file) to w, as Client.Download does.
func (p *PARClient) Download(ctx context.Context, name string, w io.Writer, o DownloadOptions) (*FileVersion, error) {
	return newTransfer(p.HTTP, p.Parallel, p.C.Clock).download(ctx, &parSide{p}, name, w, o)
}

// Upload stores size bytes from r as the next version of name (write
// PARs), as Client.Upload does, resumable the same way.
func (p *PARClient) Upload(ctx context.Context, name string, r io.Reader, size int64, o UploadOptions) (*FileVersion, error) {
	return newTransfer(p.HTTP, p.Parallel, p.C.Clock).upload(ctx, &parSide{p}, name, r, size, o)
}

// parSide is a PAR holder's view of the transfer functions.
type parSide struct{ p *PARClient }

func (s *parSide) putInline(ctx context.Context, name string, data []byte, sum string) (*FileVersion, error) {
	var out FileVersion
	return &out, s.p.call(ctx, "par_put_inline", &PARCallArgs{Name: name, Data: data, SHA256: sum}, &out, true)
}

func (s *parSide) begin(ctx context.Context, name string, size, chunkBytes int64) (*Upload, error) {
	var out Upload
	return &out, s.p.call(ctx, "par_begin_upload", &PARCallArgs{Name: name, Size: size, ChunkReq: chunkBytes}, &out, true)
}

func (s *parSide) status(ctx context.Context, upload string) (*Upload, error) {
	var out Upload
	return &out, s.p.call(ctx, "par_upload_status", &PARCallArgs{Upload: upload}, &out, false)
}

func (s *parSide) urls(ctx context.Context, upload string, from, count int) ([]ChunkURL, error) {
	var out ChunkURLs
	return out.URLs, s.p.call(ctx, "par_upload_urls", &PARCallArgs{Upload: upload, From: from, Count: count}, &out, false)
}

func (s *parSide) commit(ctx context.Context, upload string, chunks []string, sum string) (*FileVersion, error) {
	var out FileVersion
	return &out, s.p.call(ctx, "par_commit_upload", &PARCallArgs{Upload: upload, Chunks: chunks, SHA256: sum}, &out, true)
}

func (s *parSide) open(ctx context.Context, name string, version int64, from int) (*Download, error) {
	var out Download
	return &out, s.p.call(ctx, "par_open_file", &PARCallArgs{Name: name, Version: version, From: from}, &out, false)
}

// Link builds a PAR link (what create_par answers).
func Link(serviceURL, id, secret string) string {
	return fmt.Sprintf("%s%s%s#%s", strings.TrimRight(serviceURL, "/"), PARLinkPath, id, secret)
}
