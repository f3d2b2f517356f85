package storage

import (
	"bytes"
	"context"
	"crypto/hmac"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/openacquire/acquire/runtime/call"
	"github.com/openacquire/acquire/runtime/store"
)

// DataPath is where the service serves chunk bytes itself, below its own
// URL: <service URL>/data/<key>?exp=…&size=…&sig=….
const DataPath = "/data/"

// DataRoute is the one path of the data URLs that carry their key in the
// query (Options.DataKeyInQuery): <service URL>/data?key=<key>&exp=….
const DataRoute = "/data"

const dataKeyParam = "key"

// urlLimit caps chunk URLs' lives (a PAR's expiry, an upload's) and says
// whose they are (whose transfer slots they use: see dataslots.go).
type urlLimit struct {
	until time.Time
	who   Principal
}

func (l urlLimit) before(t time.Time) urlLimit {
	if l.until.IsZero() || t.Before(l.until) {
		l.until = t
	}
	return l
}

// tag names a principal in a chunk URL, without saying who it is.
func (p Principal) tag() string { return digestOf("who", p.IdentityURL, p.UserUID, p.PAR)[:16] }

// chunkURL signs one chunk's URL: the store's own signed URL when it can
// sign, else one this service's data handler honours.
func (s *Storage) chunkURL(ctx context.Context, method, key string, i int, size int64, lim urlLimit) (ChunkURL, error) {
	now := s.now()
	life := DataURLLife
	if !lim.until.IsZero() {
		life = min(life, lim.until.Sub(now))
	}
	life = life.Truncate(time.Second)
	if life < time.Second {
		return ChunkURL{}, call.Errorf(ErrPARExpired, "no time is left to use a chunk URL")
	}
	c := ChunkURL{Index: i, Method: method, Expires: now.Add(life), Size: size}
	if s.signs {
		var err error
		if method == http.MethodPut {
			// Bound to the chunk's size where the store can; commit
			// measures what landed either way (checkChunks).
			c.URL, c.Headers, err = s.b.SignedPutURL(ctx, key, size, life)
		} else {
			c.URL, err = s.b.SignedURL(ctx, key, method, life)
		}
		if err != nil {
			return ChunkURL{}, err
		}
		return c, nil
	}
	exp := strconv.FormatInt(c.Expires.Unix(), 10)
	sz := strconv.FormatInt(size, 10)
	who := lim.who.tag()
	q := url.Values{"exp": {exp}, "size": {sz}, "who": {who}, "sig": {s.dataMAC(method, key, exp, sz, who)}}
	if s.o.DataKeyInQuery {
		q.Set(dataKeyParam, key)
		c.URL = strings.TrimRight(s.svc.URL(), "/") + DataRoute + "?" + q.Encode()
		return c, nil
	}
	c.URL = strings.TrimRight(s.svc.URL(), "/") + DataPath + key + "?" + q.Encode()
	return c, nil
}

// dataMAC binds a host-served URL to its method, key, expiry, size and
// principal, with a key derived from the service secret (the same in
// every instance).
func (s *Storage) dataMAC(method, key, exp, size, who string) string {
	return s.svc.Keys().MAC("storage-data", []byte("acquire-storage-data-v2\n"+method+"\n"+key+"\n"+exp+"\n"+size+"\n"+who))
}

// DataHandler serves the chunk URLs this service signs itself. Mount it at
// the path of the service URL + DataPath (the host does).
func (s *Storage) DataHandler() http.Handler { return http.HandlerFunc(s.serveData) }

type dataError struct {
	status int
	msg    string
}

func (e *dataError) Error() string { return e.msg }

func (s *Storage) serveData(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	key, size, who, err := s.checkDataURL(r)
	if err == nil {
		switch r.Method {
		case http.MethodGet:
			err = s.serveChunk(w, r, key, size, who)
		case http.MethodPut:
			err = s.takeChunk(w, r, key, size, who)
			if err == nil {
				w.WriteHeader(http.StatusCreated)
			}
		}
	}
	if err != nil {
		var de *dataError
		if !errors.As(err, &de) {
			s.svc.Logger().Error("data handler failed", "err", err)
			de = &dataError{http.StatusInternalServerError, "internal error"}
		}
		http.Error(w, de.msg, de.status)
	}
}

