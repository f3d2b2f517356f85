package storage

import (
	"bytes"
	"context"
	"errors"
	"hash/crc32"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"testing/iotest"
	"time"
)

// TestReadFullCRC: the CRC taken piece by piece is the whole buffer's, for
// sizes around the piece boundary and from a reader that answers a byte at
// a time; a short reader is io.ErrUnexpectedEOF, an empty one io.EOF, as
// io.ReadFull.
func TestReadFullCRC(t *testing.T) {
	src := make([]byte, 3*crcPieceBytes+7)
	for i := range src {
		src[i] = byte(i * 7)
	}
	for _, n := range []int{0, 1, crcPieceBytes - 1, crcPieceBytes, crcPieceBytes + 1, len(src)} {
		for name, r := range map[string]io.Reader{"whole": bytes.NewReader(src), "a byte at a time": iotest.OneByteReader(bytes.NewReader(src))} {
			buf := make([]byte, n)
			crc, err := readFullCRC(r, buf)
			if err != nil || crc != crc32.Checksum(src[:n], castagnoli) || !bytes.Equal(buf, src[:n]) {
				t.Fatalf("%d bytes, %s: crc %08x, %v", n, name, crc, err)
			}
		}
	}
	if _, err := readFullCRC(bytes.NewReader(src[:crcPieceBytes+1]), make([]byte, crcPieceBytes+2)); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("short reader: %v", err)
	}
	if _, err := readFullCRC(bytes.NewReader(nil), make([]byte, 10)); !errors.Is(err, io.EOF) {
		t.Fatalf("empty reader: %v", err)
	}
}

// countingConn counts the writes that reach the socket, and passes them
// on to its Conn if it has one.
type countingConn struct {
	net.Conn
	writes atomic.Int32
	got    bytes.Buffer
}

func (c *countingConn) Write(p []byte) (int, error) {
	c.writes.Add(1)
	if c.Conn != nil {
		return c.Conn.Write(p)
	}
	return c.got.Write(p)
}

// TestBodyConn: a chunk body handed to the connection as net/http does
// (inside an *io.LimitedReader) goes out in one write; any other reader
// is copied whole.
func TestBodyConn(t *testing.T) {
	body := bytes.Repeat([]byte("chunk"), 100_000)
	cc := &countingConn{}
	lr := &io.LimitedReader{R: newChunkBody(body), N: int64(len(body))}
	n, err := bodyConn{cc}.ReadFrom(lr)
	if err != nil || n != int64(len(body)) || cc.writes.Load() != 1 || !bytes.Equal(cc.got.Bytes(), body) || lr.N != 0 {
		t.Fatalf("chunk body: %d bytes in %d writes, %v (left %d)", n, cc.writes.Load(), err, lr.N)
	}
	// A body longer than its limit is not the chunk path: only N bytes go.
	cc = &countingConn{}
	n, err = bodyConn{cc}.ReadFrom(&io.LimitedReader{R: newChunkBody(body), N: 10})
	if err != nil || n != 10 || !bytes.Equal(cc.got.Bytes(), body[:10]) {
		t.Fatalf("limited chunk body: %d bytes %q, %v", n, cc.got.Bytes(), err)
	}
	cc = &countingConn{}
	n, err = bodyConn{cc}.ReadFrom(iotest.HalfReader(bytes.NewReader(body)))
	if err != nil || n != int64(len(body)) || !bytes.Equal(cc.got.Bytes(), body) {
		t.Fatalf("other reader: %d bytes, %v", n, err)
	}
}

// TestChunkPutWrites: through net/http, a chunk's PUT reaches the socket in
// a few writes (the headers and the body), not one per 32 KiB, so the
// transport still hands the body to bodyConn.ReadFrom.
func TestChunkPutWrites(t *testing.T) {
	body := bytes.Repeat([]byte{7}, 4<<20)
	var got atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		got.Store(n)
	}))
	defer srv.Close()
	var dials atomic.Int32
	cc := &countingConn{}
	tr := &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		dials.Add(1)
		c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		cc.Conn = c
		return bodyConn{cc}, err
	}}
	defer tr.CloseIdleConnections()
	tf := newTransfer(&http.Client{Transport: tr}, 1, nil)
	u := ChunkURL{Method: http.MethodPut, URL: srv.URL + "/chunk"}
	if err := tf.do(context.Background(), u, body, "00000000", nil); err != nil || got.Load() != int64(len(body)) {
		t.Fatalf("PUT: %v, %d bytes arrived", err, got.Load())
	}
	if dials.Load() != 1 || cc.writes.Load() > 3 {
		t.Fatalf("%d connections; %d writes for a 4 MiB body", dials.Load(), cc.writes.Load())
	}
}

// earlyAnswer answers a PUT at once and reads and closes its body only
// later, as a transport may when a server answers before reading it all.
type earlyAnswer struct{ closed atomic.Bool }

func (e *earlyAnswer) RoundTrip(r *http.Request) (*http.Response, error) {
	go func() {
		time.Sleep(50 * time.Millisecond)
		_, _ = io.Copy(io.Discard, r.Body)
		e.closed.Store(true)
		_ = r.Body.Close()
	}()
	return &http.Response{StatusCode: http.StatusCreated, Body: http.NoBody, Request: r}, nil
}

// TestChunkPutWaitsForItsBody: a PUT returns, and its buffer may be reused,
// only once the transport has closed the body, not when the answer comes.
func TestChunkPutWaitsForItsBody(t *testing.T) {
	rt := &earlyAnswer{}
	tr := newTransfer(&http.Client{Transport: rt}, 1, nil)
	u := ChunkURL{Index: 0, Method: http.MethodPut, URL: "http://chunks.example/c/0"}
	if err := tr.do(context.Background(), u, make([]byte, 1<<20), "00000000", nil); err != nil {
		t.Fatal(err)
	}
	if !rt.closed.Load() {
		t.Fatal("the PUT returned while the transport still held its body")
	}
}

// TestChunkPutStoreHeaders: a PUT sends the store's signed headers a chunk
// URL names, and refuses, before sending anything, a URL asking for any
// other header or for too many.
func TestChunkPutStoreHeaders(t *testing.T) {
	var got atomic.Value
	var puts atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		puts.Add(1)
		got.Store(r.Header.Get("X-Goog-Content-Length-Range"))
		_, _ = io.Copy(io.Discard, r.Body)
	}))
	defer srv.Close()
	tf := newTransfer(srv.Client(), 1, nil)
	u := ChunkURL{Method: http.MethodPut, URL: srv.URL + "/chunk", Headers: map[string]string{"x-goog-content-length-range": "3,3"}}
	if err := tf.do(context.Background(), u, []byte("abc"), "00000000", nil); err != nil || got.Load() != "3,3" {
		t.Fatalf("PUT with the store's header: %v, header %v", err, got.Load())
	}
	for name, h := range map[string]map[string]string{
		"credentials": {"Authorization": "Bearer stolen"},
		"cookie":      {"Cookie": "session=x"},
		"framing":     {"Transfer-Encoding": "chunked"},
		"too many":    {"x-amz-a": "1", "x-amz-b": "2", "x-amz-c": "3", "x-amz-d": "4", "x-amz-e": "5"},
	} {
		u.Headers = h
		if err := tf.do(context.Background(), u, []byte("abc"), "00000000", nil); err == nil {
			t.Errorf("%s: a URL asking for %v was sent", name, h)
		}
	}
	if puts.Load() != 1 {
		t.Fatalf("%d PUTs reached the server; want only the good one", puts.Load())
	}
}
