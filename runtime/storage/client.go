package storage

import (
	"context"
	"io"
	"net/http"
	"time"

	"github.com/openacquire/acquire/runtime/auth"
	"github.com/openacquire/acquire/runtime/call"
	"github.com/openacquire/acquire/runtime/service"
)

// DefaultParallel is how many chunks a transfer has in flight when the
// client does not say. Memory per transfer is (Parallel+1) chunk buffers.
const DefaultParallel = 4

// MaxParallel bounds the chunks in flight per transfer.
const MaxParallel = 32

// Client is the typed client of a storage service, for a logged-in user
// (any auth.Signer). File bytes go straight to the chunk URLs the service
// hands out, never through envelopes (except inline files).
type Client struct {
	C   *call.Client
	URL string
	// HTTP carries chunk bytes; nil uses a shared pooled client. Its
	// overall Timeout, if any, applies per chunk.
	HTTP *http.Client
	// Parallel is the chunks in flight per transfer (0: DefaultParallel).
	Parallel int
}

// Progress is called as a transfer moves: bytes done of total. Calls are
// serialised and done never decreases.
type Progress func(done, total int64)

// UploadOptions adjust one upload.
type UploadOptions struct {
	// ChunkBytes asks a chunk size (0: the service's default).
	ChunkBytes int64
	// Resume continues the unfinished upload with this id (from OnBegin or
	// an UploadError): the reader must give the same bytes again from the
	// start; only the chunks the service lacks are sent.
	Resume string
	// OnBegin is told the upload once the service knows it (not for inline
	// files), e.g. to save its id where a later run finds it to resume.
	OnBegin func(Upload)
	// Progress reports bytes sent (or skipped as already stored).
	Progress Progress
}

// DownloadOptions adjust one download.
type DownloadOptions struct {
	// Version to fetch (0: the latest).
	Version int64
	// Progress reports bytes written.
	Progress Progress
}

// DriveOptions are a new drive's settings.
type DriveOptions struct {
	MaxBytes    int64  // 0: no limit
	MaxVersions int64  // 0: DefaultMaxVersions
	DeleteRule  string // "": DeleteKeep
	ACL         *ACL   // nil: the creator owns a top-level drive; a sub-drive inherits
}

// authCall signs credentials for resource and calls fn; calls that change
// something carry a fresh idempotency key so the call client may retry them.
func (c *Client) authCall(ctx context.Context, s auth.Signer, fn, resource string, args func(auth.Credentials) any, out any, idem bool) error {
	return service.SignedCall(ctx, c.C, c.URL, s, fn, resource, args, out, idem)
}

// CreateDrive creates a drive: a top-level name, or "parent/child" with
// write access to the parent.
func (c *Client) CreateDrive(ctx context.Context, s auth.Signer, drive string, o DriveOptions) (*DriveInfo, error) {
	args := &CreateDriveArgs{Drive: drive, MaxBytes: o.MaxBytes, MaxVersions: o.MaxVersions, DeleteRule: o.DeleteRule, ACL: o.ACL}
	var out DriveInfo
	return &out, c.authCall(ctx, s, "create_drive", CreateDriveResource(args), func(cr auth.Credentials) any {
		args.Credentials = cr
		return args
	}, &out, true)
}

// ListDrives lists the caller's top-level drives (parent "") or the
// direct sub-drives of parent.
func (c *Client) ListDrives(ctx context.Context, s auth.Signer, parent string) (*DriveList, error) {
	var out DriveList
	return &out, c.authCall(ctx, s, "list_drives", ListDrivesResource(parent), func(cr auth.Credentials) any {
		return &ListDrivesArgs{Credentials: cr, Parent: parent}
	}, &out, false)
}

// GetDrive describes a drive, with the caller's role and its usage.
func (c *Client) GetDrive(ctx context.Context, s auth.Signer, drive string) (*DriveInfo, error) {
	var out DriveInfo
	return &out, c.driveCall(ctx, s, "get_drive", GetDriveResource(drive), drive, &out, false)
}

