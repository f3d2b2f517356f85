package storage

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/text/unicode/norm"

	"github.com/openacquire/acquire/runtime/call"
	"github.com/openacquire/acquire/runtime/store"
)

// versionRecord is one version as stored: its metadata, and either its
// bytes (inline) or the upload whose chunks hold them, with their hashes.
type versionRecord struct {
	FileVersion
	Upload string   `json:"upload,omitempty"`
	CRCs   []string `json:"crc32c,omitempty"`
	// CRCKeys: the chunks sit at "<key>.<crc>" (this host's data handler
	// stored them), not at their plain keys (the store's signed URLs did).
	CRCKeys bool   `json:"crc_keys,omitempty"`
	Data    []byte `json:"data,omitempty"`
}

type usageRecord struct {
	Bytes int64 `json:"bytes"`
	// Versions counts the version records kept (tombstones and empty
	// files too: they cost a record each, if no bytes).
	Versions int64 `json:"versions,omitempty"`
	// Closed: the drive is deleted, or being deleted (see delete_drive);
	// no version may be added under its id any more.
	Closed bool `json:"closed,omitempty"`
}

var errSkip = errors.New("skip")

// usageOf reads a drive's usage record (zero when it has none yet).
func (s *Storage) usageOf(ctx context.Context, driveID string) (usageRecord, error) {
	var u usageRecord
	_, err := s.b.GetJSON(ctx, usageKey(driveID), &u)
	if errors.Is(err, store.ErrNotFound) {
		return usageRecord{}, nil
	}
	return u, err
}

// usage is a drive's bytes in use (every kept version counts).
func (s *Storage) usage(ctx context.Context, driveID string) (int64, error) {
	u, err := s.usageOf(ctx, driveID)
	return u.Bytes, err
}

// updateUsage changes a drive's usage record with compare-and-swap;
// change refuses by returning an error.
func (s *Storage) updateUsage(ctx context.Context, driveID string, change func(*usageRecord) error) error {
	_, err := s.b.Update(ctx, usageKey(driveID), MaxUpdateAttempts, func(old []byte, exists bool) ([]byte, error) {
		var u usageRecord
		if exists {
			if err := json.Unmarshal(old, &u); err != nil {
				return nil, err
			}
		}
		if err := change(&u); err != nil {
			return nil, err
		}
		return json.Marshal(&u)
	})
	return err
}

// reserve adds bytes and versions (negative: releases) to a drive's
// usage with compare-and-swap, refusing growth past the drive's limits or
// into a closed drive. It runs before a version is written, so a refused
// commit leaves nothing behind; a crash between the two over-counts (the
// safe side). Every version reserves at least itself, so an empty file or
// a tombstone is checked like any other.
func (s *Storage) reserve(ctx context.Context, d *Drive, bytes, versions int64) error {
	return s.updateUsage(ctx, d.ID, func(u *usageRecord) error {
		grows := bytes > 0 || versions > 0
		if grows && u.Closed {
			return errDriveClosed(d)
		}
		if bytes > 0 && d.MaxBytes > 0 && u.Bytes+bytes > d.MaxBytes {
			return call.Errorf(ErrQuotaExceeded, "drive %q holds %d of its %d bytes; %d more do not fit", d.Name, u.Bytes, d.MaxBytes, bytes)
		}
		if versions > 0 && u.Versions+versions > d.maxVersions() {
			return call.Errorf(ErrQuotaExceeded, "drive %q holds %d of its %d versions: purge old ones ('acquire file rm --purge') or raise its max_versions",
				d.Name, u.Versions, d.maxVersions())
		}
		u.Bytes = max(u.Bytes+bytes, 0)
		u.Versions = max(u.Versions+versions, 0)
		return nil
	})
}

// maxVersions is the drive's limit on kept versions (drives made before
// the limit existed have the default).
func (d *Drive) maxVersions() int64 {
	if d.MaxVersions <= 0 {
		return DefaultMaxVersions
	}
	return d.MaxVersions
}

