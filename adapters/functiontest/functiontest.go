// Package functiontest runs the function entry points the way their
// platforms start them and makes the same encrypted calls against each:
// the proof that no platform adapter changes what a service answers.
package functiontest

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/openacquire/acquire/adapters/servertest"
	"github.com/openacquire/acquire/runtime/call"
	"github.com/openacquire/acquire/runtime/crypto"
	"github.com/openacquire/acquire/runtime/host"
	"github.com/openacquire/acquire/runtime/identity"
	"github.com/openacquire/acquire/runtime/web"
)

// Secret is the service secret the tests' functions run with.
const Secret = "Function-Test-Secret-7"

// Build compiles the command in pkg (a path relative to the caller's
// package) into a fresh folder and returns the binary's path. env adds to
// the build environment (e.g. GOOS=linux for Lambda); tags are build tags.
func Build(tb testing.TB, pkg, name string, env []string, tags ...string) string {
	tb.Helper()
	out := filepath.Join(tb.TempDir(), name)
	args := []string{"build", "-trimpath", "-o", out}
	if len(tags) > 0 {
		args = append(args, "-tags", tags[0])
	}
	cmd := exec.Command("go", append(args, pkg)...) //nolint:gosec // G204: the test names its own package
	cmd.Env = append(os.Environ(), env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		tb.Fatalf("go build %s: %v\n%s", pkg, err, stderr.String())
	}
	return out
}

// Env is a function's environment: the identity and registry services on
// a local folder store, served at publicURL.
func Env(tb testing.TB, publicURL string) []string {
	tb.Helper()
	return []string{
		host.EnvServices + "=registry,identity",
		host.EnvStoreURL + "=file://" + tb.TempDir(),
		host.EnvPublicURL + "=" + publicURL,
		host.EnvSecret + "=" + Secret,
	}
}

// Journey makes real encrypted calls through base: ping, register a user,
// log in with a one-time code, whoami, and a replayed envelope refused.
func Journey(tb testing.TB, base string) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c := call.NewClient(&call.MemoryPins{})
	idURL := base + "/identity"
	if err := c.Call(ctx, idURL, "ping", struct{}{}, nil); err != nil {
		tb.Fatalf("ping %s: %v", idURL, err)
	}
	id := &identity.Client{C: c, URL: idURL}
	reg, err := id.Register(ctx, "fiona", "Correct horse 42")
	if err != nil {
		tb.Fatalf("register: %v", err)
	}
	u, err := url.Parse(reg.ProvisioningURI)
	if err != nil {
		tb.Fatal(err)
	}
	code, err := crypto.TOTPCode(u.Query().Get("secret"), time.Now())
	if err != nil {
		tb.Fatal(err)
	}
	s, _, err := id.Login(ctx, "fiona", "Correct horse 42", identity.LoginOptions{OTP: code})
	if err != nil {
		tb.Fatalf("login: %v", err)
	}
	who, err := id.Whoami(ctx, s)
	if err != nil || who.Username != "fiona" || who.UserUID != reg.UserUID {
		tb.Fatalf("whoami: %+v, %v", who, err)
	}
	// The same one-time code again is refused by the service behind the adapter.
	_, _, err = id.Login(ctx, "fiona", "Correct horse 42", identity.LoginOptions{OTP: code})
	if err == nil {
		tb.Fatal("a used one-time code logged in again")
	}
	LoginPage(tb, ctx, idURL)
}

// LoginPage checks that the function serves the browser login page and
// its script from the binary's embedded assets, under the strict policy.
func LoginPage(tb testing.TB, ctx context.Context, idURL string) {
	tb.Helper()
	for path, want := range map[string]string{web.Path + web.PageLogin: "acquire-config", web.Path + "acquire.js": "RSA-OAEP"} {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, idURL+path, nil)
		if err != nil {
			tb.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			tb.Fatalf("GET %s: %v", path, err)
		}
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		_ = resp.Body.Close()
		csp := resp.Header.Get("Content-Security-Policy")
		if resp.StatusCode != http.StatusOK || !bytes.Contains(body, []byte(want)) ||
			!strings.Contains(csp, "frame-ancestors 'none'") || !strings.Contains(csp, "script-src 'self'") {
			tb.Fatalf("GET %s through the function: %d, CSP %q, body %.200q", path, resp.StatusCode, csp, body)
		}
	}
}

// Start runs bin with env added to this process's environment, waits
// until something answers HTTP on addr, and returns a stop function (also
// run when tb ends).
func Start(tb testing.TB, bin string, env []string, addr string, args ...string) (stop func()) {
	tb.Helper()
	return servertest.Run(tb, bin, args, env, addr, servertest.Answers("/", false), ReadyTimeout)
}

// ReadyTimeout bounds the wait for a started function to answer.
const ReadyTimeout = 15 * time.Second