// driveCall calls fn with one drive's name as its arguments (DriveArgs).
func (c *Client) driveCall(ctx context.Context, s auth.Signer, fn, resource, drive string, out any, idem bool) error {
	return c.authCall(ctx, s, fn, resource, func(cr auth.Credentials) any {
		return &DriveArgs{Credentials: cr, Drive: drive}
	}, out, idem)
}

// SetDrive changes a drive's size limit (0: none), version limit (0:
// DefaultMaxVersions) and delete rule (owners).
func (c *Client) SetDrive(ctx context.Context, s auth.Signer, drive string, maxBytes, maxVersions int64, deleteRule string) (*DriveInfo, error) {
	args := &SetDriveArgs{Drive: drive, MaxBytes: maxBytes, MaxVersions: maxVersions, DeleteRule: deleteRule}
	var out DriveInfo
	return &out, c.authCall(ctx, s, "set_drive", SetDriveResource(args), func(cr auth.Credentials) any {
		args.Credentials = cr
		return args
	}, &out, true)
}

// DeleteDrive deletes an empty drive (owners): no files, no sub-drives.
// Its PARs go with it.
func (c *Client) DeleteDrive(ctx context.Context, s auth.Signer, drive string) (*DriveInfo, error) {
	var out DriveInfo
	return &out, c.driveCall(ctx, s, "delete_drive", DeleteDriveResource(drive), drive, &out, true)
}

// GetACL answers a drive's own and effective ACL.
func (c *Client) GetACL(ctx context.Context, s auth.Signer, drive string) (*ACLInfo, error) {
	var out ACLInfo
	return &out, c.driveCall(ctx, s, "get_acl", GetACLResource(drive), drive, &out, false)
}

// SetACL replaces a drive's ACL (owners); nil makes a sub-drive inherit.
func (c *Client) SetACL(ctx context.Context, s auth.Signer, drive string, acl *ACL) (*ACLInfo, error) {
	var out ACLInfo
	return &out, c.authCall(ctx, s, "set_acl", SetACLResource(drive, acl), func(cr auth.Credentials) any {
		return &SetACLArgs{Credentials: cr, Drive: drive, ACL: acl}
	}, &out, true)
}

// SetGroup creates one of the caller's groups, or replaces its members.
func (c *Client) SetGroup(ctx context.Context, s auth.Signer, group string, members []Principal) (*Group, error) {
	return c.setGroup(ctx, s, &GroupArgs{Group: group, Members: members})
}

// CreateGroup creates one of the caller's groups; ExistsError if they
// have one of that name.
func (c *Client) CreateGroup(ctx context.Context, s auth.Signer, group string, members []Principal) (*Group, error) {
	return c.setGroup(ctx, s, &GroupArgs{Group: group, Members: members, New: true})
}

func (c *Client) setGroup(ctx context.Context, s auth.Signer, args *GroupArgs) (*Group, error) {
	var out Group
	return &out, c.authCall(ctx, s, "set_group", SetGroupResource(args), func(cr auth.Credentials) any {
		args.Credentials = cr
		return args
	}, &out, true)
}

// EditGroup adds and removes members of one of the caller's groups.
func (c *Client) EditGroup(ctx context.Context, s auth.Signer, group string, add, remove []Principal) (*Group, error) {
	args := &EditGroupArgs{Group: group, Add: add, Remove: remove}
	var out Group
	return &out, c.authCall(ctx, s, "edit_group", EditGroupResource(args), func(cr auth.Credentials) any {
		args.Credentials = cr
		return args
	}, &out, true)
}

// GetGroup reads owner's group (owner nil: the caller's); its owner and
// members may.
func (c *Client) GetGroup(ctx context.Context, s auth.Signer, owner *Principal, group string) (*Group, error) {
	args := &GroupArgs{Group: group, Owner: owner}
	var out Group
	return &out, c.authCall(ctx, s, "get_group", GetGroupResource(args), func(cr auth.Credentials) any {
		args.Credentials = cr
		return args
	}, &out, false)
}

