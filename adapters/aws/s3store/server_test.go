package s3store_test

import (
	"bytes"
	"fmt"
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

// The S3 server the tests run against: versitygw, a real S3 gateway over a
// directory, installed by scripts/servers/install.sh (see TOOLING.md).
const (
	serverName   = "versitygw"
	serverAccess = "test"
	serverSecret = "testsecret"
	// serverReadyTimeout bounds the wait for the server to answer.
	serverReadyTimeout = 10 * time.Second
)

// toolsBin is where install.sh puts server binaries: $ACQUIRE_TOOLS_BIN, or
// .tools/bin at the repository root.
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

// serverBinary finds the server or fails the test: a missing server is a
// broken test setup, never a reason to pass.
func serverBinary(tb testing.TB, name string) string {
	tb.Helper()
	bin := filepath.Join(toolsBin(tb), name)
	if _, err := os.Stat(bin); err != nil {
		tb.Fatalf("%s not installed at %s: run scripts/servers/install.sh %s (or set ACQUIRE_TOOLS_BIN)", name, bin, name)
	}
	return bin
}

// freePort asks the kernel for a free port on 127.0.0.1.
func freePort(tb testing.TB) int {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer func() { _ = l.Close() }()
	return l.Addr().(*net.TCPAddr).Port
}

// syncBuffer collects the server's output for failure messages.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.buf.Len() > 64<<10 {
		return len(p), nil
	}
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// startServer starts versitygw on a free port of 127.0.0.1 over a fresh
// data directory, waits until it answers HTTP, stops it by PID when tb ends,
// and returns its endpoint URL.
func startServer(tb testing.TB) string {
	tb.Helper()
	bin := serverBinary(tb, serverName)
	dir := tb.TempDir()
	port := freePort(tb)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	cmd := exec.Command(bin, "--access", serverAccess, "--secret", serverSecret,
		"--port", addr, "--quiet", "posix", dir)
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		tb.Fatalf("start %s: %v", serverName, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	tb.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})
	endpoint := "http://" + addr
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(serverReadyTimeout)
	for {
		select {
		case err := <-exited:
			exited <- err
			tb.Fatalf("%s exited before answering: %v\n%s", serverName, err, out)
		default:
		}
		resp, err := client.Get(endpoint + "/")
		if err == nil {
			_ = resp.Body.Close()
			return endpoint
		}
		if time.Now().After(deadline) {
			tb.Fatalf("%s did not answer on %s within %v: %v\n%s", serverName, addr, serverReadyTimeout, err, strings.TrimSpace(out.String()))
		}
		time.Sleep(20 * time.Millisecond)
	}
}