// checkDataURL checks the signature and expiry and answers the key, the
// size and the principal's tag.
func (s *Storage) checkDataURL(r *http.Request) (string, int64, string, error) {
	_, key, ok := strings.Cut(r.URL.Path, DataPath)
	if !ok && strings.HasSuffix(r.URL.Path, DataRoute) {
		key, ok = r.URL.Query().Get(dataKeyParam), true
	}
	if r.Method != http.MethodGet && r.Method != http.MethodPut {
		return "", 0, "", &dataError{http.StatusMethodNotAllowed, "GET or PUT"}
	}
	q := r.URL.Query()
	exp, sz, who, sig := q.Get("exp"), q.Get("size"), q.Get("who"), q.Get("sig")
	want := s.dataMAC(r.Method, key, exp, sz, who)
	if !ok || !hmac.Equal([]byte(sig), []byte(want)) || !strings.HasPrefix(key, blobsPre) || store.ValidateKey(key) != nil {
		return "", 0, "", &dataError{http.StatusForbidden, "the URL's signature does not verify"}
	}
	e, err1 := strconv.ParseInt(exp, 10, 64)
	size, err2 := strconv.ParseInt(sz, 10, 64)
	if err1 != nil || err2 != nil || size < 1 {
		return "", 0, "", &dataError{http.StatusForbidden, "the URL is malformed"}
	}
	if !s.now().Before(time.Unix(e, 0)) {
		return "", 0, "", &dataError{http.StatusForbidden, "the URL has expired"}
	}
	return key, size, who, nil
}

// serveChunk streams one chunk from the store. On local files the bytes
// go from the chunk's file to the socket with sendfile(2), never through
// this process's memory; the store's own CRC pass is skipped for that, as
// every client checks each chunk against the CRC-32C its upload recorded.
//
// It holds one of who's slots while it sends, and a reader too slow to
// take the chunk at the minimum rate is cut off at its deadline.
func (s *Storage) serveChunk(w http.ResponseWriter, r *http.Request, key string, size int64, who string) error {
	release, err := s.takeSlot(r, who)
	if err != nil {
		return err
	}
	defer release()
	ctx := r.Context()
	st, err := s.b.Open(ctx, key)
	if errors.Is(err, store.ErrNotFound) {
		return &dataError{http.StatusNotFound, "no such chunk"}
	}
	if err != nil {
		return err
	}
	defer func() { _ = st.Close() }()
	if st.Size != size {
		return errors.New("storage: chunk " + key + " has the wrong size")
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Content-Length", strconv.FormatInt(size, 10))
	// One deadline for the whole chunk, not one per write: the file store's
	// chunks go out with sendfile(2), in one call.
	_ = http.NewResponseController(w).SetWriteDeadline(s.pace.deadline(time.Now(), size))
	// A failure here is the connection's (the client retries the chunk);
	// headers are sent, so there is no status left to report it with.
	_, _ = io.Copy(w, st.R)
	return nil
}

// chunkBuffers recycles the data handler's PUT buffers: a fresh 8 MiB
// allocation per chunk costs its zeroing and the collector's work. At most
// MaxChunksInFlight are in use at once.
var chunkBuffers = sync.Pool{New: func() any { return new([]byte) }}

// takeChunk stores one PUT chunk: the upload must still be open and the
// chunk exactly its size, and the bytes must match the CRC32CHeader. It
// takes one of who's slots only when the body's first byte is here, and
// the rest must keep coming (pacedBody).
func (s *Storage) takeChunk(w http.ResponseWriter, r *http.Request, key string, size int64, who string) error {
	ctx := r.Context()
	upload, idx, _ := strings.Cut(strings.TrimPrefix(key, blobsPre), "/")
	i, err := strconv.Atoi(idx)
	if err != nil {
		return &dataError{http.StatusBadRequest, "not a chunk key"}
	}
	var u uploadRecord
	if _, err := s.b.GetJSON(ctx, uploadKey(upload), &u); errors.Is(err, store.ErrNotFound) {
		return &dataError{http.StatusNotFound, "no such upload"}
	} else if err != nil {
		return err
	}
	if u.State != UploadOpen || !s.now().Before(u.Expires) || i < 0 || i >= u.Chunks || u.chunkSize(i) != size {
		return &dataError{http.StatusConflict, "the upload is committed, expired, or has no such chunk"}
	}
	sum := r.Header.Get(CRC32CHeader)
	if checkCRC(sum) != nil {
		return &dataError{http.StatusBadRequest, "give the chunk's CRC-32C in " + CRC32CHeader}
	}
	if r.ContentLength != size {
		return &dataError{http.StatusBadRequest, "the body must be exactly " + strconv.FormatInt(size, 10) + " bytes"}
	}
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Now().Add(s.pace.start))
	var first [1]byte
	if _, err := io.ReadFull(r.Body, first[:]); err != nil {
		return &dataError{http.StatusRequestTimeout, "no body came"}
	}
	release, err := s.takeSlot(r, who)
	if err != nil {
		return err
	}
	defer release()
	bp := chunkBuffers.Get().(*[]byte)
	defer chunkBuffers.Put(bp)
	if int64(cap(*bp)) < size {
		*bp = make([]byte, size)
	}
	buf := (*bp)[:size]
	body := &pacedBody{r: r.Body, rc: rc, now: time.Now, stall: s.pace.stall, end: s.pace.deadline(time.Now(), size)}
	crc, err := readFullCRC(io.MultiReader(bytes.NewReader(first[:]), body), buf)
	if err != nil {
		return &dataError{http.StatusBadRequest, "the body ended early or stalled"}
	}
	if crcString(crc) != sum {
		return &dataError{http.StatusUnprocessableEntity, "the bytes do not match " + CRC32CHeader}
	}
	// Stored under its CRC: the key says what the bytes were checked
	// against, and listing the upload shows it (see present). The store
	// takes the CRC just computed instead of making its own pass.
	stored := key + "." + sum
	if _, err := s.b.PutCRC32C(ctx, stored, buf, crc); err != nil {
		return err
	}
	// A replaced chunk leaves the old copy: remove every other one.
	old, err := s.b.ListAll(ctx, key+".", 16)
	if err != nil {
		return err
	}
	for _, it := range old {
		if it.Key != stored {
			_ = s.b.Delete(ctx, it.Key)
		}
	}
	return nil
}

