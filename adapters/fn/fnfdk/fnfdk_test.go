package fnfdk_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/openacquire/acquire/adapters/fn/fnfdk"
	"github.com/openacquire/acquire/adapters/functiontest"
	"github.com/openacquire/acquire/adapters/servertest"
)

// The function starts as the Fn agent starts a container (FN_LISTENER,
// FN_FORMAT and its configuration in the environment, no port), links its
// socket into place, and answers real encrypted calls made through an
// HTTP trigger front end that speaks the agent's side over the socket.
func TestFunctionOverTheSocket(t *testing.T) {
	bin := functiontest.Build(t, "./function", "function", nil)
	iofs := filepath.Join(shortTemp(t), "iofs")
	if err := os.Mkdir(iofs, 0o700); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(iofs, "lsnr.sock")
	agent := functiontest.NewFnAgent(sock, "acquire-test")
	front := httptest.NewServer(agent)
	t.Cleanup(front.Close)
	public := front.URL + "/t/acquire-test"
	env := append(functiontest.Env(t, public),
		fnfdk.EnvListener+"=unix:"+sock, fnfdk.EnvFormat+"=http-stream",
		"FN_APP_ID=01APP", "FN_FN_ID=01FN", "FN_MEMORY=256", "FN_TYPE=sync",
		fnfdk.EnvLogFrameName+"=01FRAME", fnfdk.EnvLogFrameHdr+"=Fn-Call-Id")
	linked := func(*http.Client, string) bool { _, err := os.Lstat(sock); return err == nil }
	stop := servertest.Run(t, bin, nil, env, strings.TrimPrefix(front.URL, "http://"), linked, functiontest.ReadyTimeout)
	agent.WaitForSocket(t, time.Second)

	functiontest.Journey(t, public)

	// A call through Fn's invoke endpoint (no HTTP trigger) is refused
	// as a failed call, which keeps the container.
	resp, err := agent.Call(context.Background(), http.Header{"Fn-Call-Id": {"01PLAIN"}}, strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusBadGateway || resp.Header.Get(fnfdk.HeaderFdkVersion) == "" {
		t.Fatalf("plain invoke: %d %v", resp.StatusCode, resp.Header)
	}
	if v := agent.Violations(); len(v) > 0 {
		t.Fatalf("contract broken: %q", v)
	}
	// Stopped, the function leaves no socket behind for the next one to trip on.
	stop()
	if _, err := os.Lstat(sock); err == nil {
		// SIGKILL gives no chance to clean up: a new start must replace it.
		ln, err := fnfdk.Listen(sock)
		if err != nil {
			t.Fatalf("a stale socket blocks the next start: %v", err)
		}
		_ = ln.Close()
	}
}

// shortTemp is a temporary folder with a path short enough for a unix
// socket (test names make t.TempDir() long).
func shortTemp(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "fnfdk-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	return dir
}

func TestSocketPath(t *testing.T) {
	if p, err := fnfdk.SocketPath("unix:/tmp/iofs/lsnr.sock", ""); err != nil || p != "/tmp/iofs/lsnr.sock" {
		t.Fatalf("%q %v", p, err)
	}
	for _, bad := range []string{"", "/tmp/iofs/lsnr.sock", "tcp://127.0.0.1:80", "unix:relative.sock", "unix://host/x.sock",
		"unix:/tmp/../etc/x.sock", "unix:/" + strings.Repeat("a", 120)} {
		if _, err := fnfdk.SocketPath(bad, ""); err == nil {
			t.Errorf("FN_LISTENER %q accepted", bad)
		}
	}
	for _, f := range []string{"json", "default", "cloudevent"} {
		if _, err := fnfdk.SocketPath("unix:/tmp/iofs/lsnr.sock", f); err == nil {
			t.Errorf("FN_FORMAT %q accepted", f)
		}
	}
}

// The socket is made under a private name, world-connectable, and linked
// into place; something at the name that is not a socket or link is left
// alone and refused.
func TestListenLinksAPrivateSocket(t *testing.T) {
	dir := shortTemp(t)
	sock := filepath.Join(dir, "lsnr.sock")
	ln, err := fnfdk.Listen(sock)
	if err != nil {
		t.Fatal(err)
	}
	target, err := os.Readlink(sock)
	if err != nil || strings.Contains(target, "/") || target == "lsnr.sock" {
		t.Fatalf("link %q %v: want a relative private name", target, err)
	}
	fi, err := os.Stat(filepath.Join(dir, target))
	if err != nil || fi.Mode()&os.ModeSocket == 0 || fi.Mode().Perm() != 0o666 {
		t.Fatalf("private socket %v %v", fi.Mode(), err)
	}
	// A second start (the first died without cleaning up) takes over.
	ln2, err := fnfdk.Listen(sock)
	if err != nil {
		t.Fatal(err)
	}
	_ = ln.Close()
	_ = ln2.Close()
	if _, err := os.Lstat(sock); err == nil {
		t.Fatal("closing left the link")
	}
	if err := os.WriteFile(sock, []byte("precious"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := fnfdk.Listen(sock); err == nil {
		t.Fatal("a regular file at the socket's name was replaced")
	}
	if b, _ := os.ReadFile(sock); string(b) != "precious" {
		t.Fatal("the file was changed")
	}
}

func triggerCall(method, url string) http.Header {
	return http.Header{
		"Fn-Call-Id": {"01CALL"}, "Fn-Intent": {"httprequest"}, "Fn-Http-Method": {method},
		"Fn-Http-Request-Url": {url}, "Content-Type": {"application/json"},
		"Fn-Http-H-X-Client": {"yes"}, "Fn-Deadline": {time.Now().Add(time.Minute).UTC().Format(time.RFC3339)},
	}
}

func serve(t *testing.T, fh *fnfdk.Handler, h http.Header, body string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(http.MethodPost, "http://localhost/call", strings.NewReader(body))
	r.Header = h
	w := httptest.NewRecorder()
	fh.ServeHTTP(w, r)
	return w
}

// The client's request comes out as it was sent (method, path below
// /t/<app>, query, headers, body) and its answer goes back encapsulated.
func TestHandlerTranslates(t *testing.T) {
	var got *http.Request
	var gotBody string
	fh := &fnfdk.Handler{H: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r
		b, _ := io.ReadAll(r.Body)
		gotBody = string(b)
		w.Header().Set("Content-Type", "text/plain")
		w.Header().Set("X-Answer", "42")
		w.WriteHeader(http.StatusTeapot)
		_, _ = io.WriteString(w, "short and stout")
	})}
	w := serve(t, fh, triggerCall("PUT", "http://fn.example:8080/t/app/identity?x=1"), "payload")
	if got.Method != "PUT" || got.URL.Path != "/identity" || got.URL.RawQuery != "x=1" || got.Host != "fn.example:8080" ||
		got.Header.Get("X-Client") != "yes" || got.Header.Get("Content-Type") != "application/json" || gotBody != "payload" {
		t.Fatalf("request %s %s host %s headers %v body %q", got.Method, got.URL, got.Host, got.Header, gotBody)
	}
	if got.Header.Get("Fn-Call-Id") != "" || got.Header.Get("Fn-Intent") != "" {
		t.Fatalf("agent headers leaked to the service: %v", got.Header)
	}
	if w.Code != http.StatusOK || w.Header().Get("Fn-Http-Status") != "418" || w.Header().Get("Fn-Http-H-X-Answer") != "42" ||
		w.Header().Get("Content-Type") != "text/plain" || w.Header().Get("X-Answer") != "" ||
		w.Header().Get(fnfdk.HeaderFdkVersion) == "" || w.Body.String() != "short and stout" {
		t.Fatalf("answer %d %v %q", w.Code, w.Header(), w.Body.String())
	}
}

// Calls that break the contract, and services that misbehave, get the
// answers the agent expects: never a status that would discard the
// container for the client's fault.
func TestHandlerRefusals(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") })
	fh := &fnfdk.Handler{H: ok}
	past := triggerCall("POST", "http://fn/t/app/identity")
	past.Set("Fn-Deadline", time.Now().Add(-time.Second).UTC().Format(time.RFC3339))
	if w := serve(t, fh, past, ""); w.Code != http.StatusGatewayTimeout {
		t.Errorf("past deadline: %d", w.Code)
	}
	noMethod := triggerCall("", "http://fn/t/app/identity")
	if w := serve(t, fh, noMethod, ""); w.Code != http.StatusOK || w.Header().Get("Fn-Http-Status") != "400" {
		t.Errorf("no method: %d %v", w.Code, w.Header())
	}
	badURL := triggerCall("POST", "::nonsense")
	if w := serve(t, fh, badURL, ""); w.Code != http.StatusOK || w.Header().Get("Fn-Http-Status") != "400" {
		t.Errorf("bad url: %d %v", w.Code, w.Header())
	}
	panics := &fnfdk.Handler{H: http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("boom") })}
	if w := serve(t, panics, triggerCall("POST", "http://fn/t/app/identity"), ""); w.Code != http.StatusBadGateway {
		t.Errorf("panic: %d", w.Code)
	}
	huge := &fnfdk.Handler{H: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		chunk := make([]byte, 1<<20)
		for range 10 {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	})}
	if w := serve(t, huge, triggerCall("GET", "http://fn/t/app/identity"), ""); w.Code != http.StatusBadGateway {
		t.Errorf("oversized answer: %d", w.Code)
	}
	reads := &fnfdk.Handler{H: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := io.ReadAll(r.Body); err != nil {
			http.Error(w, "too large", http.StatusRequestEntityTooLarge)
		}
	})}
	big := strings.Repeat("x", fnfdk.MaxRequestBytes+1)
	if w := serve(t, reads, triggerCall("POST", "http://fn/t/app/identity"), big); w.Header().Get("Fn-Http-Status") != "413" {
		t.Errorf("oversized request: %d %v", w.Code, w.Header())
	}
}

// Each call's log lines are framed when the agent asks, and a header
// value that would forge a frame is not written.
func TestLogFrames(t *testing.T) {
	var out, errOut strings.Builder
	fh := &fnfdk.Handler{H: http.NotFoundHandler(), LogFrameName: "01FRAME", LogFrameHeader: "Fn-Call-Id", Stdout: &out, Stderr: &errOut}
	serve(t, fh, triggerCall("GET", "http://fn/t/app/x"), "")
	if out.String() != "\n01FRAME=01CALL\n" || errOut.String() != out.String() {
		t.Fatalf("frames %q %q", out.String(), errOut.String())
	}
	forged := triggerCall("GET", "http://fn/t/app/x")
	forged["Fn-Call-Id"] = []string{"x\n01FRAME=other"}
	serve(t, fh, forged, "")
	if strings.Count(out.String(), "01FRAME") != 1 {
		t.Fatalf("forged frame written: %q", out.String())
	}
}