// addVersion stores rec as the next version of its name: the drive's
// usage first, then the version number claimed with put-if-absent (a
// concurrent commit that took it makes this one take the next), then the
// head moved forward. Two concurrent uploads to one name both become versions.
func (s *Storage) addVersion(ctx context.Context, d *Drive, rec *versionRecord) (*FileVersion, error) {
	if err := s.reserve(ctx, d, rec.Size, 1); err != nil {
		return nil, err
	}
	n, err := s.latestNumber(ctx, d.ID, rec.Name)
	if err != nil {
		_ = s.reserve(ctx, d, -rec.Size, -1)
		return nil, err
	}
	claimed := false
	for range MaxVersionClaims {
		n++
		rec.Version = n
		_, err = s.b.PutJSONIfAbsent(ctx, versionKey(d.ID, rec.Name, n), rec)
		if err == nil {
			claimed = true
			break
		}
		if !errors.Is(err, store.ErrPrecondition) {
			break
		}
	}
	if !claimed {
		_ = s.reserve(ctx, d, -rec.Size, -1)
		if err == nil || errors.Is(err, store.ErrPrecondition) {
			err = call.Errorf(call.ErrBusy, "too many concurrent versions of %q; try again", rec.Name)
		}
		return nil, err
	}
	head := rec.FileVersion
	_, err = s.b.Update(ctx, headKey(d.ID, rec.Name), MaxUpdateAttempts, func(old []byte, exists bool) ([]byte, error) {
		if exists {
			var h FileVersion
			if err := json.Unmarshal(old, &h); err == nil && h.Version >= head.Version {
				return nil, errSkip
			}
		}
		return json.Marshal(&head)
	})
	if err != nil && !errors.Is(err, errSkip) {
		// The version is stored; readers probe past a stale head.
		s.svc.Logger().Warn("head update failed", "drive", d.ID, "err", err)
	}
	return &head, nil
}

// latestNumber is the newest version number of a name (0: none): the
// head's, then a probe past it for versions whose head update was lost.
func (s *Storage) latestNumber(ctx context.Context, driveID, name string) (int64, error) {
	var h FileVersion
	_, err := s.b.GetJSON(ctx, headKey(driveID, name), &h)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return 0, err
	}
	n := h.Version
	for range MaxVersionProbe {
		_, _, err := s.b.Get(ctx, versionKey(driveID, name, n+1))
		if errors.Is(err, store.ErrNotFound) {
			return n, nil
		}
		if err != nil {
			return 0, err
		}
		n++
	}
	return n, nil
}

// getVersion reads version n of a name (0: the latest).
func (s *Storage) getVersion(ctx context.Context, d *Drive, name string, n int64) (*versionRecord, error) {
	if n < 0 {
		return nil, call.Errorf(call.ErrBadArguments, "version must not be negative")
	}
	if n == 0 {
		var err error
		if n, err = s.latestNumber(ctx, d.ID, name); err != nil {
			return nil, err
		}
		if n == 0 {
			return nil, call.Errorf(call.ErrNotFound, "no file %q in drive %q", name, d.Name)
		}
	}
	var rec versionRecord
	_, err := s.b.GetJSON(ctx, versionKey(d.ID, name, n), &rec)
	if errors.Is(err, store.ErrNotFound) {
		return nil, call.Errorf(call.ErrNotFound, "no version %d of %q in drive %q", n, name, d.Name)
	}
	return &rec, err
}

func checkCRC(sum string) error {
	if b, err := hex.DecodeString(sum); err != nil || len(b) != 4 || strings.ToLower(sum) != sum {
		return call.Errorf(call.ErrBadArguments, "a CRC-32C is 8 lower-case hex digits")
	}
	return nil
}

func checkSHA(sum string) error {
	if b, err := hex.DecodeString(sum); err != nil || len(b) != 32 || strings.ToLower(sum) != sum {
		return call.Errorf(call.ErrBadArguments, "a SHA-256 is 64 lower-case hex digits")
	}
	return nil
}

// putInline stores a small file inside its version record.
func (s *Storage) putInline(ctx context.Context, d *Drive, p Principal, name string, data []byte, sum string) (*FileVersion, error) {
	name, err := CleanName(name)
	if err != nil {
		return nil, err
	}
	if len(data) > InlineMaxBytes {
		return nil, call.Errorf(call.ErrBadArguments, "inline files are at most %d bytes; upload in chunks", InlineMaxBytes)
	}
	if err := checkSHA(sum); err != nil {
		return nil, err
	}
	if sha256Hex(data) != sum {
		return nil, call.Errorf(ErrChecksum, "the bytes do not hash to the SHA-256 given")
	}
	rec := &versionRecord{FileVersion: FileVersion{Drive: d.Name, Name: name, Size: int64(len(data)), SHA256: sum,
		UploadedBy: p, Time: s.now(), Inline: true}, Data: data}
	return s.addVersion(ctx, d, rec)
}

func (s *Storage) handlePutInline(ctx context.Context, a *PutInlineArgs) (*FileVersion, error) {
	p, err := s.authorise(ctx, a.Credentials, PutInlineResource(a))
	if err != nil {
		return nil, err
	}
	d, _, err := s.access(ctx, a.Drive, p, RoleWrite)
	if err != nil {
		return nil, err
	}
	return s.putInline(ctx, d, p, a.Name, a.Data, a.SHA256)
}

