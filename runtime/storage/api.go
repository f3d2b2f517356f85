package storage

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/openacquire/acquire/runtime/auth"
)

// Roles on a drive, weakest first: each includes the ones before it.
const (
	RoleNone  = ""
	RoleRead  = "read"  // list, download
	RoleWrite = "write" // and upload, delete, create sub-drives
	RoleOwner = "owner" // and change the ACL, create and revoke PARs
)

// Kinds of ACL rule.
const (
	RuleUser    = "user"    // one user: IdentityURL + UserUID
	RuleGroup   = "group"   // every member of a storage group
	RuleDefault = "default" // every user of a trusted identity service
)

// Rule grants Role to whoever it matches. A user rule names the user
// (IdentityURL, UserUID); a group rule names the group's owner the same
// way, and the group's name: groups live in their owner's namespace, so
// only that owner decides who a rule naming the group lets in.
type Rule struct {
	Kind        string `json:"kind"`
	IdentityURL string `json:"identity_url,omitempty"`
	UserUID     string `json:"user_uid,omitempty"`
	Group       string `json:"group,omitempty"`
	Role        string `json:"role"`
}

// ACL is a drive's access rules. A user's role is the strongest role of
// the rules that match them.
type ACL struct {
	Rules []Rule `json:"rules"`
}

// Delete rules of a drive: what delete_file does unless told otherwise.
const (
	DeleteKeep  = "keep"  // a tombstone version; older versions stay fetchable
	DeletePurge = "purge" // every version and its bytes are removed
)

// Principal is who did something: a user, or the holder of a PAR.
type Principal struct {
	IdentityURL string `json:"identity_url,omitempty"`
	UserUID     string `json:"user_uid,omitempty"`
	PAR         string `json:"par,omitempty"`
}

// Drive is a drive as stored and answered.
type Drive struct {
	Name     string `json:"name"` // full path, e.g. "a/b/c"
	ID       string `json:"id"`   // internal, names its files' keys
	Parent   string `json:"parent,omitempty"`
	ACL      *ACL   `json:"acl,omitempty"` // nil: inherited from the parent
	MaxBytes int64  `json:"max_bytes,omitempty"`
	// MaxVersions bounds the versions kept (0 on drives older than the
	// limit: DefaultMaxVersions).
	MaxVersions int64     `json:"max_versions,omitempty"`
	DeleteRule  string    `json:"delete_rule"`
	CreatedBy   Principal `json:"created_by"`
	Created     time.Time `json:"created"`
}

// DriveInfo is a drive with the caller's effective role and its usage.
type DriveInfo struct {
	Drive
	Role          string `json:"role"`
	UsageBytes    int64  `json:"usage_bytes"`
	UsageVersions int64  `json:"usage_versions"`
}

// ChunkInfo is one stored chunk of a file.
type ChunkInfo struct {
	Size   int64  `json:"size"`
	CRC32C string `json:"crc32c,omitempty"` // where the host verified it
}

// FileVersion is one version of a file: its metadata. The bytes are
// fetched with open_file.
type FileVersion struct {
	Drive      string    `json:"drive"`
	Name       string    `json:"name"`
	Version    int64     `json:"version"`
	Size       int64     `json:"size"`
	SHA256     string    `json:"sha256"`
	UploadedBy Principal `json:"uploaded_by"`
	Time       time.Time `json:"time"`
	Deleted    bool      `json:"deleted,omitempty"` // a tombstone: the file was deleted (versions kept)
	Inline     bool      `json:"inline,omitempty"`
	ChunkBytes int64     `json:"chunk_bytes,omitempty"`
	Chunks     int       `json:"chunks,omitempty"`
}

// ChunkURL is a short-lived URL for one chunk: PUT its bytes (upload) or
// GET them (download).
type ChunkURL struct {
	Index   int       `json:"index"`
	Method  string    `json:"method"`
	URL     string    `json:"url"`
	Expires time.Time `json:"expires"`
	Size    int64     `json:"size"`             // the chunk's exact size
	CRC32C  string    `json:"crc32c,omitempty"` // downloads: the chunk's CRC-32C (Castagnoli), 8 hex digits
	// Headers are what a PUT must send as they are: the store signed them
	// (GCS's x-goog-content-length-range, which bounds the chunk's size).
	Headers map[string]string `json:"headers,omitempty"`
}

// Upload states.
const (
	UploadOpen       = "open"
	UploadCommitting = "committing" // a commit is running (or stopped: the next one finishes it)
	UploadCommitted  = "committed"
)

