package storage

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/openacquire/acquire/runtime/call"
	"github.com/openacquire/acquire/runtime/service"
	"github.com/openacquire/acquire/runtime/store"
)

// uploadRecord is a chunked upload on the service's side.
type uploadRecord struct {
	ID         string    `json:"id"`
	DriveID    string    `json:"drive_id"`
	Drive      string    `json:"drive"`
	Name       string    `json:"name"`
	Size       int64     `json:"size"`
	ChunkBytes int64     `json:"chunk_bytes"`
	Chunks     int       `json:"chunks"`
	By         Principal `json:"by"`
	Created    time.Time `json:"created"`
	Expires    time.Time `json:"expires"`
	State      string    `json:"state"`
	LeaseUntil time.Time `json:"lease_until,omitzero"` // while committing
	Version    int64     `json:"version,omitempty"`    // once committed
}

func (u *uploadRecord) chunkSize(i int) int64 {
	return min(u.ChunkBytes, u.Size-int64(i)*u.ChunkBytes)
}

func (u *uploadRecord) answer() *Upload {
	return &Upload{ID: u.ID, Drive: u.Drive, Name: u.Name, Size: u.Size, ChunkBytes: u.ChunkBytes, Chunks: u.Chunks,
		Expires: u.Expires, State: u.State}
}

// beginUpload records a new upload and answers it with the first URLs.
func (s *Storage) beginUpload(ctx context.Context, d *Drive, p Principal, name string, size, chunk int64, lim urlLimit) (*Upload, error) {
	name, err := CleanName(name)
	if err != nil {
		return nil, err
	}
	if size < 1 || size > MaxFileBytes {
		return nil, call.Errorf(ErrFileTooLarge, "a chunked upload is of 1 to %d bytes", int64(MaxFileBytes))
	}
	if chunk == 0 {
		chunk = s.o.ChunkBytes
	}
	if chunk < MinChunkBytes || chunk > MaxChunkBytes {
		return nil, call.Errorf(call.ErrBadArguments, "chunk size must be in [%d, %d]", MinChunkBytes, MaxChunkBytes)
	}
	chunks := (size + chunk - 1) / chunk
	if chunks > MaxChunks {
		return nil, call.Errorf(ErrFileTooLarge, "%d chunks of %d bytes; at most %d: use larger chunks", chunks, chunk, MaxChunks)
	}
	if d.MaxBytes > 0 {
		// Refused early to spare a doomed transfer; commit checks for real.
		used, err := s.usage(ctx, d.ID)
		if err != nil {
			return nil, err
		}
		if used+size > d.MaxBytes {
			return nil, call.Errorf(ErrQuotaExceeded, "drive %q holds %d of its %d bytes; %d more do not fit", d.Name, used, d.MaxBytes, size)
		}
	}
	now := s.now()
	u := &uploadRecord{ID: service.NewID(), DriveID: d.ID, Drive: d.Name, Name: name, Size: size, ChunkBytes: chunk,
		Chunks: int(chunks), By: p, Created: now, Expires: now.Add(UploadLife), State: UploadOpen}
	if _, err := s.b.PutJSONIfAbsent(ctx, uploadKey(u.ID), u); err != nil {
		return nil, err
	}
	out := u.answer()
	out.URLs, err = s.putURLs(ctx, u, 0, min(URLBatch, u.Chunks), lim)
	return out, err
}

