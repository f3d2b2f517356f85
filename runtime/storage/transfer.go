package storage

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/openacquire/acquire/runtime/call"
)

// Client-side transfer limits.
const (
	// ChunkAttempts is how often one chunk is tried (a fresh URL each retry).
	ChunkAttempts = 3
	// ChunkTimeout bounds one chunk's HTTP request.
	ChunkTimeout = 5 * time.Minute
	// URLMargin: a URL expiring sooner than this is refreshed before use.
	URLMargin = 30 * time.Second
	// URLBatch is how many chunk URLs one upload_urls call asks for.
	URLBatch = 64
	// transferBufferBytes is the shared HTTP client's socket buffer size.
	transferBufferBytes = 256 << 10
	// maxErrorBodyBytes bounds how much of a failed chunk answer is read.
	maxErrorBodyBytes = 1024
)

// CRC32CHeader carries a chunk's CRC-32C (Castagnoli, 8 hex digits) on a
// PUT; the host-served data handler refuses bytes that do not match it.
// Chunks carry a CRC and only the whole file a SHA-256: see the design note
// (one SHA-256 pass per transfer instead of three).
const CRC32CHeader = "X-Acquire-Crc32c"

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// crcString is a CRC-32C as 8 lower-case hex digits.
func crcString(crc uint32) string { return fmt.Sprintf("%08x", crc) }

// crcPieceBytes is how much of a chunk is read before it is checksummed:
// little enough to still be in the CPU's cache, where a pass over the
// whole 8 MiB chunk afterwards reads it back from memory.
const crcPieceBytes = 256 << 10

// readFullCRC fills buf from r as io.ReadFull does, and answers the CRC-32C
// of what it read, computed piece by piece as the bytes arrive.
func readFullCRC(r io.Reader, buf []byte) (uint32, error) {
	var crc uint32
	for off := 0; off < len(buf); {
		n, err := io.ReadFull(r, buf[off:min(off+crcPieceBytes, len(buf))])
		crc = crc32.Update(crc, castagnoli, buf[off:off+n])
		off += n
		if errors.Is(err, io.EOF) && off > 0 {
			err = io.ErrUnexpectedEOF
		}
		if err != nil {
			return crc, err
		}
	}
	return crc, nil
}

// UploadError is an upload that failed after the service knew it: resume
// it with UploadOptions.Resume = Upload.
type UploadError struct {
	Upload string
	Err    error
}

func (e *UploadError) Error() string {
	return fmt.Sprintf("upload %s interrupted (resume it with its id): %v", e.Upload, e.Err)
}
func (e *UploadError) Unwrap() error { return e.Err }

// side is one caller's view of the transfer functions: a user's or a PAR's.
type side interface {
	putInline(ctx context.Context, name string, data []byte, sum string) (*FileVersion, error)
	begin(ctx context.Context, name string, size, chunkBytes int64) (*Upload, error)
	status(ctx context.Context, upload string) (*Upload, error)
	urls(ctx context.Context, upload string, from, count int) ([]ChunkURL, error)
	commit(ctx context.Context, upload string, chunks []string, sum string) (*FileVersion, error)
	open(ctx context.Context, name string, version int64, from int) (*Download, error)
}

// sharedHTTP carries chunks when the caller gives no client: connections
// kept for a full set of parallel transfers, socket buffers large enough
// that an 8 MiB chunk is not written 4 KiB at a time, and a chunk's body
// sent in one write (bodyConn).
var sharedHTTP = func() *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.DialContext = dialBodyConn
	tr.MaxIdleConnsPerHost = MaxParallel
	tr.WriteBufferSize = transferBufferBytes
	tr.ReadBufferSize = transferBufferBytes
	return &http.Client{Transport: tr}
}()

// transfer moves one file's chunks with bounded memory.
type transfer struct {
	http     *http.Client
	parallel int
	clock    func() time.Time
}