// Upload is a chunked upload in progress: what resuming needs.
type Upload struct {
	ID         string    `json:"id"`
	Drive      string    `json:"drive"`
	Name       string    `json:"name"`
	Size       int64     `json:"size"`
	ChunkBytes int64     `json:"chunk_bytes"`
	Chunks     int       `json:"chunks"`
	Expires    time.Time `json:"expires"`
	State      string    `json:"state"`
	// Present lists the chunks already stored (upload_status), with their
	// sizes and, where the host verified them, hashes.
	Present map[int]ChunkInfo `json:"present,omitempty"`
	// URLs are PUT URLs for (some of) the missing chunks; ask upload_urls
	// for more or fresh ones.
	URLs []ChunkURL `json:"urls,omitempty"`
}

// ChunkURLs is what upload_urls answers.
type ChunkURLs struct {
	URLs []ChunkURL `json:"urls"`
}

// Download is what open_file answers: the version's metadata and either
// its bytes (inline files) or one GET URL per chunk.
type Download struct {
	File   FileVersion `json:"file"`
	Data   []byte      `json:"data,omitempty"`
	Chunks []ChunkURL  `json:"chunks,omitempty"`
}

// FileList is one page of a drive's files (latest version of each).
type FileList struct {
	Files []FileVersion `json:"files"`
	Next  string        `json:"next,omitempty"`
}

// VersionList is one page of a file's versions, oldest first.
type VersionList struct {
	Versions []FileVersion `json:"versions"`
	Next     string        `json:"next,omitempty"`
}

// DriveList lists drives.
type DriveList struct {
	Drives []DriveInfo `json:"drives"`
}

// PAR modes.
const (
	PARRead      = "read"
	PARWrite     = "write"
	PARReadWrite = "readwrite"
)

// PAR is a pre-authenticated request as stored and listed: never its
// secret, only a keyed hash of it.
type PAR struct {
	ID        string    `json:"id"`
	Drive     string    `json:"drive"`
	DriveID   string    `json:"drive_id"`
	Name      string    `json:"name,omitempty"` // empty: the whole drive
	Mode      string    `json:"mode"`
	Expires   time.Time `json:"expires"`
	Created   time.Time `json:"created"`
	CreatedBy Principal `json:"created_by"`
	Revoked   bool      `json:"revoked,omitempty"`
	SecretMAC string    `json:"secret_mac,omitempty"`
}

// NewPAR is what create_par answers: the PAR and its link (holding the
// secret, shown once).
type NewPAR struct {
	PAR  PAR    `json:"par"`
	Link string `json:"link"`
}

// PARList lists a drive's PARs.
type PARList struct {
	PARs []PAR `json:"pars"`
}

// Group is a named set of users, managed by its owner, that ACL rules name.
type Group struct {
	Name    string      `json:"name"`
	Owner   Principal   `json:"owner"`
	Members []Principal `json:"members"`
	Updated time.Time   `json:"updated"`
}

// PARKey is what a PAR call carries instead of a login: the PAR's id and
// secret (inside the encrypted envelope).
type PARKey struct {
	ID     string `json:"par_id"`
	Secret string `json:"par_secret"`
}

// ---- arguments of the user (logged-in) functions ----

// CreateDriveArgs creates a drive ("a" or, with write on "a", "a/b").
type CreateDriveArgs struct {
	auth.Credentials
	Drive       string `json:"drive"`
	MaxBytes    int64  `json:"max_bytes,omitempty"`
	MaxVersions int64  `json:"max_versions,omitempty"` // 0: DefaultMaxVersions
	DeleteRule  string `json:"delete_rule,omitempty"`
	ACL         *ACL   `json:"acl,omitempty"`
}

// ListDrivesArgs lists the caller's top-level drives (Parent "") or the
// sub-drives of Parent.
type ListDrivesArgs struct {
	auth.Credentials
	Parent string `json:"parent,omitempty"`
}

// DriveArgs names a drive.
type DriveArgs struct {
	auth.Credentials
	Drive string `json:"drive"`
}

// SetACLArgs replaces a drive's ACL; nil makes a sub-drive inherit again.
type SetACLArgs struct {
	auth.Credentials
	Drive string `json:"drive"`
	ACL   *ACL   `json:"acl"`
}

// ACLInfo answers get_acl: the drive's own ACL (nil if inherited) and the
// effective one, with the drive it comes from.
type ACLInfo struct {
	Drive     string `json:"drive"`
	Own       *ACL   `json:"own,omitempty"`
	Effective ACL    `json:"effective"`
	From      string `json:"from"`
	Role      string `json:"role"` // the caller's
}

// SetDriveArgs changes a drive's limits and delete rule (owners).
type SetDriveArgs struct {
	auth.Credentials
	Drive       string `json:"drive"`
	MaxBytes    int64  `json:"max_bytes"`
	MaxVersions int64  `json:"max_versions,omitempty"` // 0: DefaultMaxVersions
	DeleteRule  string `json:"delete_rule"`
}

