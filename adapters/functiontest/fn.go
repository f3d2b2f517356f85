package functiontest

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// FnAgent plays the Fn server's side of a function for tests: an HTTP
// trigger front end (/t/<app>/<source>) that turns each client request
// into the agent's call over the function's unix socket, and the agent's
// answer back into the client's, as Fn's server and agent do. Every
// answer that breaks the function contract is recorded in Violations.
type FnAgent struct {
	Socket string // the FN_LISTENER path
	App    string
	// Timeout is each call's deadline, sent as Fn-Deadline.
	Timeout time.Duration

	client *http.Client
	calls  atomic.Int64

	mu         sync.Mutex
	violations []string
}

// NewFnAgent returns an agent for the function listening at socket.
func NewFnAgent(socket, app string) *FnAgent {
	a := &FnAgent{Socket: socket, App: app, Timeout: 30 * time.Second}
	a.client = &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", socket)
		},
	}}
	return a
}

// NewInProcessFnAgent is an agent whose function is h, an agent-level
// handler (fnfdk.Handler) served in-process instead of over a socket: for
// tests of what is deployed rather than of the socket itself.
func NewInProcessFnAgent(h http.Handler, app string) *FnAgent {
	return &FnAgent{App: app, Timeout: 30 * time.Second, client: &http.Client{Transport: handlerTransport{h}}}
}

type handlerTransport struct{ h http.Handler }

func (t handlerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	rec := httptest.NewRecorder()
	t.h.ServeHTTP(rec, r)
	return rec.Result(), nil
}

// WaitForSocket waits, as the agent does, until the function has linked
// its socket into place.
func (a *FnAgent) WaitForSocket(tb testing.TB, within time.Duration) {
	tb.Helper()
	end := time.Now().Add(within)
	for time.Now().Before(end) {
		if fi, err := os.Lstat(a.Socket); err == nil {
			if fi.Mode()&os.ModeSymlink == 0 {
				tb.Fatalf("%s is not a symlink: the function must link its socket into place", a.Socket)
			}
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	tb.Fatalf("the function never linked its socket at %s", a.Socket)
}

// Call sends one raw agent call (for tests of the contract itself).
func (a *FnAgent) Call(ctx context.Context, header http.Header, body io.Reader) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://localhost/call", body)
	if err != nil {
		return nil, err
	}
	req.Header = header
	return a.client.Do(req)
}

// Violations are the contract breaches seen so far.
func (a *FnAgent) Violations() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.violations...)
}

func (a *FnAgent) violate(format string, args ...any) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.violations = append(a.violations, fmt.Sprintf(format, args...))
}

// ServeHTTP is the HTTP trigger front end.
func (a *FnAgent) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	prefix := "/t/" + a.App + "/"
	if !strings.HasPrefix(r.URL.Path, prefix) {
		http.Error(w, "no such app", http.StatusNotFound)
		return
	}
	h := http.Header{}
	for k, vs := range r.Header {
		if k == "Content-Type" {
			h[k] = vs
			continue
		}
		h["Fn-Http-H-"+k] = vs
	}
	h.Set("Fn-Http-H-Host", r.Host)
	h.Set("Fn-Http-Method", r.Method)
	h.Set("Fn-Http-Request-Url", "http://"+r.Host+r.URL.RequestURI())
	h.Set("Fn-Intent", "httprequest")
	h.Set("Fn-Call-Id", fmt.Sprintf("01TESTCALL%08d", a.calls.Add(1)))
	ctx, cancel := context.WithTimeout(r.Context(), a.Timeout)
	defer cancel()
	deadline, _ := ctx.Deadline()
	h.Set("Fn-Deadline", deadline.UTC().Format(time.RFC3339))
	resp, err := a.Call(ctx, h, r.Body)
	if err != nil {
		a.violate("call %s %s: %v", r.Method, r.URL.Path, err)
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer func() { _ = resp.Body.Close() }()
	body, _ := io.ReadAll(resp.Body)
	a.answer(w, r, resp, body)
}

// answer checks the agent-level answer against the contract and writes
// the client's answer from it, as Fn's trigger front end does.
func (a *FnAgent) answer(w http.ResponseWriter, r *http.Request, resp *http.Response, body []byte) {
	if resp.Header.Get("Fn-Fdk-Version") == "" {
		a.violate("%s %s: no Fn-Fdk-Version", r.Method, r.URL.Path)
	}
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusBadGateway, http.StatusGatewayTimeout:
		http.Error(w, "function failed", resp.StatusCode)
		return
	default:
		a.violate("%s %s: agent-level status %d (the agent would discard the container)", r.Method, r.URL.Path, resp.StatusCode)
		http.Error(w, "invalid function answer", http.StatusBadGateway)
		return
	}
	status, err := strconv.Atoi(resp.Header.Get("Fn-Http-Status"))
	if err != nil {
		a.violate("%s %s: Fn-Http-Status %q", r.Method, r.URL.Path, resp.Header.Get("Fn-Http-Status"))
		status = http.StatusOK
	}
	for k, vs := range resp.Header {
		switch {
		case strings.HasPrefix(k, "Fn-Http-H-") && len(k) > len("Fn-Http-H-"):
			w.Header()[strings.TrimPrefix(k, "Fn-Http-H-")] = vs
		case k == "Content-Type":
			w.Header()[k] = vs
		}
	}
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
