package storagetest

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"net/http"
	"testing"

	"github.com/openacquire/acquire/runtime/auth"
	"github.com/openacquire/acquire/runtime/service"
	"github.com/openacquire/acquire/runtime/storage"
)

// OversizeFactor is how many times its declared size ChunkSizeBound sends
// through a chunk URL.
const OversizeFactor = 4

// ChunkSizeBound plays a user who declares a one-chunk upload that fits a
// drive's quota exactly, then sends OversizeFactor times as many bytes
// through the chunk's signed PUT URL, as a client may (the URL is the
// store's, not the service's). Either the store refuses the PUT, or the
// commit must: with storage.ErrIncomplete, no version made and the drive's
// usage unchanged. around, if not nil, is then called with the chunk URL
// to write the oversized bytes to the chunk some other way (a store that
// would not have honoured the URL's bound), and the commit must again be
// refused. Last the chunk is sent at its size and the commit succeeds: a
// refused commit changed nothing. It answers the status the store gave
// the oversized PUT.
func (f *Fixture) ChunkSizeBound(t *testing.T, around func(chunkURL string, body []byte)) (putStatus int) {
	t.Helper()
	ctx := t.Context()
	const size = storage.MinChunkBytes
	if _, err := f.C.CreateDrive(ctx, f.Alice, "quota", storage.DriveOptions{MaxBytes: size}); err != nil {
		t.Fatal(err)
	}
	var up storage.Upload
	begin := &storage.BeginUploadArgs{Drive: "quota", Name: "small.bin", Size: size, ChunkBytes: size}
	err := f.call(t, "begin_upload", storage.BeginUploadResource(begin), func(cr auth.Credentials) any {
		begin.Credentials = cr
		return begin
	}, &up)
	if err != nil || up.Chunks != 1 || len(up.URLs) != 1 || up.URLs[0].Size != size {
		t.Fatalf("begin_upload: %+v %v", up, err)
	}
	chunk := up.URLs[0]
	big := bytes.Repeat([]byte("x"), OversizeFactor*size)
	putStatus = putChunk(t, chunk, big)
	if putStatus/100 == 2 {
		f.mustRefuseCommit(t, up.ID, big[:size], "after an oversized PUT through the chunk URL")
	}
	if around != nil {
		around(chunk.URL, big)
		f.mustRefuseCommit(t, up.ID, big[:size], "after an oversized chunk written around the URL")
	}
	if st := putChunk(t, chunk, big[:size]); st/100 != 2 {
		t.Fatalf("PUT of the chunk at its size: %d", st)
	}
	if _, err := f.commit(t, up.ID, big[:size]); err != nil {
		t.Fatalf("commit of a chunk at its size, after refused ones: %v", err)
	}
	if d, err := f.C.GetDrive(ctx, f.Alice, "quota"); err != nil || d.UsageBytes != size {
		t.Fatalf("drive after the commit: %+v %v", d, err)
	}
	return putStatus
}

// mustRefuseCommit commits an upload whose chunk the store holds at
// another size than declared: refused, nothing counted.
func (f *Fixture) mustRefuseCommit(t *testing.T, upload string, declared []byte, when string) {
	t.Helper()
	fv, err := f.commit(t, upload, declared)
	if !errors.Is(err, storage.ErrIncomplete) {
		t.Fatalf("commit %s: %+v %v; want %s", when, fv, err, storage.ErrIncomplete.Class)
	}
	d, err := f.C.GetDrive(t.Context(), f.Alice, "quota")
	if err != nil || d.UsageBytes != 0 {
		t.Fatalf("drive %s: %+v %v; want nothing used", when, d, err)
	}
	if l, err := f.C.ListFiles(t.Context(), f.Alice, "quota", "", 10); err != nil || len(l.Files) != 0 {
		t.Fatalf("files %s: %+v %v; want none", when, l, err)
	}
}

// commit commits a one-chunk upload declaring data's checksums.
func (f *Fixture) commit(t *testing.T, upload string, data []byte) (*storage.FileVersion, error) {
	t.Helper()
	sum := sha256.Sum256(data)
	args := &storage.CommitUploadArgs{Upload: upload, SHA256: hex.EncodeToString(sum[:]),
		Chunks: []string{fmt.Sprintf("%08x", crc32.Checksum(data, crc32.MakeTable(crc32.Castagnoli)))}}
	var fv storage.FileVersion
	err := f.call(t, "commit_upload", storage.CommitUploadResource(args), func(cr auth.Credentials) any {
		args.Credentials = cr
		return args
	}, &fv)
	return &fv, err
}

func (f *Fixture) call(t *testing.T, fn, resource string, args func(auth.Credentials) any, out any) error {
	t.Helper()
	return service.SignedCall(t.Context(), f.C.C, f.C.URL, f.Alice, fn, resource, args, out, true)
}

// putChunk sends body to a chunk URL as the storage client does (the
// URL's headers, and the blob type Azure needs), with its real length.
func putChunk(t *testing.T, u storage.ChunkURL, body []byte) int {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPut, u.URL, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Ms-Blob-Type", "BlockBlob")
	for k, v := range u.Headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("PUT %d bytes: %v", len(body), err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	return resp.StatusCode
}