// ListGroups lists the caller's groups.
func (c *Client) ListGroups(ctx context.Context, s auth.Signer) (*GroupList, error) {
	var out GroupList
	return &out, c.authCall(ctx, s, "list_groups", ListGroupsResource(), func(cr auth.Credentials) any {
		return &ListGroupsArgs{Credentials: cr}
	}, &out, false)
}

// Upload stores size bytes from r as the next version of drive/name:
// inline when small, else in chunks sent Parallel at a time with bounded
// memory. If it fails after the service knows the upload, the error is an
// *UploadError naming the upload; pass that id as UploadOptions.Resume
// with a reader that starts again from the beginning. The first chunk is
// read while the service begins the upload, so after any error part of r
// may have been read.
func (c *Client) Upload(ctx context.Context, s auth.Signer, drive, name string, r io.Reader, size int64, o UploadOptions) (*FileVersion, error) {
	return c.transfer().upload(ctx, &userSide{c: c, s: s, drive: drive}, name, r, size, o)
}

// UploadStatus says which chunks of an unfinished upload are stored.
func (c *Client) UploadStatus(ctx context.Context, s auth.Signer, upload string) (*Upload, error) {
	return (&userSide{c: c, s: s}).status(ctx, upload)
}

// AbortUpload removes an unfinished upload and its chunks.
func (c *Client) AbortUpload(ctx context.Context, s auth.Signer, upload string) error {
	return c.authCall(ctx, s, "abort_upload", AbortUploadResource(upload), func(cr auth.Credentials) any {
		return &UploadArgs{Credentials: cr, Upload: upload}
	}, nil, true)
}

// Download writes a version of drive/name to w, checking every chunk's
// SHA-256 and the whole file's, with at most Parallel+1 chunks in memory.
func (c *Client) Download(ctx context.Context, s auth.Signer, drive, name string, w io.Writer, o DownloadOptions) (*FileVersion, error) {
	return c.transfer().download(ctx, &userSide{c: c, s: s, drive: drive}, name, w, o)
}

// OpenFile answers a version's metadata and its bytes (inline) or chunk
// GET URLs from chunk from on; Download does the rest.
func (c *Client) OpenFile(ctx context.Context, s auth.Signer, drive, name string, version int64, from int) (*Download, error) {
	return (&userSide{c: c, s: s, drive: drive}).open(ctx, name, version, from)
}

// ListFiles pages through a drive's files (latest version of each, by name).
func (c *Client) ListFiles(ctx context.Context, s auth.Signer, drive, page string, limit int) (*FileList, error) {
	return c.ListFilesUnder(ctx, s, drive, "", page, limit)
}

// ListFilesUnder pages through a drive's files whose names start with
// prefix ("docs/" lists what is under docs), by name.
func (c *Client) ListFilesUnder(ctx context.Context, s auth.Signer, drive, prefix, page string, limit int) (*FileList, error) {
	args := &ListArgs{Drive: drive, Prefix: prefix, Page: page, Limit: limit}
	var out FileList
	return &out, c.authCall(ctx, s, "list_files", ListFilesResource(args), func(cr auth.Credentials) any {
		args.Credentials = cr
		return args
	}, &out, false)
}

// ListVersions pages through a file's versions, oldest first.
func (c *Client) ListVersions(ctx context.Context, s auth.Signer, drive, name, page string, limit int) (*VersionList, error) {
	args := &ListArgs{Drive: drive, Name: name, Page: page, Limit: limit}
	var out VersionList
	return &out, c.authCall(ctx, s, "list_versions", ListVersionsResource(args), func(cr auth.Credentials) any {
		args.Credentials = cr
		return args
	}, &out, false)
}

// DeleteFile deletes a file: purge nil follows the drive's rule, true
// removes every version and its bytes, false writes a tombstone version.
// It answers the tombstone, or the last version purged.
func (c *Client) DeleteFile(ctx context.Context, s auth.Signer, drive, name string, purge *bool) (*FileVersion, error) {
	args := &DeleteFileArgs{Drive: drive, Name: name, Purge: purge}
	var out FileVersion
	return &out, c.authCall(ctx, s, "delete_file", DeleteFileResource(args), func(cr auth.Credentials) any {
		args.Credentials = cr
		return args
	}, &out, true)
}

