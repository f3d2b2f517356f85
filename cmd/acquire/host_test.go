package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openacquire/acquire/runtime/host"
	"github.com/openacquire/acquire/runtime/registry"
)

// syncBuffer is an io.Writer the test reads while the host writes.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestHostAdminToken: `acquire host --services none` on a local folder
// makes its admin token once (0600), never prints it, and deploys through
// the admin API with it.
func TestHostAdminToken(t *testing.T) {
	t.Setenv("ACQUIRE_HOST_TOKEN", "")
	t.Setenv("ACQUIRE_SERVICE_SECRET", "")
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	out := &syncBuffer{}
	done := make(chan error, 1)
	go func() {
		done <- runHost(ctx, out, hostFlags{storeURL: "file://" + dir, addr: "127.0.0.1:0", services: "none"})
	}()
	defer func() { cancel(); <-done }()
	addr := regexp.MustCompile(`listening on (http://\S+)`)
	var base string
	for deadline := time.Now().Add(20 * time.Second); base == "" && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if m := addr.FindStringSubmatch(out.String()); m != nil {
			base = m[1]
		}
	}
	if base == "" {
		t.Fatalf("host did not start: %s", out.String())
	}
	tokenPath := filepath.Join(dir, "admin.token")
	fi, err := os.Stat(tokenPath)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("admin token file: %v %v", fi, err)
	}
	token, _ := os.ReadFile(tokenPath)
	tok := strings.TrimSpace(string(token))
	if strings.Contains(out.String(), tok) || !strings.Contains(out.String(), tokenPath) {
		t.Fatalf("output must name the token file, never the token:\n%s", out.String())
	}
	admin := &host.AdminClient{URL: base, Token: tok}
	st, err := admin.Deploy(ctx, "registry", host.Spec{Kind: registry.Kind})
	if err != nil || st.URL != base+"/registry" || st.UID == "" {
		t.Fatalf("deploy: %+v %v", st, err)
	}
	bad := &host.AdminClient{URL: base, Token: "not-" + tok}
	if _, err := bad.List(ctx); !errors.Is(err, host.ErrAdminToken) {
		t.Fatalf("wrong token: %v", err)
	}
}