// sweepCommitting ends an upload whose commit stopped and was never
// retried: the record goes, and the chunks too unless a version holds them.
func (s *Storage) sweepCommitting(ctx context.Context, u *uploadRecord) error {
	d, _, err := s.getDrive(ctx, u.Drive)
	if errors.Is(err, call.ErrNotFound) {
		return s.removeUpload(ctx, u.ID)
	} else if err != nil {
		return err
	}
	fv, err := s.findCommitted(ctx, d, u)
	if err != nil {
		return err
	}
	if fv == nil || d.ID != u.DriveID {
		return s.removeUpload(ctx, u.ID)
	}
	return s.b.Delete(ctx, uploadKey(u.ID))
}

// Sweep removes uploads left unfinished past their expiry (and a grace
// for commits in flight) with their chunks, and the records of committed
// uploads once expired. It looks at up to sweepPages pages of uploads per
// run; the host's Sweep calls it every minute.
func (s *Storage) Sweep(ctx context.Context) (int, error) {
	cutoff := s.now().Add(-UploadSweepGrace)
	n, token := 0, ""
	for range sweepPages {
		page, err := s.b.List(ctx, uploadsPre, token, sweepBatch)
		if err != nil {
			return n, err
		}
		for _, it := range page.Items {
			var u uploadRecord
			if _, err := s.b.GetJSON(ctx, it.Key, &u); err != nil || u.Expires.After(cutoff) {
				continue
			}
			switch u.State {
			case UploadOpen:
				err = s.removeUpload(ctx, u.ID)
			case UploadCommitting:
				err = s.sweepCommitting(ctx, &u)
			default:
				err = s.b.Delete(ctx, it.Key)
			}
			if err != nil && !errors.Is(err, store.ErrNotFound) {
				return n, err
			}
			n++
		}
		if token = page.Next; token == "" {
			break
		}
	}
	return n, nil
}