// BeginUploadArgs starts a chunked upload of Size bytes.
type BeginUploadArgs struct {
	auth.Credentials
	Drive      string `json:"drive"`
	Name       string `json:"name"`
	Size       int64  `json:"size"`
	ChunkBytes int64  `json:"chunk_bytes,omitempty"` // 0: the service's default
}

// UploadArgs names an upload.
type UploadArgs struct {
	auth.Credentials
	Upload string `json:"upload"`
}

// UploadURLsArgs asks PUT URLs for chunks [From, From+Count).
type UploadURLsArgs struct {
	auth.Credentials
	Upload string `json:"upload"`
	From   int    `json:"from"`
	Count  int    `json:"count"`
}

// CommitUploadArgs finishes an upload: every chunk's CRC-32C (8 hex
// digits), in order, and the whole file's SHA-256.
type CommitUploadArgs struct {
	auth.Credentials
	Upload string   `json:"upload"`
	Chunks []string `json:"chunks"`
	SHA256 string   `json:"sha256"`
}

// PutInlineArgs uploads a small file in one call.
type PutInlineArgs struct {
	auth.Credentials
	Drive  string `json:"drive"`
	Name   string `json:"name"`
	Data   []byte `json:"data"`
	SHA256 string `json:"sha256"`
}

// FileArgs names a file and optionally a version (0: the latest). open_file
// answers GET URLs for at most MaxURLsPerCall chunks from chunk From on.
type FileArgs struct {
	auth.Credentials
	Drive   string `json:"drive"`
	Name    string `json:"name"`
	Version int64  `json:"version,omitempty"`
	From    int    `json:"from,omitempty"`
}

// ListArgs pages through a drive's files (those whose names start with
// Prefix, e.g. "docs/") or a file's versions.
type ListArgs struct {
	auth.Credentials
	Drive  string `json:"drive"`
	Name   string `json:"name,omitempty"`
	Prefix string `json:"prefix,omitempty"`
	Page   string `json:"page,omitempty"`
	Limit  int    `json:"limit,omitempty"`
}

// DeleteFileArgs deletes a file; Purge overrides the drive's rule.
type DeleteFileArgs struct {
	auth.Credentials
	Drive string `json:"drive"`
	Name  string `json:"name"`
	Purge *bool  `json:"purge,omitempty"`
}

// CreatePARArgs creates a PAR on a drive, or on one file of it.
type CreatePARArgs struct {
	auth.Credentials
	Drive   string    `json:"drive"`
	Name    string    `json:"name,omitempty"`
	Mode    string    `json:"mode"`
	Expires time.Time `json:"expires"`
}

// PARArgs names a PAR (revoke_par).
type PARArgs struct {
	auth.Credentials
	PAR string `json:"par"`
}

// GroupArgs creates one of the caller's groups or replaces its members
// (set_group; New refuses a group that exists), or names a group to read
// (get_group: Owner's group, the caller's when Owner is nil).
type GroupArgs struct {
	auth.Credentials
	Group   string      `json:"group"`
	Members []Principal `json:"members,omitempty"`
	New     bool        `json:"new,omitempty"`
	Owner   *Principal  `json:"owner,omitempty"`
}

// EditGroupArgs adds and removes members of one of the caller's groups.
type EditGroupArgs struct {
	auth.Credentials
	Group  string      `json:"group"`
	Add    []Principal `json:"add,omitempty"`
	Remove []Principal `json:"remove,omitempty"`
}

// ListGroupsArgs lists the caller's groups.
type ListGroupsArgs struct {
	auth.Credentials
}

// GroupList lists groups.
type GroupList struct {
	Groups []Group `json:"groups"`
}

// GroupRule is the rule giving role to every member of owner's group name.
func GroupRule(owner Principal, name, role string) Rule {
	return Rule{Kind: RuleGroup, IdentityURL: owner.IdentityURL, UserUID: owner.UserUID, Group: name, Role: role}
}

// ---- arguments of the PAR functions (no login) ----

// PARCallArgs carries a PAR key and what the call needs. Name is relative
// to the PAR's drive; a file PAR's own name is used when Name is empty.
type PARCallArgs struct {
	PARKey
	Name     string   `json:"name,omitempty"`
	Version  int64    `json:"version,omitempty"`
	Size     int64    `json:"size,omitempty"`
	Upload   string   `json:"upload,omitempty"`
	From     int      `json:"from,omitempty"`
	Count    int      `json:"count,omitempty"`
	Chunks   []string `json:"chunks,omitempty"`
	SHA256   string   `json:"sha256,omitempty"`
	Data     []byte   `json:"data,omitempty"`
	Page     string   `json:"page,omitempty"`
	Prefix   string   `json:"prefix,omitempty"`
	Limit    int      `json:"limit,omitempty"`
	ChunkReq int64    `json:"chunk_bytes,omitempty"`
}

