package storage

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// chunkSink is a chunk endpoint that keeps what each PUT sent, refusing a
// body that does not match its CRC header.
type chunkSink struct {
	mu     sync.Mutex
	chunks map[int][]byte
}

func (s *chunkSink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	i, err := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/c/"))
	b, rerr := io.ReadAll(r.Body)
	if err != nil || rerr != nil || crcString(crc32.Checksum(b, castagnoli)) != r.Header.Get(CRC32CHeader) {
		http.Error(w, "bad chunk", http.StatusUnprocessableEntity)
		return
	}
	s.mu.Lock()
	s.chunks[i] = b
	s.mu.Unlock()
	w.WriteHeader(http.StatusCreated)
}

// fakeSide begins uploads at its own chunk size, optionally waiting first
// for a condition, and keeps what the commit said.
type fakeSide struct {
	base        string
	chunk       int64
	beginErr    error
	duringBegin func() error
	committed   struct {
		sums []string
		sum  string
	}
}

func (f *fakeSide) begin(_ context.Context, name string, size, _ int64) (*Upload, error) {
	if f.duringBegin != nil {
		if err := f.duringBegin(); err != nil {
			return nil, err
		}
	}
	if f.beginErr != nil {
		return nil, f.beginErr
	}
	n := int((size + f.chunk - 1) / f.chunk)
	up := &Upload{ID: "u1", Name: name, Size: size, ChunkBytes: f.chunk, Chunks: n, State: UploadOpen}
	up.URLs, _ = f.urls(context.Background(), up.ID, 0, n)
	return up, nil
}

func (f *fakeSide) urls(_ context.Context, _ string, from, count int) ([]ChunkURL, error) {
	var out []ChunkURL
	for i := from; i < from+count; i++ {
		out = append(out, ChunkURL{Index: i, Method: http.MethodPut, URL: fmt.Sprintf("%s/c/%d", f.base, i), Expires: time.Now().Add(time.Hour)})
	}
	return out, nil
}

func (f *fakeSide) commit(_ context.Context, _ string, sums []string, sum string) (*FileVersion, error) {
	f.committed.sums, f.committed.sum = sums, sum
	return &FileVersion{SHA256: sum}, nil
}

func (f *fakeSide) putInline(context.Context, string, []byte, string) (*FileVersion, error) {
	return nil, errors.New("not inline")
}
func (f *fakeSide) status(context.Context, string) (*Upload, error) {
	return nil, errors.New("no status")
}
func (f *fakeSide) open(context.Context, string, int64, int) (*Download, error) {
	return nil, errors.New("no downloads")
}

// countingReader says how many bytes were read from it.
type countingReader struct {
	r    io.Reader
	mu   sync.Mutex
	read int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.mu.Lock()
	c.read += int64(n)
	c.mu.Unlock()
	return n, err
}

func (c *countingReader) count() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.read
}

// TestUploadReadsAhead: the first chunk is read while the service begins
// the upload, and what the service stores and is told is the file's, both
// when it chose the chunk size read ahead and when it chose another (the
// bytes read ahead are read again); a failed begin or a short file is an
// error.
func TestUploadReadsAhead(t *testing.T) {
	sink := &chunkSink{chunks: map[int][]byte{}}
	srv := httptest.NewServer(sink)
	defer srv.Close()
	for _, tc := range []struct {
		name  string
		size  int64
		chunk int64 // the service's choice
	}{
		{"the chunk size read ahead", 2*DefaultChunkBytes + 12345, DefaultChunkBytes},
		{"another chunk size", 5*MinChunkBytes + 7, MinChunkBytes},
		{"a file under one chunk", 1<<20 + 3, DefaultChunkBytes},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sink.chunks = map[int][]byte{}
			data := make([]byte, tc.size)
			rng := rand.New(rand.NewPCG(uint64(tc.size), 1))
			for i := range data {
				data[i] = byte(rng.Uint32())
			}
			r := &countingReader{r: bytes.NewReader(data)}
			f := &fakeSide{base: srv.URL, chunk: tc.chunk}
			want := min(DefaultChunkBytes, tc.size)
			f.duringBegin = func() error {
				for deadline := time.Now().Add(10 * time.Second); r.count() < want; time.Sleep(time.Millisecond) {
					if time.Now().After(deadline) {
						return fmt.Errorf("only %d bytes were read while the upload was begun, want %d", r.count(), want)
					}
				}
				return nil
			}
			fv, err := newTransfer(nil, 0, nil).upload(context.Background(), f, "x", r, tc.size, UploadOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if fv.SHA256 != sha256Hex(data) {
				t.Fatalf("committed SHA-256 %s, want the file's", fv.SHA256)
			}
			if len(sink.chunks) != len(f.committed.sums) {
				t.Fatalf("%d chunks stored, %d committed", len(sink.chunks), len(f.committed.sums))
			}
			var got []byte
			for i := range len(sink.chunks) {
				c := sink.chunks[i]
				if int64(len(c)) != min(tc.chunk, tc.size-int64(i)*tc.chunk) || crcString(crc32.Checksum(c, castagnoli)) != f.committed.sums[i] {
					t.Fatalf("chunk %d: %d bytes, CRC %s committed", i, len(c), f.committed.sums[i])
				}
				got = append(got, c...)
			}
			if !bytes.Equal(got, data) {
				t.Fatal("the stored chunks are not the file")
			}
		})
	}
	t.Run("a failed begin", func(t *testing.T) {
		f := &fakeSide{base: srv.URL, chunk: MinChunkBytes, beginErr: errors.New("refused")}
		_, err := newTransfer(nil, 0, nil).upload(context.Background(), f, "x", bytes.NewReader(make([]byte, 1<<20)), 1<<20, UploadOptions{})
		if err == nil || err.Error() != "refused" {
			t.Fatalf("got %v, want the begin's error", err)
		}
	})
	t.Run("a short file", func(t *testing.T) {
		f := &fakeSide{base: srv.URL, chunk: DefaultChunkBytes}
		_, err := newTransfer(nil, 0, nil).upload(context.Background(), f, "x", bytes.NewReader(make([]byte, 1<<20)), 2<<20, UploadOptions{})
		var ue *UploadError
		if !errors.As(err, &ue) || !errors.Is(err, io.ErrUnexpectedEOF) || !strings.Contains(err.Error(), "chunk 0") {
			t.Fatalf("got %v, want an UploadError reading chunk 0", err)
		}
	})
}