// open answers a version's bytes or chunk URLs from chunk from on.
func (s *Storage) open(ctx context.Context, d *Drive, name string, version int64, from int, lim urlLimit) (*Download, error) {
	name, err := CleanName(name)
	if err != nil {
		return nil, err
	}
	rec, err := s.getVersion(ctx, d, name, version)
	if err != nil {
		return nil, err
	}
	if rec.Deleted {
		return nil, call.Errorf(ErrFileDeleted, "%q version %d is a deletion; ask for an earlier version", name, rec.Version)
	}
	out := &Download{File: rec.FileVersion}
	if rec.Inline {
		out.Data = rec.Data
		if out.Data == nil {
			out.Data = []byte{}
		}
		return out, nil
	}
	if len(rec.CRCs) != rec.Chunks {
		return nil, fmt.Errorf("storage: version %d of %q has %d checksums for %d chunks", rec.Version, name, len(rec.CRCs), rec.Chunks)
	}
	if from < 0 || from > rec.Chunks {
		return nil, call.Errorf(call.ErrBadArguments, "from must be in [0, %d]", rec.Chunks)
	}
	for i := from; i < min(from+MaxURLsPerCall, rec.Chunks); i++ {
		size := min(rec.ChunkBytes, rec.Size-int64(i)*rec.ChunkBytes)
		key := blobKey(rec.Upload, i)
		if rec.CRCKeys {
			key += "." + rec.CRCs[i]
		}
		u, err := s.chunkURL(ctx, "GET", key, i, size, lim)
		if err != nil {
			return nil, err
		}
		u.CRC32C = rec.CRCs[i]
		out.Chunks = append(out.Chunks, u)
	}
	return out, nil
}

func (s *Storage) handleOpenFile(ctx context.Context, a *FileArgs) (*Download, error) {
	p, err := s.authorise(ctx, a.Credentials, OpenFileResource(a))
	if err != nil {
		return nil, err
	}
	d, _, err := s.access(ctx, a.Drive, p, RoleRead)
	if err != nil {
		return nil, err
	}
	return s.open(ctx, d, a.Name, a.Version, a.From, urlLimit{who: p})
}

func pageLimit(n int) int {
	if n <= 0 || n > MaxListPage {
		return MaxListPage
	}
	return n
}

// listFiles pages through a drive's heads: the latest version of each
// name starting with prefix, deleted ones left out. Names are encoded a
// byte at a time, so the encoded prefix selects exactly those names.
func (s *Storage) listFiles(ctx context.Context, d *Drive, prefix, page string, limit int) (*FileList, error) {
	// In NFC as the names are (CleanName), so either spelling finds them.
	prefix = norm.NFC.String(strings.TrimLeft(prefix, "/"))
	if len(prefix) > MaxNameBytes || hasControl(prefix) {
		return nil, call.Errorf(ErrInvalidName, "a listing prefix is at most %d bytes, without control characters", MaxNameBytes)
	}
	if err := checkLookAlike(prefix); err != nil {
		return nil, err
	}
	keyPrefix := headsPrefix(d.ID)
	if prefix != "" {
		keyPrefix += store.EncodeName(prefix)
	}
	pg, err := s.b.List(ctx, keyPrefix, page, pageLimit(limit))
	if err != nil {
		return nil, call.Errorf(call.ErrBadArguments, "bad page token")
	}
	out := &FileList{Files: []FileVersion{}, Next: pg.Next}
	for _, it := range pg.Items {
		var h FileVersion
		if _, err := s.b.GetJSON(ctx, it.Key, &h); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				continue
			}
			return nil, err
		}
		if !h.Deleted {
			out.Files = append(out.Files, h)
		}
	}
	return out, nil
}

func (s *Storage) handleListFiles(ctx context.Context, a *ListArgs) (*FileList, error) {
	p, err := s.authorise(ctx, a.Credentials, ListFilesResource(a))
	if err != nil {
		return nil, err
	}
	d, _, err := s.access(ctx, a.Drive, p, RoleRead)
	if err != nil {
		return nil, err
	}
	return s.listFiles(ctx, d, a.Prefix, a.Page, a.Limit)
}

// listVersions pages through a name's versions, oldest first.
func (s *Storage) listVersions(ctx context.Context, d *Drive, name, page string, limit int) (*VersionList, error) {
	name, err := CleanName(name)
	if err != nil {
		return nil, err
	}
	pg, err := s.b.List(ctx, versionsPrefix(d.ID, name), page, pageLimit(limit))
	if err != nil {
		return nil, call.Errorf(call.ErrBadArguments, "bad page token")
	}
	out := &VersionList{Versions: []FileVersion{}, Next: pg.Next}
	for _, it := range pg.Items {
		var rec versionRecord
		if _, err := s.b.GetJSON(ctx, it.Key, &rec); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				continue
			}
			return nil, err
		}
		out.Versions = append(out.Versions, rec.FileVersion)
	}
	if len(out.Versions) == 0 && page == "" {
		return nil, call.Errorf(call.ErrNotFound, "no file %q in drive %q", name, d.Name)
	}
	return out, nil
}