// ---- the exact resources user authorisations name ----

// Resource strings bind an authorisation to one call's arguments: the
// function, then its fields, with a digest of anything long or free-form.
func CreateDriveResource(a *CreateDriveArgs) string {
	return "create_drive " + digestOf(a.Drive, strconv.FormatInt(a.MaxBytes, 10), strconv.FormatInt(a.MaxVersions, 10), a.DeleteRule, jsonDigest(a.ACL))
}
func ListDrivesResource(parent string) string { return "list_drives " + digestOf(parent) }
func GetDriveResource(drive string) string    { return "get_drive " + digestOf(drive) }
func GetACLResource(drive string) string      { return "get_acl " + digestOf(drive) }
func SetACLResource(drive string, a *ACL) string {
	return "set_acl " + digestOf(drive, jsonDigest(a))
}
func DeleteDriveResource(drive string) string { return "delete_drive " + digestOf(drive) }
func PurgeDriveResource(drive string) string  { return "purge_drive " + digestOf(drive) }
func SetDriveResource(a *SetDriveArgs) string {
	return "set_drive " + digestOf(a.Drive, strconv.FormatInt(a.MaxBytes, 10), strconv.FormatInt(a.MaxVersions, 10), a.DeleteRule)
}
func BeginUploadResource(a *BeginUploadArgs) string {
	return "begin_upload " + digestOf(a.Drive, a.Name, strconv.FormatInt(a.Size, 10), strconv.FormatInt(a.ChunkBytes, 10))
}
func UploadStatusResource(upload string) string { return "upload_status " + upload }
func UploadURLsResource(a *UploadURLsArgs) string {
	return "upload_urls " + a.Upload + " " + strconv.Itoa(a.From) + " " + strconv.Itoa(a.Count)
}
func CommitUploadResource(a *CommitUploadArgs) string {
	return "commit_upload " + a.Upload + " " + digestOf(append([]string{a.SHA256}, a.Chunks...)...)
}
func AbortUploadResource(upload string) string { return "abort_upload " + upload }
func PutInlineResource(a *PutInlineArgs) string {
	return "put_inline " + digestOf(a.Drive, a.Name, a.SHA256, strconv.Itoa(len(a.Data)))
}
func OpenFileResource(a *FileArgs) string {
	return "open_file " + digestOf(a.Drive, a.Name, strconv.FormatInt(a.Version, 10), strconv.Itoa(a.From))
}
func ListFilesResource(a *ListArgs) string {
	return "list_files " + digestOf(a.Drive, a.Prefix, a.Page, strconv.Itoa(a.Limit))
}
func ListVersionsResource(a *ListArgs) string {
	return "list_versions " + digestOf(a.Drive, a.Name, a.Page, strconv.Itoa(a.Limit))
}
func DeleteFileResource(a *DeleteFileArgs) string {
	p := "rule"
	if a.Purge != nil {
		p = strconv.FormatBool(*a.Purge)
	}
	return "delete_file " + digestOf(a.Drive, a.Name, p)
}
func CreatePARResource(a *CreatePARArgs) string {
	return "create_par " + digestOf(a.Drive, a.Name, a.Mode, a.Expires.UTC().Format(time.RFC3339Nano))
}
func ListPARsResource(drive string) string { return "list_pars " + digestOf(drive) }
func RevokePARResource(par string) string  { return "revoke_par " + par }
func SetGroupResource(a *GroupArgs) string {
	return "set_group " + digestOf(a.Group, membersDigest(a.Members), strconv.FormatBool(a.New))
}
func GetGroupResource(a *GroupArgs) string {
	return "get_group " + digestOf(a.Group, jsonDigest(a.Owner))
}
func EditGroupResource(a *EditGroupArgs) string {
	return "edit_group " + digestOf(a.Group, membersDigest(a.Add), membersDigest(a.Remove))
}
func ListGroupsResource() string { return "list_groups" }

// digestOf joins fields unambiguously (newline-separated, and names hold
// no control characters) and hashes them.
func digestOf(fields ...string) string {
	h := sha256.New()
	for _, f := range fields {
		h.Write([]byte(f))
		h.Write([]byte{'\n'})
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// membersDigest: an empty list and none are one (omitempty drops both).
func membersDigest(ps []Principal) string {
	if len(ps) == 0 {
		return "[]"
	}
	return jsonDigest(ps)
}

func jsonDigest(v any) string {
	raw, _ := json.Marshal(v) // rules and principals are strings only
	return string(raw)
}

// hasControl reports control characters.
func hasControl(s string) bool {
	return strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) })
}
