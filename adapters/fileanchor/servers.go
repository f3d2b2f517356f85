// Package fileanchor builds the file anchors of `acquire bench --anchors`
// (runtime/bench.FileAnchor): each cloud SDK's own uploader and
// downloader moving a file straight to a bucket on that cloud's local
// server (versitygw for S3, fake-gcs-server, Azurite), beside the storage
// service running on the same bucket. It starts the servers from the
// project's pinned tools folder (make servers), outside any test.
package fileanchor

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/openacquire/acquire/adapters/servertest"
)

// readyTimeout bounds a server's start (Azurite, a Node program, is slow
// on 2 loaded cores).
const readyTimeout = servertest.ReadyTimeout

// server is one started local server.
type server struct {
	base string
	dir  string
	cmd  *exec.Cmd
	done chan struct{}
}

// start runs s from toolsBin over a fresh data folder on a free loopback
// port and waits until it answers.
func start(ctx context.Context, toolsBin string, s servertest.Server) (*server, error) {
	bin := filepath.Join(toolsBin, s.Name)
	if _, err := os.Stat(bin); err != nil {
		return nil, fmt.Errorf("fileanchor: %s not installed in %s (make servers): %w", s.Name, toolsBin, err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := l.Addr().String()
	_ = l.Close()
	dir, err := os.MkdirTemp("", "acquire-anchor-"+s.Name+"-")
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, bin, s.Args(addr, dir)...) //nolint:gosec // the project's own pinned server
	if err := cmd.Start(); err != nil {
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("fileanchor: start %s: %w", s.Name, err)
	}
	srv := &server{base: "http://" + addr, dir: dir, cmd: cmd, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(srv.done) }()
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(readyTimeout)
	for !s.Ready(client, srv.base) {
		select {
		case <-srv.done:
			srv.stop()
			return nil, fmt.Errorf("fileanchor: %s exited before answering", s.Name)
		default:
		}
		if time.Now().After(deadline) {
			srv.stop()
			return nil, fmt.Errorf("fileanchor: %s did not answer within %v", s.Name, readyTimeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return srv, nil
}

// stop ends the server (by its own process id) and removes its data.
func (s *server) stop() {
	if s.cmd.Process != nil {
		_ = s.cmd.Process.Kill()
	}
	<-s.done
	_ = os.RemoveAll(s.dir)
}

// ToolsBin is where the pinned servers are: $ACQUIRE_TOOLS_BIN, or
// .tools/bin in the working folder (make runs from the repository root).
func ToolsBin() string {
	if dir := os.Getenv("ACQUIRE_TOOLS_BIN"); dir != "" {
		return dir
	}
	return filepath.Join(".tools", "bin")
}

// Names are the anchors Start knows, in the order it starts them.
var Names = []string{"s3", "gcs", "azure"}

// Started is a set of started anchors; Stop ends their servers.
type Started struct {
	stops []func()
}

// Stop ends every server started.
func (s *Started) Stop() {
	for i := len(s.stops) - 1; i >= 0; i-- {
		s.stops[i]()
	}
}

// ErrUnknown is an anchor name not in Names.
var ErrUnknown = errors.New("fileanchor: unknown anchor")
