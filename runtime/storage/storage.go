// Package storage is the storage service: drives (nested, with ACLs of
// user, group and default rules), files with versions, chunked transfers
// that go straight between the client and the object store through
// short-lived URLs, and PARs (pre-authenticated, expiring, revocable
// links). Control calls go through encrypted envelopes; file bytes never
// do, except for small files sent inline. Decisions and their reasons are
// in docs/design/storage.md.
package storage

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/openacquire/acquire/runtime/auth"
	"github.com/openacquire/acquire/runtime/call"
	"github.com/openacquire/acquire/runtime/identity"
	"github.com/openacquire/acquire/runtime/service"
	"github.com/openacquire/acquire/runtime/store"
)

// Kind is the service kind this package serves.
const Kind = "storage"

// Limits, in one place.
const (
	// MaxDrivesPerUser bounds the top-level drives one user creates.
	MaxDrivesPerUser = 100
	// MaxSubDrives bounds the drives listed below one drive (all depths).
	MaxSubDrives = 1000
	// MaxDriveDepth bounds nesting: "a/b/c" has depth 3.
	MaxDriveDepth = 8
	// MaxDriveSegmentBytes bounds one segment of a drive name.
	MaxDriveSegmentBytes = 64
	// MaxNameBytes bounds a file name after normalisation. Encoded (up to
	// 3x) under the longest key prefix it stays below store.MaxKeyBytes.
	MaxNameBytes = 255
	// MaxNameSegments bounds the '/'-separated parts of a file name.
	MaxNameSegments = 32
	// MaxFileBytes bounds one file.
	MaxFileBytes = 64 << 30
	// InlineMaxBytes is the largest file sent inside one envelope and kept
	// inside its version record; larger files are chunked. Well under
	// call.MaxBodyBytes (4 MiB) once base64 and the envelope are added.
	InlineMaxBytes = 256 << 10
	// MinChunkBytes, DefaultChunkBytes and MaxChunkBytes bound the chunk
	// size a client may ask for (≤ store.MaxObjectBytes: a chunk is one object).
	MinChunkBytes     = 64 << 10
	DefaultChunkBytes = 8 << 20
	MaxChunkBytes     = 32 << 20
	// MaxChunks bounds the chunks of one file (its hashes sit in its record).
	MaxChunks = 16384
	// MaxURLsPerCall bounds the chunk URLs one call answers.
	MaxURLsPerCall = 256
	// MaxListPage bounds the files or versions one list call answers.
	MaxListPage = 100
	// DefaultMaxVersions is a drive's limit on kept versions (tombstones
	// and empty files included) unless its owner sets another, up to
	// MaxVersionsLimit. Versions cost a record each whatever their size.
	DefaultMaxVersions = 100_000
	MaxVersionsLimit   = 10_000_000
	// MaxPurgeSlack is how many versions past its drive's limit one
	// delete_file --purge removes (commits racing it) before it gives up.
	MaxPurgeSlack = 1000
	// MaxVersionProbe bounds how far past a stale head a reader looks for
	// newer versions (a head update lost to a crash).
	MaxVersionProbe = 16
	// MaxVersionClaims bounds the attempts to claim the next version number.
	MaxVersionClaims = 1000
	// MaxRulesPerACL bounds an ACL.
	MaxRulesPerACL = 64
	// MaxGroupMembers bounds a group.
	MaxGroupMembers = 256
	// MaxGroupNameBytes bounds a group's name.
	MaxGroupNameBytes = 64
	// MaxGroupsPerUser bounds the groups one user owns.
	MaxGroupsPerUser = 100
	// MaxPARLife bounds how far ahead a PAR may expire.
	MaxPARLife = 30 * 24 * time.Hour
	// MaxPARsPerDrive bounds a drive's PARs (revoked ones included until swept).
	MaxPARsPerDrive = 1000
	// UploadLife is how long an unfinished upload can be resumed.
	UploadLife = 24 * time.Hour
	// UploadSweepGrace is how long after its expiry an unfinished upload's
	// chunks are removed: a commit that started just before expiry finishes first.
	UploadSweepGrace = time.Hour
	// CommitLease is how long one commit_upload owns its upload; a commit
	// arriving later finishes (or finds) what it did.
	CommitLease = time.Minute
	// MaxChunksInFlight bounds the chunk requests the data handler serves
	// at once (each holds one chunk in memory: at most 16 × 32 MiB); more
	// wait their turn.
	MaxChunksInFlight = 16
	// MaxChunksPerPrincipal bounds the slots one user or PAR holds, so
	// one principal's transfers never take every slot (dataslots.go).
	MaxChunksPerPrincipal = 4
	// DataStartTimeout bounds the wait for a PUT's first body byte, during
	// which it holds no slot.
	DataStartTimeout = 10 * time.Second
	// DataStallTimeout bounds a pause in a transfer that holds a slot.
	DataStallTimeout = 10 * time.Second
	// DataQueueTimeout bounds the wait for a slot (then 503).
	DataQueueTimeout = 30 * time.Second
	// MinDataBytesPerSecond is the slowest average a transfer holding a
	// slot may keep after DataGrace: a 32 MiB chunk has 4 min 21 s.
	MinDataBytesPerSecond = 128 << 10
	DataGrace             = 5 * time.Second
	// DataURLLife bounds each chunk URL's life (and a PAR's expiry bounds it too).
	DataURLLife = 15 * time.Minute
	// MaxUpdateAttempts bounds compare-and-swap loops on usage and heads.
	MaxUpdateAttempts = 100
	// sweepBatch and sweepPages bound the uploads one sweep looks at.
	sweepBatch = 500
	sweepPages = 10
)