// CreatePAR makes a PAR on a drive (name "") or one file of it (owners).
// The answer's Link holds the secret: it is shown only here.
func (c *Client) CreatePAR(ctx context.Context, s auth.Signer, drive, name, mode string, expires time.Time) (*NewPAR, error) {
	args := &CreatePARArgs{Drive: drive, Name: name, Mode: mode, Expires: expires.UTC()}
	var out NewPAR
	return &out, c.authCall(ctx, s, "create_par", CreatePARResource(args), func(cr auth.Credentials) any {
		args.Credentials = cr
		return args
	}, &out, true)
}

// ListPARs lists a drive's PARs (owners), without secrets.
func (c *Client) ListPARs(ctx context.Context, s auth.Signer, drive string) (*PARList, error) {
	var out PARList
	return &out, c.driveCall(ctx, s, "list_pars", ListPARsResource(drive), drive, &out, false)
}

// RevokePAR revokes a PAR at once (owners of its drive).
func (c *Client) RevokePAR(ctx context.Context, s auth.Signer, par string) (*PAR, error) {
	var out PAR
	return &out, c.authCall(ctx, s, "revoke_par", RevokePARResource(par), func(cr auth.Credentials) any {
		return &PARArgs{Credentials: cr, PAR: par}
	}, &out, true)
}

func (c *Client) transfer() *transfer {
	return newTransfer(c.HTTP, c.Parallel, c.C.Clock)
}

// userSide is the logged-in user's view of the transfer functions.
type userSide struct {
	c     *Client
	s     auth.Signer
	drive string
}

func (u *userSide) putInline(ctx context.Context, name string, data []byte, sum string) (*FileVersion, error) {
	args := &PutInlineArgs{Drive: u.drive, Name: name, Data: data, SHA256: sum}
	var out FileVersion
	return &out, u.c.authCall(ctx, u.s, "put_inline", PutInlineResource(args), func(cr auth.Credentials) any {
		args.Credentials = cr
		return args
	}, &out, true)
}

func (u *userSide) begin(ctx context.Context, name string, size, chunkBytes int64) (*Upload, error) {
	args := &BeginUploadArgs{Drive: u.drive, Name: name, Size: size, ChunkBytes: chunkBytes}
	var out Upload
	return &out, u.c.authCall(ctx, u.s, "begin_upload", BeginUploadResource(args), func(cr auth.Credentials) any {
		args.Credentials = cr
		return args
	}, &out, true)
}

func (u *userSide) status(ctx context.Context, upload string) (*Upload, error) {
	var out Upload
	return &out, u.c.authCall(ctx, u.s, "upload_status", UploadStatusResource(upload), func(cr auth.Credentials) any {
		return &UploadArgs{Credentials: cr, Upload: upload}
	}, &out, false)
}

func (u *userSide) urls(ctx context.Context, upload string, from, count int) ([]ChunkURL, error) {
	args := &UploadURLsArgs{Upload: upload, From: from, Count: count}
	var out ChunkURLs
	return out.URLs, u.c.authCall(ctx, u.s, "upload_urls", UploadURLsResource(args), func(cr auth.Credentials) any {
		args.Credentials = cr
		return args
	}, &out, false)
}

func (u *userSide) commit(ctx context.Context, upload string, chunks []string, sum string) (*FileVersion, error) {
	args := &CommitUploadArgs{Upload: upload, Chunks: chunks, SHA256: sum}
	var out FileVersion
	return &out, u.c.authCall(ctx, u.s, "commit_upload", CommitUploadResource(args), func(cr auth.Credentials) any {
		args.Credentials = cr
		return args
	}, &out, true)
}

func (u *userSide) open(ctx context.Context, name string, version int64, from int) (*Download, error) {
	args := &FileArgs{Drive: u.drive, Name: name, Version: version, From: from}
	var out Download
	return &out, u.c.authCall(ctx, u.s, "open_file", OpenFileResource(args), func(cr auth.Credentials) any {
		args.Credentials = cr
		return args
	}, &out, false)
}
