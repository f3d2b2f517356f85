package gcsstore_test

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

// The GCS server the tests run against: fake-gcs-server, installed by
// scripts/servers/install.sh (see TOOLING.md).
const (
	serverName = "fake-gcs-server"
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

// startServer starts fake-gcs-server on a free port of 127.0.0.1 with the
// given backend ("filesystem", over a fresh data directory, or "memory"),
// waits until its JSON API answers, stops it by PID
// when tb ends, and returns its JSON API endpoint.
func startServer(tb testing.TB, backend string) string {
	tb.Helper()
	bin := serverBinary(tb, serverName)
	dir := tb.TempDir()
	port := freePort(tb)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	// -public-host is the host:port that object download URLs name; without
	// the port the client's reads would go to port 80.
	cmd := exec.Command(bin, "-scheme", "http", "-host", "127.0.0.1", "-port", fmt.Sprint(port),
		"-public-host", addr, "-backend", backend, "-filesystem-root", dir, "-log-level", "error")
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
	endpoint := "http://" + addr + "/storage/v1/"
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(serverReadyTimeout)
	for {
		select {
		case err := <-exited:
			exited <- err
			tb.Fatalf("%s exited before answering: %v\n%s", serverName, err, out)
		default:
		}
		resp, err := client.Get(endpoint + "b")
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return endpoint
			}
		}
		if time.Now().After(deadline) {
			tb.Fatalf("%s did not answer on %s within %v: %v\n%s", serverName, addr, serverReadyTimeout, err, strings.TrimSpace(out.String()))
		}
		time.Sleep(20 * time.Millisecond)
	}
}