// Error classes of the storage service. The names are part of the protocol.
var (
	ErrInvalidName   = call.NewClass("InvalidNameError")      // a drive or file name that is malformed or climbs out of its drive
	ErrAccessDenied  = call.NewClass("AccessDeniedError")     // the ACL (or the PAR's mode) does not allow this
	ErrQuotaExceeded = call.NewClass("QuotaExceededError")    // the drive's size limit would be passed
	ErrTooMany       = call.NewClass("LimitExceededError")    // a count limit (drives, PARs, rules, members)
	ErrPARExpired    = call.NewClass("PARExpiredError")       // the PAR is past its expiry
	ErrPARRevoked    = call.NewClass("PARRevokedError")       // the PAR was revoked
	ErrPARInvalid    = call.NewClass("PARInvalidError")       // unknown PAR or wrong secret
	ErrUploadExpired = call.NewClass("UploadExpiredError")    // the upload is past its expiry
	ErrUploadState   = call.NewClass("UploadStateError")      // the upload is already committed (or not this caller's)
	ErrIncomplete    = call.NewClass("UploadIncompleteError") // chunks missing or of the wrong size at commit
	ErrChecksum      = call.NewClass("ChecksumMismatchError") // bytes that do not hash to what was claimed
	ErrFileDeleted   = call.NewClass("FileDeletedError")      // the latest version is a tombstone
	ErrFileTooLarge  = call.NewClass("FileTooLargeError")     // over MaxFileBytes, or too many chunks
	ErrDriveNotEmpty = call.NewClass("DriveNotEmptyError")    // a drive to delete still has files or sub-drives
)

// Options configure the service.
type Options struct {
	// Client looks sessions up at identity services.
	Client *call.Client
	// TrustedIdentities lists the identity services whose users may act
	// here; empty trusts none.
	TrustedIdentities auth.TrustedIdentities
	// Staleness bounds how long a looked-up session stays cached.
	Staleness time.Duration
	// ChunkBytes is the default chunk size (0: DefaultChunkBytes).
	ChunkBytes int64
	// HostServed makes the service hand out its own data URLs even when the
	// store can sign URLs (a store the clients cannot reach, for example).
	HostServed bool
	// DataKeyInQuery puts the key of the data URLs this service hands out
	// in their query (<service URL>/data?key=…&exp=…) rather than their
	// path, for platforms whose routes match whole paths (Fn's HTTP
	// triggers): every data URL is then the one path /data. The handler
	// takes either form; the signature covers the key in both.
	DataKeyInQuery bool
}

// Storage is the storage service on top of the function framework.
type Storage struct {
	svc   *service.Service
	b     *store.Bucket
	v     *auth.Verifier
	o     Options
	signs bool      // the store signs URLs; else this service serves the data
	slots *slotPool // the data handler's chunks in flight
	pace  pacing
}

// New registers the storage functions on svc. Whether the store signs
// URLs is found out once here, by asking it for one.
func New(ctx context.Context, svc *service.Service, o Options) (*Storage, error) {
	if o.Client == nil {
		return nil, errors.New("storage: a call client is required")
	}
	if o.ChunkBytes == 0 {
		o.ChunkBytes = DefaultChunkBytes
	}
	if o.ChunkBytes < MinChunkBytes || o.ChunkBytes > MaxChunkBytes {
		return nil, errors.New("storage: ChunkBytes outside [MinChunkBytes, MaxChunkBytes]")
	}
	v := &auth.Verifier{Lookup: identity.Lookup(o.Client), Clock: svc.Clock(), Audience: svc.URL(), Identities: o.TrustedIdentities, Staleness: o.Staleness}
	s := &Storage{svc: svc, b: svc.Bucket(), v: v, o: o, slots: newSlotPool(MaxChunksInFlight, MaxChunksPerPrincipal), pace: defaultPacing}
	if err := svc.EnableFastPath(service.FastPath{Verify: v.Verify, Identities: o.TrustedIdentities, Certs: auth.ServiceCertsFrom(o.Client)}); err != nil {
		return nil, err
	}
	if !o.HostServed {
		_, err := s.b.SignedURL(ctx, "storage/probe", "GET", time.Minute)
		switch {
		case err == nil:
			s.signs = true
		case !errors.Is(err, store.ErrUnsupported):
			return nil, err
		}
	}
	s.register()
	return s, nil
}

// Service returns the framework service this runs on.
func (s *Storage) Service() *service.Service { return s.svc }