func (s *Storage) putURLs(ctx context.Context, u *uploadRecord, from, count int, lim urlLimit) ([]ChunkURL, error) {
	if from < 0 || from >= u.Chunks || count < 1 || count > MaxURLsPerCall {
		return nil, call.Errorf(call.ErrBadArguments, "chunks from %d, %d of them: outside [0, %d) or over %d", from, count, u.Chunks, MaxURLsPerCall)
	}
	// The upload's slots are its uploader's, whoever asks for the URLs.
	lim.who = u.By
	var out []ChunkURL
	for i := from; i < min(from+count, u.Chunks); i++ {
		c, err := s.chunkURL(ctx, "PUT", blobKey(u.ID, i), i, u.chunkSize(i), lim.before(u.Expires))
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

// loadUpload reads an upload and checks p started it.
func (s *Storage) loadUpload(ctx context.Context, id string, p Principal) (*uploadRecord, store.Version, error) {
	if len(id) != 32 || strings.Trim(id, "0123456789abcdef") != "" {
		return nil, "", call.Errorf(call.ErrNotFound, "no upload %q", clip(id))
	}
	var u uploadRecord
	v, err := s.b.GetJSON(ctx, uploadKey(id), &u)
	if errors.Is(err, store.ErrNotFound) {
		return nil, "", call.Errorf(call.ErrNotFound, "no upload %s (finished long ago, aborted, or expired)", id)
	}
	if err != nil {
		return nil, "", err
	}
	if u.By != p {
		return nil, "", call.Errorf(ErrAccessDenied, "upload %s was started by someone else", id)
	}
	return &u, v, nil
}

// openUpload loads an upload that can still take chunks.
func (s *Storage) openUpload(ctx context.Context, id string, p Principal) (*uploadRecord, store.Version, error) {
	u, v, err := s.loadUpload(ctx, id, p)
	if err != nil {
		return nil, "", err
	}
	if u.State != UploadOpen {
		return u, v, call.Errorf(ErrUploadState, "upload %s is %s", id, u.State)
	}
	if !s.now().Before(u.Expires) {
		return nil, "", call.Errorf(ErrUploadExpired, "upload %s expired at %s", id, u.Expires.Format(time.RFC3339))
	}
	return u, v, nil
}

// present lists an upload's stored chunks. Where the store took the bytes
// through its own signed URLs, a chunk is the object at its plain key; where
// this host's data handler took them, at "<key>.<crc>", the CRC it
// verified. A chunk stored twice under different CRCs (two PUTs raced, or
// a crash before the older was removed) is left out: it is sent again, and
// that PUT tidies the others away.
func (s *Storage) present(ctx context.Context, u *uploadRecord) (map[int]ChunkInfo, error) {
	blobs, err := s.b.ListAll(ctx, blobsPre+u.ID+"/", 4*u.Chunks)
	if err != nil {
		return nil, err
	}
	out := map[int]ChunkInfo{}
	seen := map[int]int{}
	for _, it := range blobs {
		idx, sum, hasSum := strings.Cut(strings.TrimPrefix(it.Key, blobsPre+u.ID+"/"), ".")
		i, err := strconv.Atoi(idx)
		if err != nil || i < 0 || i >= u.Chunks || hasSum == s.signs {
			continue
		}
		seen[i]++
		if s.signs {
			// The bytes came through the store's own signed URL, around
			// the driver: what counts is what the store holds (StoredSize,
			// not the S3 driver's unframed Size), which commit compares
			// with the declared size, since not every store bounds a
			// signed PUT's body (Azure's SAS cannot).
			out[i] = ChunkInfo{Size: it.StoredSize}
		} else {
			out[i] = ChunkInfo{Size: it.Size, CRC32C: sum}
		}
	}
	for i, n := range seen {
		if n > 1 {
			delete(out, i)
		}
	}
	return out, nil
}

func (s *Storage) uploadStatus(ctx context.Context, id string, p Principal) (*Upload, error) {
	u, _, err := s.loadUpload(ctx, id, p)
	if err != nil {
		return nil, err
	}
	out := u.answer()
	if u.State == UploadOpen {
		if out.Present, err = s.present(ctx, u); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// commit checks every chunk is stored at its exact size (and, where this
// host took the bytes, with the CRC the client says), claims the upload
// (committing, with a lease), adds the version and marks the upload
// committed. A commit of a committed upload answers its version; one that
// finds a commit stopped past its lease first looks for the version that
// commit may have added, so a retry never adds the same upload twice.
func (s *Storage) commit(ctx context.Context, d *Drive, p Principal, id string, sums []string, sum string) (*FileVersion, error) {
	u, v, err := s.loadUpload(ctx, id, p)
	if err != nil {
		return nil, err
	}
	if u.DriveID != d.ID {
		return nil, call.Errorf(ErrAccessDenied, "upload %s is for another drive", id)
	}
	switch u.State {
	case UploadCommitted:
		rec, err := s.getVersion(ctx, d, u.Name, u.Version)
		if err != nil {
			return nil, err
		}
		return &rec.FileVersion, nil
	case UploadCommitting:
		if s.now().Before(u.LeaseUntil) {
			return nil, call.Errorf(call.ErrInProgress, "upload %s is being committed; retry in a minute", id)
		}
		if fv, err := s.findCommitted(ctx, d, u); err != nil || fv != nil {
			if fv != nil {
				s.markCommitted(ctx, u, v, fv.Version)
			}
			return fv, err
		}
	case UploadOpen:
		if !s.now().Before(u.Expires) {
			return nil, call.Errorf(ErrUploadExpired, "upload %s expired at %s", id, u.Expires.Format(time.RFC3339))
		}
	default:
		return nil, call.Errorf(ErrUploadState, "upload %s is %s", id, u.State)
	}
	if err := s.checkChunks(ctx, u, sums, sum); err != nil {
		return nil, err
	}
	u.State, u.LeaseUntil = UploadCommitting, s.now().Add(CommitLease)
	if v, err = s.b.PutJSONIfVersion(ctx, uploadKey(u.ID), u, v); errors.Is(err, store.ErrPrecondition) {
		return nil, call.Errorf(call.ErrInProgress, "upload %s is being committed; retry in a minute", id)
	} else if err != nil {
		return nil, err
	}
	rec := &versionRecord{FileVersion: FileVersion{Drive: d.Name, Name: u.Name, Size: u.Size, SHA256: sum, UploadedBy: p,
		Time: s.now(), ChunkBytes: u.ChunkBytes, Chunks: u.Chunks}, Upload: u.ID, CRCs: sums, CRCKeys: !s.signs}
	fv, err := s.addVersion(ctx, d, rec)
	if err != nil {
		// Refused (a quota) or failed before any version: open again, so
		// the uploader can try later.
		u.State, u.LeaseUntil = UploadOpen, time.Time{}
		_, _ = s.b.PutJSONIfVersion(ctx, uploadKey(u.ID), u, v)
		return nil, err
	}
	s.markCommitted(ctx, u, v, fv.Version)
	return fv, nil
}

// checkChunks checks a commit's checksums and the stored chunks.
func (s *Storage) checkChunks(ctx context.Context, u *uploadRecord, sums []string, sum string) error {
	if len(sums) != u.Chunks {
		return call.Errorf(call.ErrBadArguments, "%d chunk checksums for %d chunks", len(sums), u.Chunks)
	}
	if err := checkSHA(sum); err != nil {
		return err
	}
	for _, c := range sums {
		if err := checkCRC(c); err != nil {
			return err
		}
	}
	have, err := s.present(ctx, u)
	if err != nil {
		return err
	}
	for i := range u.Chunks {
		c, ok := have[i]
		if !ok {
			return call.Errorf(ErrIncomplete, "chunk %d of %d is missing", i, u.Chunks)
		}
		// Quota and billing count the declared size, so a chunk of any
		// other size is refused here, before anything changes.
		if c.Size != u.chunkSize(i) {
			return call.Errorf(ErrIncomplete, "chunk %d of %d holds %d bytes; the upload declared %d: send it again", i, u.Chunks, c.Size, u.chunkSize(i))
		}
		if !s.signs && c.CRC32C != sums[i] {
			return call.Errorf(ErrChecksum, "chunk %d was stored with another CRC-32C than the one given", i)
		}
	}
	return nil
}

// findCommitted looks for a version of the upload's name made from it,
// among the newest ones (a stopped commit's version is near the head).
func (s *Storage) findCommitted(ctx context.Context, d *Drive, u *uploadRecord) (*FileVersion, error) {
	n, err := s.latestNumber(ctx, d.ID, u.Name)
	if err != nil {
		return nil, err
	}
	for k := n; k > 0 && k > n-MaxVersionProbe; k-- {
		var rec versionRecord
		if _, err := s.b.GetJSON(ctx, versionKey(d.ID, u.Name, k), &rec); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				continue
			}
			return nil, err
		}
		if rec.Upload == u.ID {
			return &rec.FileVersion, nil
		}
	}
	return nil, nil
}

// markCommitted records the version in the upload.
func (s *Storage) markCommitted(ctx context.Context, u *uploadRecord, v store.Version, version int64) {
	u.State, u.Version = UploadCommitted, version
	if _, err := s.b.PutJSONIfVersion(ctx, uploadKey(u.ID), u, v); err != nil {
		// The version stands; a later commit finds it (findCommitted).
		s.svc.Logger().Warn("marking an upload committed failed", "upload", u.ID, "err", err)
	}
}

// abort removes an open upload and its chunks.
func (s *Storage) abort(ctx context.Context, id string, p Principal) error {
	u, _, err := s.loadUpload(ctx, id, p)
	if err != nil {
		return err
	}
	if u.State != UploadOpen {
		return call.Errorf(ErrUploadState, "upload %s is %s", id, u.State)
	}
	return s.removeUpload(ctx, u.ID)
}

func (s *Storage) removeUpload(ctx context.Context, id string) error {
	if err := s.deletePrefix(ctx, blobsPre+id+"/"); err != nil {
		return err
	}
	if err := s.b.Delete(ctx, uploadKey(id)); err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	return nil
}

func (s *Storage) handleBeginUpload(ctx context.Context, a *BeginUploadArgs) (*Upload, error) {
	p, err := s.authorise(ctx, a.Credentials, BeginUploadResource(a))
	if err != nil {
		return nil, err
	}
	d, _, err := s.access(ctx, a.Drive, p, RoleWrite)
	if err != nil {
		return nil, err
	}
	return s.beginUpload(ctx, d, p, a.Name, a.Size, a.ChunkBytes, urlLimit{})
}

func (s *Storage) handleUploadStatus(ctx context.Context, a *UploadArgs) (*Upload, error) {
	p, err := s.authorise(ctx, a.Credentials, UploadStatusResource(a.Upload))
	if err != nil {
		return nil, err
	}
	return s.uploadStatus(ctx, a.Upload, p)
}

func (s *Storage) handleUploadURLs(ctx context.Context, a *UploadURLsArgs) (*ChunkURLs, error) {
	p, err := s.authorise(ctx, a.Credentials, UploadURLsResource(a))
	if err != nil {
		return nil, err
	}
	u, _, err := s.openUpload(ctx, a.Upload, p)
	if err != nil {
		return nil, err
	}
	if _, _, err := s.access(ctx, u.Drive, p, RoleWrite); err != nil {
		return nil, err
	}
	urls, err := s.putURLs(ctx, u, a.From, a.Count, urlLimit{})
	return &ChunkURLs{URLs: urls}, err
}

func (s *Storage) handleCommitUpload(ctx context.Context, a *CommitUploadArgs) (*FileVersion, error) {
	p, err := s.authorise(ctx, a.Credentials, CommitUploadResource(a))
	if err != nil {
		return nil, err
	}
	u, _, err := s.loadUpload(ctx, a.Upload, p)
	if err != nil {
		return nil, err
	}
	d, _, err := s.access(ctx, u.Drive, p, RoleWrite)
	if err != nil {
		return nil, err
	}
	return s.commit(ctx, d, p, a.Upload, a.Chunks, a.SHA256)
}

func (s *Storage) handleAbortUpload(ctx context.Context, a *UploadArgs) (*struct{}, error) {
	p, err := s.authorise(ctx, a.Credentials, AbortUploadResource(a.Upload))
	if err != nil {
		return nil, err
	}
	return &struct{}{}, s.abort(ctx, a.Upload, p)
}