func (s *Storage) handleListVersions(ctx context.Context, a *ListArgs) (*VersionList, error) {
	p, err := s.authorise(ctx, a.Credentials, ListVersionsResource(a))
	if err != nil {
		return nil, err
	}
	d, _, err := s.access(ctx, a.Drive, p, RoleRead)
	if err != nil {
		return nil, err
	}
	return s.listVersions(ctx, d, a.Name, a.Page, a.Limit)
}

func (s *Storage) handleDeleteFile(ctx context.Context, a *DeleteFileArgs) (*FileVersion, error) {
	p, err := s.authorise(ctx, a.Credentials, DeleteFileResource(a))
	if err != nil {
		return nil, err
	}
	d, _, err := s.access(ctx, a.Drive, p, RoleWrite)
	if err != nil {
		return nil, err
	}
	name, err := CleanName(a.Name)
	if err != nil {
		return nil, err
	}
	purge := d.DeleteRule == DeletePurge
	if a.Purge != nil {
		purge = *a.Purge
	}
	latest, err := s.getVersion(ctx, d, name, 0)
	if err != nil {
		return nil, err
	}
	if purge {
		// Every version, however many: a call made in a hurry by a writer
		// racing the purge is bounded by what the drive may hold.
		r, err := s.purge(ctx, d, name, d.maxVersions()+MaxPurgeSlack)
		if err != nil {
			return nil, err
		}
		if !r.done {
			return nil, call.Errorf(call.ErrBusy, "versions of %q were added while it was purged; delete it again", name)
		}
		out := latest.FileVersion
		out.Deleted = true
		return &out, nil
	}
	if latest.Deleted {
		return nil, call.Errorf(ErrFileDeleted, "%q is already deleted", name)
	}
	tomb := &versionRecord{FileVersion: FileVersion{Drive: d.Name, Name: name, UploadedBy: p, Time: s.now(), Deleted: true}}
	return s.addVersion(ctx, d, tomb)
}

// purgePageSize is how many versions purge lists at a time (a variable
// so a test can make pages small).
var purgePageSize = 500

// purged is what a purge removed.
type purged struct {
	bytes, versions int64
	done            bool // no version of the name is left, nor its head
}

// purge removes the versions of a name, oldest first, with their chunks,
// then the head, giving each page's bytes and versions back to the drive's
// usage as it goes, and stops after budget versions (done false: call
// again). It pages through any number of versions, always from the first,
// since what it listed is gone. A purge cut short is finished by
// deleting again.
func (s *Storage) purge(ctx context.Context, d *Drive, name string, budget int64) (purged, error) {
	var out purged
	for out.versions < budget {
		page, err := s.b.List(ctx, versionsPrefix(d.ID, name), "", int(min(int64(purgePageSize), budget-out.versions)))
		if err != nil {
			return out, err
		}
		if len(page.Items) == 0 {
			if err := s.b.Delete(ctx, headKey(d.ID, name)); err != nil && !errors.Is(err, store.ErrNotFound) {
				return out, err
			}
			out.done = true
			return out, nil
		}
		bytes, err := s.purgeVersions(ctx, page.Items)
		if err != nil {
			return out, err
		}
		n := int64(len(page.Items))
		out.bytes += bytes
		out.versions += n
		if err := s.reserve(ctx, d, -bytes, -n); err != nil {
			return out, err
		}
	}
	return out, nil
}

// purgeVersions removes version records with their chunks, and answers
// the bytes they held.
func (s *Storage) purgeVersions(ctx context.Context, items []store.ObjectInfo) (int64, error) {
	var freed int64
	for _, it := range items {
		var rec versionRecord
		if _, err := s.b.GetJSON(ctx, it.Key, &rec); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				continue
			}
			return 0, err
		}
		if rec.Upload != "" {
			if err := s.deletePrefix(ctx, blobsPre+rec.Upload+"/"); err != nil {
				return 0, err
			}
		}
		if err := s.b.Delete(ctx, it.Key); err != nil && !errors.Is(err, store.ErrNotFound) {
			return 0, err
		}
		freed += rec.Size
	}
	return freed, nil
}

// deletePrefix removes every object under prefix.
func (s *Storage) deletePrefix(ctx context.Context, prefix string) error {
	items, err := s.b.ListAll(ctx, prefix, 2*MaxChunks)
	if err != nil {
		return err
	}
	for _, it := range items {
		if err := s.b.Delete(ctx, it.Key); err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
	}
	return nil
}