func newTransfer(hc *http.Client, parallel int, clock func() time.Time) *transfer {
	if hc == nil {
		hc = sharedHTTP
	}
	if parallel <= 0 {
		parallel = DefaultParallel
	}
	if clock == nil {
		clock = time.Now
	}
	return &transfer{http: hc, parallel: min(parallel, MaxParallel), clock: clock}
}

// progress serialises a transfer's progress reports.
type progress struct {
	mu    sync.Mutex
	done  int64
	total int64
	fn    Progress
}

func (p *progress) add(n int64) {
	if p.fn == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done += n
	p.fn(p.done, p.total)
}

// bufferPool hands out at most n chunk buffers, allocated on first use.
type bufferPool chan []byte

func newBufferPool(n int) bufferPool {
	p := make(bufferPool, n)
	for range n {
		p <- nil
	}
	return p
}

func (p bufferPool) get(ctx context.Context, size int64) ([]byte, error) {
	select {
	case b := <-p:
		if int64(cap(b)) < size {
			b = make([]byte, size)
		}
		return b[:size], nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (p bufferPool) put(b []byte) { p <- b }

func (t *transfer) upload(ctx context.Context, sd side, name string, r io.Reader, size int64, o UploadOptions) (*FileVersion, error) {
	if size < 0 || size > MaxFileBytes {
		return nil, call.Errorf(ErrFileTooLarge, "size %d outside [0, %d]", size, int64(MaxFileBytes))
	}
	prog := &progress{total: size, fn: o.Progress}
	if size <= InlineMaxBytes && o.Resume == "" {
		data := make([]byte, size)
		if _, err := io.ReadFull(r, data); err != nil {
			return nil, fmt.Errorf("storage: reading the file: %w", err)
		}
		sum := sha256.Sum256(data)
		fv, err := sd.putInline(ctx, name, data, hex.EncodeToString(sum[:]))
		if err == nil {
			prog.add(size)
		}
		return fv, err
	}
	var up *Upload
	var err error
	src := t.newSource(r)
	if o.Resume != "" {
		up, err = sd.status(ctx, o.Resume)
		if err == nil && up.Size != size {
			err = fmt.Errorf("storage: upload %s is of %d bytes, not %d", up.ID, up.Size, size)
		}
	} else {
		ahead := src.readAhead(min(cmp.Or(o.ChunkBytes, DefaultChunkBytes), size))
		up, err = sd.begin(ctx, name, size, o.ChunkBytes)
		<-ahead
		if err == nil {
			src.settle(min(up.ChunkBytes, size))
		}
	}
	if err != nil {
		src.file.sum() // ends the hash goroutine
		return nil, err
	}
	if o.OnBegin != nil {
		o.OnBegin(*up)
	}
	fv, err := t.sendChunks(ctx, sd, up, src, prog)
	if err != nil {
		return nil, &UploadError{Upload: up.ID, Err: err}
	}
	return fv, nil
}

// source reads a file's chunks in order into pooled buffers and hashes the
// whole file as it goes.
type source struct {
	r    io.Reader
	pool bufferPool
	file *hasher
	// first is chunk 0 when it was read ahead, while the upload was begun.
	first *chunkRead
}

// chunkRead is one chunk read: its buffer, its CRC-32C, and release, to
// call once its PUT is done (the hash calls it too).
type chunkRead struct {
	buf     []byte
	crc     uint32
	release func()
	err     error
}

func (t *transfer) newSource(r io.Reader) *source {
	return &source{r: r, pool: newBufferPool(t.parallel + 1), file: newHasher(t.parallel + 1)}
}

// readAhead reads and hashes the first n bytes while the caller waits for
// the service to begin the upload (a call of several milliseconds that
// would otherwise leave the cores idle); the channel closes when done.
func (s *source) readAhead(n int64) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		c := s.read(context.Background(), 0, n)
		s.first = &c
	}()
	return done
}

// settle keeps the chunk read ahead if the service chose the size it was
// read at (or reading it failed: that is chunk 0's error). Otherwise its
// bytes become the start of what is read, from memory, and the hash starts
// over; the buffer stays out of the pool, which makes a new one instead.
func (s *source) settle(first int64) {
	c := s.first
	if c == nil || c.err != nil || int64(len(c.buf)) == first {
		return
	}
	s.first = nil
	s.file.sum()
	s.file = newHasher(cap(s.pool))
	s.r = io.MultiReader(bytes.NewReader(c.buf), s.r)
	s.pool.put(nil)
}