// SignsURLs reports whether chunk URLs point at the store itself.
func (s *Storage) SignsURLs() bool { return s.signs }

func (s *Storage) register() {
	sv := s.svc
	idem := service.Options{Idempotent: true}
	service.Handle(sv, "create_drive", idem, s.handleCreateDrive)
	service.Handle(sv, "list_drives", service.Options{}, s.handleListDrives)
	service.Handle(sv, "get_drive", service.Options{}, s.handleGetDrive)
	service.Handle(sv, "set_drive", idem, s.handleSetDrive)
	service.Handle(sv, "delete_drive", idem, s.handleDeleteDrive)
	service.Handle(sv, "purge_drive", idem, s.handlePurgeDrive)
	service.Handle(sv, "get_acl", service.Options{}, s.handleGetACL)
	service.Handle(sv, "set_acl", idem, s.handleSetACL)
	service.Handle(sv, "set_group", idem, s.handleSetGroup)
	service.Handle(sv, "get_group", service.Options{}, s.handleGetGroup)
	service.Handle(sv, "edit_group", idem, s.handleEditGroup)
	service.Handle(sv, "list_groups", service.Options{}, s.handleListGroups)
	service.Handle(sv, "put_inline", idem, s.handlePutInline)
	service.Handle(sv, "begin_upload", idem, s.handleBeginUpload)
	service.Handle(sv, "upload_status", service.Options{}, s.handleUploadStatus)
	service.Handle(sv, "upload_urls", service.Options{}, s.handleUploadURLs)
	service.Handle(sv, "commit_upload", idem, s.handleCommitUpload)
	service.Handle(sv, "abort_upload", idem, s.handleAbortUpload)
	service.Handle(sv, "open_file", service.Options{}, s.handleOpenFile)
	service.Handle(sv, "list_files", service.Options{}, s.handleListFiles)
	service.Handle(sv, "list_versions", service.Options{}, s.handleListVersions)
	service.Handle(sv, "delete_file", idem, s.handleDeleteFile)
	service.Handle(sv, "create_par", idem, s.handleCreatePAR)
	service.Handle(sv, "list_pars", service.Options{}, s.handleListPARs)
	service.Handle(sv, "revoke_par", idem, s.handleRevokePAR)
	s.registerPAR()
}

// authorise verifies a user's authorisation for exactly resource.
func (s *Storage) authorise(ctx context.Context, cr auth.Credentials, resource string) (Principal, error) {
	if cr.Service != nil || cr.Authorisation == nil {
		return Principal{}, call.Errorf(auth.ErrAuthorisation, "give a user's authorisation (and no service's)")
	}
	sess, err := s.v.Verify(ctx, cr.Authorisation, resource)
	if err != nil {
		return Principal{}, err
	}
	return Principal{IdentityURL: cr.Authorisation.IdentityURL, UserUID: sess.UserUID}, nil
}

func (s *Storage) now() time.Time { return s.svc.Now().UTC() }

// Keys of the service's records (all under storage/; see the design note).
const (
	drivesPre    = "storage/drives/"
	userDrivePre = "storage/users/"
	usagePre     = "storage/usage/"
	headsPre     = "storage/heads/"
	versionsPre  = "storage/versions/"
	uploadsPre   = "storage/uploads/"
	blobsPre     = "storage/blobs/"
	parsPre      = "storage/pars/"
	driveParsPre = "storage/drivepars/"
	groupsPre    = "storage/groups/"
)

func driveKey(name string) string { return drivesPre + store.EncodeName(name) }
func userDrivesPrefix(p Principal) string {
	return userDrivePre + digestOf("user", p.IdentityURL, p.UserUID) + "/"
}
func usageKey(driveID string) string      { return usagePre + driveID }
func headsPrefix(driveID string) string   { return headsPre + driveID + "/" }
func headKey(driveID, name string) string { return headsPrefix(driveID) + store.EncodeName(name) }

// driveVersionsPrefix holds every version of every name in one drive.
func driveVersionsPrefix(driveID string) string { return versionsPre + driveID + "/" }
func versionsPrefix(driveID, name string) string {
	return driveVersionsPrefix(driveID) + store.EncodeName(name) + "/"
}
func versionKey(driveID, name string, n int64) string {
	return versionsPrefix(driveID, name) + pad(n, 12)
}
func uploadKey(id string) string            { return uploadsPre + id }
func blobKey(upload string, i int) string   { return blobsPre + upload + "/" + pad(int64(i), 6) }
func parKey(id string) string               { return parsPre + id }
func driveParKey(driveID, id string) string { return driveParsPre + driveID + "/" + id }

// Groups are kept under their owner: two users' groups of one name are
// two groups, and no one can make a group under another's name.
func groupsPrefix(owner Principal) string {
	return groupsPre + digestOf("user", owner.IdentityURL, owner.UserUID) + "/"
}
func groupKey(owner Principal, name string) string {
	return groupsPrefix(owner) + store.EncodeName(name)
}

func pad(n int64, width int) string { return fmt.Sprintf("%0*d", width, n) }
