package storage

import (
	"bytes"
	"context"
	"io"
	"net"
	"sync"
	"time"
)

// bodyConn is a chunk connection that sends a request body held in memory
// with one write system call. net/http hands a body with a known length to
// the connection's ReadFrom wrapped in an *io.LimitedReader, and the
// generic copy behind TCPConn.ReadFrom moves it through a 32 KiB buffer:
// every byte copied once more in this process, and a system call per
// 32 KiB (256 for an 8 MiB chunk).
type bodyConn struct{ net.Conn }

func (c bodyConn) ReadFrom(r io.Reader) (int64, error) {
	if lr, ok := r.(*io.LimitedReader); ok {
		if cb, ok := lr.R.(chunkBody); ok && int64(cb.Len()) <= lr.N {
			n, err := cb.WriteTo(c.Conn)
			lr.N -= n
			return n, err
		}
	}
	if rf, ok := c.Conn.(io.ReaderFrom); ok {
		return rf.ReadFrom(r) // keeps sendfile and splice where they apply
	}
	return io.Copy(struct{ io.Writer }{c.Conn}, r)
}

// dialBodyConn dials as http.DefaultTransport does and wraps the
// connection in a bodyConn.
func dialBodyConn(ctx context.Context, network, addr string) (net.Conn, error) {
	d := net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}
	c, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	return bodyConn{c}, nil
}

// chunkBody is a PUT's body: a ReadCloser of its own, so net/http does not
// wrap it in a NopCloser that would hide it from bodyConn. The transport
// closes it once it is done writing it, which can be after the response
// has come (a server that answers before reading the whole body): closed
// says when the chunk's buffer is no longer read.
type chunkBody struct {
	*bytes.Reader
	closed chan struct{}
	once   *sync.Once
}

func newChunkBody(b []byte) chunkBody {
	return chunkBody{Reader: bytes.NewReader(b), closed: make(chan struct{}), once: new(sync.Once)}
}

func (b chunkBody) Close() error {
	b.once.Do(func() { close(b.closed) })
	return nil
}

// sentBodies are the bodies one request was given (GetBody makes more for
// the transport's own retries).
type sentBodies struct {
	mu     sync.Mutex
	bodies []chunkBody
}

func (s *sentBodies) add(b []byte) chunkBody {
	c := newChunkBody(b)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.bodies = append(s.bodies, c)
	return c
}

// wait returns once the transport has closed every body, so the buffer
// behind them can be reused: net/http closes a request's body even on
// errors, and a request whose context is cancelled has its connection,
// and so its write, ended.
func (s *sentBodies) wait() {
	s.mu.Lock()
	bodies := s.bodies
	s.mu.Unlock()
	for _, b := range bodies {
		<-b.closed
	}
}