// read reads chunk i of n bytes and queues it for the hash.
func (s *source) read(ctx context.Context, i int, n int64) chunkRead {
	if i == 0 && s.first != nil {
		return *s.first
	}
	buf, err := s.pool.get(ctx, n)
	if err != nil {
		return chunkRead{err: err}
	}
	crc, err := readFullCRC(s.r, buf)
	if err != nil {
		s.pool.put(buf)
		return chunkRead{err: fmt.Errorf("storage: reading the file at chunk %d: %w", i, err)}
	}
	release := releaseAfter(2, func() { s.pool.put(buf) })
	s.file.add(buf, release)
	return chunkRead{buf: buf, crc: crc, release: release}
}

// sendChunks reads the file once, in order, checksumming every chunk; the
// whole file's SHA-256 runs beside it on its own goroutine (the one
// sequential pass), and chunks the service lacks go out Parallel at a
// time. A buffer returns to the pool when both its hash and its PUT are
// done.
func (t *transfer) sendChunks(ctx context.Context, sd side, up *Upload, src *source, prog *progress) (*FileVersion, error) {
	urls := &urlCache{clock: t.clock, m: map[int]ChunkURL{}, fetch: func(ctx context.Context, from int) ([]ChunkURL, error) {
		return sd.urls(ctx, up.ID, from, min(URLBatch, up.Chunks-from))
	}}
	for _, u := range up.URLs {
		urls.m[u.Index] = u
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(t.parallel)
	sums := make([]string, up.Chunks)
	// A resumed upload that is no longer open needs no bytes, only the
	// checksums its commit is asked with (the commit answers its version).
	sendNone := up.State != "" && up.State != UploadOpen
	readErr := func() error {
		for i := range up.Chunks {
			n := min(up.ChunkBytes, up.Size-int64(i)*up.ChunkBytes)
			c := src.read(gctx, i, n)
			if c.err != nil {
				return c.err
			}
			buf, release := c.buf, c.release
			sums[i] = crcString(c.crc)
			if p, ok := up.Present[i]; sendNone || ok && p.Size == n && (p.CRC32C == "" || p.CRC32C == sums[i]) {
				release()
				prog.add(n)
				continue
			}
			g.Go(func() error {
				defer release()
				if err := t.putChunk(gctx, urls, i, buf, sums[i]); err != nil {
					return err
				}
				prog.add(n)
				return nil
			})
		}
		return nil
	}()
	sum := src.file.sum()
	if err := g.Wait(); err != nil {
		return nil, err
	}
	if readErr != nil {
		return nil, readErr
	}
	return sd.commit(ctx, up.ID, sums, sum)
}

// releaseAfter calls fn once it has itself been called n times.
func releaseAfter(n int32, fn func()) func() {
	var left atomic.Int32
	left.Store(n)
	return func() {
		if left.Add(-1) == 0 {
			fn()
		}
	}
}

// hasher computes a SHA-256 over buffers given in order, on its own goroutine.
type hasher struct {
	q    chan hashJob
	done chan string
}

type hashJob struct {
	buf  []byte
	then func()
}

func newHasher(queue int) *hasher {
	h := &hasher{q: make(chan hashJob, queue), done: make(chan string, 1)}
	go func() {
		s := sha256.New()
		for j := range h.q {
			s.Write(j.buf)
			j.then()
		}
		h.done <- hex.EncodeToString(s.Sum(nil))
	}()
	return h
}

// add hashes buf next, then calls then. It never blocks for long: the queue
// holds as many buffers as the pool.
func (h *hasher) add(buf []byte, then func()) { h.q <- hashJob{buf, then} }

// sum ends the hash and answers it.
func (h *hasher) sum() string {
	close(h.q)
	return <-h.done
}

func (t *transfer) putChunk(ctx context.Context, urls *urlCache, i int, buf []byte, sum string) error {
	var last error
	for attempt := range ChunkAttempts {
		u, err := urls.get(ctx, i, attempt > 0)
		if err != nil {
			return err
		}
		if last = t.do(ctx, u, buf, sum, nil); last == nil {
			return nil
		}
		if ctx.Err() != nil {
			return last
		}
	}
	return last
}

// do sends one chunk request: a PUT of body, or a GET whose answer fills
// into and must match sum.
func (t *transfer) do(ctx context.Context, u ChunkURL, body []byte, sum string, into []byte) error {
	var sent sentBodies
	defer sent.wait() // last, after cancel: the caller reuses body's buffer
	ctx, cancel := context.WithTimeout(ctx, ChunkTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, u.Method, u.URL, nil)
	if err != nil {
		return fmt.Errorf("storage: chunk %d: bad URL", u.Index)
	}
	if u.Method == http.MethodPut {
		// Checked first: a body handed to the request must be sent (and
		// closed) before do returns (sent.wait).
		if err := setStoreHeaders(req.Header, u); err != nil {
			return err
		}
		req.Body = sent.add(body)
		req.GetBody = func() (io.ReadCloser, error) { return sent.add(body), nil }
		req.ContentLength = int64(len(body))
		req.Header.Set(CRC32CHeader, sum)
		// Azure's Put Blob needs the blob type; other stores ignore a
		// header they do not know on a signed PUT.
		req.Header.Set("X-Ms-Blob-Type", "BlockBlob")
	}
	resp, err := t.http.Do(req)
	if err != nil {
		return fmt.Errorf("storage: chunk %d: %w", u.Index, errors.Unwrap(err))
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode/100 != 2 {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBodyBytes))
		return fmt.Errorf("storage: chunk %d: %s: %s", u.Index, resp.Status, bytes.TrimSpace(msg))
	}
	if into == nil {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxErrorBodyBytes))
		return nil
	}
	crc, err := readFullCRC(resp.Body, into)
	if err != nil {
		return fmt.Errorf("storage: chunk %d: short body: %w", u.Index, err)
	}
	if n, _ := resp.Body.Read(make([]byte, 1)); n > 0 {
		return fmt.Errorf("storage: chunk %d: longer than %d bytes", u.Index, len(into))
	}
	if crcString(crc) != sum {
		return call.Errorf(ErrChecksum, "chunk %d does not match its CRC-32C", u.Index)
	}
	return nil
}

