// Package servertest starts the real storage servers the adapters' tests
// run against (versitygw, fake-gcs-server, …), installed by
// scripts/servers/install.sh into .tools/bin.
package servertest

import (
	"bytes"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// ReadyTimeout bounds the wait for a server to answer. Azurite (a Node
// program) took over 10 s to start on a 2-core machine under a parallel
// build; a server that never answers still fails the test, only later.
const ReadyTimeout = 45 * time.Second

// Server describes how to start one server and when it is ready.
type Server struct {
	Name string
	// Args builds the command line for a listen address and a data folder.
	Args func(addr, dir string) []string
	// Ready says whether the server answers at base (http://addr).
	Ready func(c *http.Client, base string) bool
}

// Start runs the server on a free loopback port over a fresh data folder,
// waits until it is ready, stops it by PID when tb ends, and returns its
// base URL (http://127.0.0.1:PORT). A missing binary fails the test: a
// broken setup is never a reason to pass.
func Start(tb testing.TB, s Server) string {
	tb.Helper()
	addr := FreeAddr(tb)
	Run(tb, Binary(tb, s.Name), s.Args(addr, tb.TempDir()), nil, addr, s.Ready, ReadyTimeout)
	return "http://" + addr
}

// Run starts bin with args (and env added to this process's environment),
// waits until ready answers for http://addr, and returns a stop function,
// also run when tb ends. A process that exits before it is ready, or is
// not ready within timeout, fails the test with its output.
func Run(tb testing.TB, bin string, args, env []string, addr string, ready func(*http.Client, string) bool, timeout time.Duration) (stop func()) {
	tb.Helper()
	name := filepath.Base(bin)
	cmd := exec.Command(bin, args...) //nolint:gosec // the test's own binary and flags
	if env != nil {
		cmd.Env = append(os.Environ(), env...)
	}
	out := &limitedBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		tb.Fatalf("start %s: %v", name, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			_ = cmd.Process.Kill()
			<-exited //nolint:errcheck // killed: its exit status says nothing
		})
	}
	tb.Cleanup(stop)
	base := "http://" + addr
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(timeout)
	for !ready(client, base) {
		select {
		case err := <-exited:
			exited <- err
			tb.Fatalf("%s exited before answering: %v\n%s", name, err, out)
		default:
		}
		if time.Now().After(deadline) {
			tb.Fatalf("%s did not answer on %s within %v\n%s", name, addr, timeout, strings.TrimSpace(out.String()))
		}
		time.Sleep(20 * time.Millisecond)
	}
	return stop
}

// Answers is a Ready that accepts any HTTP answer to GET path.
func Answers(path string, wantOK bool) func(*http.Client, string) bool {
	return func(c *http.Client, base string) bool {
		resp, err := c.Get(base + path)
		if err != nil {
			return false
		}
		_ = resp.Body.Close()
		return !wantOK || resp.StatusCode == http.StatusOK
	}
}

// Binary finds an installed server or fails the test.
func Binary(tb testing.TB, name string) string {
	tb.Helper()
	bin := filepath.Join(toolsBin(tb), name)
	if _, err := os.Stat(bin); err != nil {
		tb.Fatalf("%s not installed at %s: run scripts/servers/install.sh %s (or set ACQUIRE_TOOLS_BIN)", name, bin, name)
	}
	return bin
}

// toolsBin is $ACQUIRE_TOOLS_BIN, or .tools/bin at the repository root.
func toolsBin(tb testing.TB) string {
	if dir := os.Getenv("ACQUIRE_TOOLS_BIN"); dir != "" {
		return dir
	}
	dir, err := os.Getwd()
	if err != nil {
		tb.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, ".tools", "bin")
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			tb.Fatal("repository root (go.mod) not found above the test directory")
		}
		dir = parent
	}
}

// FreeAddr asks the kernel for a free port on 127.0.0.1.
func FreeAddr(tb testing.TB) string {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer func() { _ = l.Close() }()
	return l.Addr().String()
}

// limitedBuffer keeps the first 64 KiB of a server's output for failure messages.
type limitedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.buf.Len() > 64<<10 {
		return len(p), nil
	}
	return b.buf.Write(p)
}

func (b *limitedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