// maxChunkHeaders bounds the headers a chunk URL may ask a PUT to send.
const maxChunkHeaders = 4

// setStoreHeaders sets the headers the store signed into a chunk URL
// (ChunkURL.Headers). Only a store's own extension headers are taken, and
// few: a service cannot make the client send credentials, cookies or
// framing headers of its choosing.
func setStoreHeaders(h http.Header, u ChunkURL) error {
	if len(u.Headers) > maxChunkHeaders {
		return fmt.Errorf("storage: chunk %d: the URL asks for %d headers; at most %d", u.Index, len(u.Headers), maxChunkHeaders)
	}
	for k, v := range u.Headers {
		name := strings.ToLower(k)
		if !strings.HasPrefix(name, "x-goog-") && !strings.HasPrefix(name, "x-amz-") && !strings.HasPrefix(name, "x-ms-") {
			return fmt.Errorf("storage: chunk %d: the URL asks for header %q, which is not a store's", u.Index, clip(k))
		}
		h.Set(k, v)
	}
	return nil
}

// urlCache keeps a transfer's chunk URLs and fetches fresh ones in batches.
type urlCache struct {
	mu    sync.Mutex
	clock func() time.Time
	m     map[int]ChunkURL
	fetch func(ctx context.Context, from int) ([]ChunkURL, error)
}

func (c *urlCache) get(ctx context.Context, i int, fresh bool) (ChunkURL, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if u, ok := c.m[i]; ok && !fresh && u.Expires.After(c.clock().Add(URLMargin)) {
		return u, nil
	}
	us, err := c.fetch(ctx, i)
	if err != nil {
		return ChunkURL{}, err
	}
	for _, u := range us {
		c.m[u.Index] = u
	}
	u, ok := c.m[i]
	if !ok {
		return ChunkURL{}, fmt.Errorf("storage: the service gave no URL for chunk %d", i)
	}
	return u, nil
}

func (t *transfer) download(ctx context.Context, sd side, name string, w io.Writer, o DownloadOptions) (*FileVersion, error) {
	d, err := sd.open(ctx, name, o.Version, 0)
	if err != nil {
		return nil, err
	}
	f := d.File
	prog := &progress{total: f.Size, fn: o.Progress}
	if f.Inline {
		if int64(len(d.Data)) != f.Size || sha256Hex(d.Data) != f.SHA256 {
			return nil, call.Errorf(ErrChecksum, "%s version %d: inline bytes do not match their SHA-256", f.Name, f.Version)
		}
		if _, err := w.Write(d.Data); err != nil {
			return nil, err
		}
		prog.add(f.Size)
		return &f, nil
	}
	urls := &urlCache{clock: t.clock, m: map[int]ChunkURL{}, fetch: func(ctx context.Context, from int) ([]ChunkURL, error) {
		d, err := sd.open(ctx, f.Name, f.Version, from)
		if err != nil {
			return nil, err
		}
		return d.Chunks, nil
	}}
	for _, u := range d.Chunks {
		urls.m[u.Index] = u
	}
	if err := t.getChunks(ctx, &f, urls, w, prog); err != nil {
		return nil, err
	}
	return &f, nil
}

type fetched struct {
	buf []byte
	err error
}

// getChunks fetches up to Parallel chunks at once and writes them in
// order, hashing the whole file as it goes.
func (t *transfer) getChunks(ctx context.Context, f *FileVersion, urls *urlCache, w io.Writer, prog *progress) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	pool := newBufferPool(t.parallel + 1)
	order := make(chan chan fetched, t.parallel)
	go func() {
		defer close(order)
		for i := range f.Chunks {
			n := min(f.ChunkBytes, f.Size-int64(i)*f.ChunkBytes)
			buf, err := pool.get(ctx, n)
			ch := make(chan fetched, 1)
			if err != nil {
				ch <- fetched{err: err}
				order <- ch
				return
			}
			select {
			case order <- ch:
			case <-ctx.Done():
				return
			}
			go func() { ch <- fetched{buf, t.getChunk(ctx, urls, i, buf)} }()
		}
	}()
	file := newHasher(t.parallel + 1)
	wb := newWriteback(w)
	var werr error
	for ch := range order {
		r := <-ch
		if werr == nil {
			werr = r.err
		}
		if werr != nil || r.buf == nil {
			if r.buf != nil {
				pool.put(r.buf)
			}
			cancel()
			continue
		}
		buf := r.buf
		release := releaseAfter(2, func() { pool.put(buf) })
		file.add(buf, release) // hashed while it is written
		_, werr = w.Write(buf)
		if werr == nil {
			wb.wrote(int64(len(buf)))
		}
		release()
		prog.add(int64(len(buf)))
		if werr != nil {
			cancel()
		}
	}
	sum := file.sum()
	if werr != nil {
		return werr
	}
	if sum != f.SHA256 {
		return call.Errorf(ErrChecksum, "%s version %d: the file's SHA-256 does not match", f.Name, f.Version)
	}
	return nil
}

func (t *transfer) getChunk(ctx context.Context, urls *urlCache, i int, buf []byte) error {
	var last error
	for attempt := range ChunkAttempts {
		u, err := urls.get(ctx, i, attempt > 0)
		if err != nil {
			return err
		}
		if u.Size != int64(len(buf)) {
			return fmt.Errorf("storage: chunk %d is %d bytes, expected %d", i, u.Size, len(buf))
		}
		if last = t.do(ctx, u, nil, u.CRC32C, buf); last == nil {
			return nil
		}
		if ctx.Err() != nil {
			return last
		}
	}
	return last
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}
