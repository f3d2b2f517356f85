package fnfdk

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// Headers of the agent's calls and of the function's answers.
const (
	HeaderCallID     = "Fn-Call-Id"
	HeaderDeadline   = "Fn-Deadline"
	HeaderIntent     = "Fn-Intent"
	HeaderMethod     = "Fn-Http-Method"
	HeaderRequestURL = "Fn-Http-Request-Url"
	HeaderStatus     = "Fn-Http-Status"
	HeaderFdkVersion = "Fn-Fdk-Version"
	HeaderFdkRuntime = "Fn-Fdk-Runtime"
	// HeaderPrefix carries a client header through the agent, both ways.
	HeaderPrefix = "Fn-Http-H-"
	// IntentHTTP marks a call that came through an HTTP trigger.
	IntentHTTP = "httprequest"
)

// FdkVersion is what this entry point says it is in Fn-Fdk-Version (the
// agent logs it; no fdk-go version is claimed).
const FdkVersion = "acquire-fdk/1"

// Limits on one call. A request over MaxRequestBytes is refused with 413
// before the service reads it; an answer over MaxResponseBytes fails the
// call (502) rather than reach the client cut short.
const (
	MaxRequestBytes  = 8 << 20
	MaxResponseBytes = 8 << 20
)

// triggerPrefix is the path under which Fn's server routes HTTP triggers:
// /t/<app>/<trigger source>. The services see only the trigger source.
const triggerPrefix = "/t/"

// Handler speaks the agent's side of the contract and serves each HTTP
// trigger call with h, as the client sent it.
type Handler struct {
	H      http.Handler
	Logger *slog.Logger
	// LogFrameName and LogFrameHeader are FN_LOGFRAME_NAME and
	// FN_LOGFRAME_HDR; Stdout and Stderr receive the frame lines.
	LogFrameName, LogFrameHeader string
	Stdout, Stderr               io.Writer
	// Now is for tests; nil means time.Now.
	Now func() time.Time
}

// ServeHTTP answers one call from the agent.
func (fh *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	fh.logFrame(r.Header)
	w.Header().Set(HeaderFdkVersion, FdkVersion)
	w.Header().Set(HeaderFdkRuntime, "go/"+runtime.Version())
	if r.Header.Get(HeaderIntent) != IntentHTTP {
		// A call through Fn's invoke endpoint carries no method or path:
		// Acquire's services are addressed by path, so only HTTP triggers
		// reach them. 502 tells the agent the call failed but the
		// container is sound.
		http.Error(w, "acquire is served through HTTP triggers only", http.StatusBadGateway)
		return
	}
	ctx, cancel, err := fh.deadline(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusGatewayTimeout)
		return
	}
	defer cancel()
	req, err := Request(ctx, r)
	if err != nil {
		encapsulate(w, http.StatusBadRequest, http.Header{"Content-Type": {"text/plain; charset=utf-8"}}, []byte(err.Error()+"\n"))
		return
	}
	rec := &recorder{header: http.Header{}, status: http.StatusOK}
	if !fh.serve(rec, req) {
		http.Error(w, "the function failed", http.StatusBadGateway)
		return
	}
	if ctx.Err() != nil {
		http.Error(w, "the call's deadline passed", http.StatusGatewayTimeout)
		return
	}
	if rec.over {
		http.Error(w, fmt.Sprintf("the answer is over %d bytes", MaxResponseBytes), http.StatusBadGateway)
		return
	}
	encapsulate(w, rec.status, rec.header, rec.body.Bytes())
}

// serve runs the service, turning a panic into a failed call (the agent
// would otherwise see a dropped connection and discard the container).
func (fh *Handler) serve(w http.ResponseWriter, r *http.Request) (ok bool) {
	defer func() {
		if p := recover(); p != nil {
			if p == http.ErrAbortHandler { //nolint:errorlint // compared as net/http does
				return
			}
			fh.logger().Error("the service panicked", "panic", fmt.Sprint(p), "call", r.Header.Get(HeaderCallID))
			ok = false
		}
	}()
	fh.H.ServeHTTP(w, r)
	return true
}

// deadline bounds the call by Fn-Deadline. A deadline already past is an
// error (504); a missing or unreadable one leaves only the agent's own
// timeout, which closes the connection.
func (fh *Handler) deadline(r *http.Request) (context.Context, context.CancelFunc, error) {
	v := r.Header.Get(HeaderDeadline)
	if v == "" {
		ctx, cancel := context.WithCancel(r.Context())
		return ctx, cancel, nil
	}
	d, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		ctx, cancel := context.WithCancel(r.Context())
		return ctx, cancel, nil //nolint:nilerr // an unreadable deadline is the agent's; the call still runs
	}
	if !d.After(fh.now()) {
		return nil, nil, errors.New("the call's deadline has passed")
	}
	ctx, cancel := context.WithDeadline(r.Context(), d)
	return ctx, cancel, nil
}

// Request rebuilds the client's request from an HTTP trigger call: its
// method, its path below /t/<app>, its query and its headers.
func Request(ctx context.Context, r *http.Request) (*http.Request, error) {
	method := r.Header.Get(HeaderMethod)
	if method == "" || strings.ContainsAny(method, " \t\r\n") {
		return nil, errors.New("fnfdk: the call has no valid " + HeaderMethod)
	}
	u, err := url.Parse(r.Header.Get(HeaderRequestURL))
	if err != nil || u.Path == "" && u.RawPath == "" {
		return nil, errors.New("fnfdk: the call has no valid " + HeaderRequestURL)
	}
	target := &url.URL{Path: sourcePath(u.Path), RawQuery: u.RawQuery}
	body := http.MaxBytesReader(nil, r.Body, MaxRequestBytes)
	req, err := http.NewRequestWithContext(ctx, method, target.String(), body)
	if err != nil {
		return nil, fmt.Errorf("fnfdk: %w", err)
	}
	for k, vs := range r.Header {
		switch {
		case k == "Content-Type":
			req.Header[k] = vs
		case strings.HasPrefix(k, HeaderPrefix) && len(k) > len(HeaderPrefix):
			req.Header[http.CanonicalHeaderKey(strings.TrimPrefix(k, HeaderPrefix))] = vs
		}
	}
	req.Host = u.Host
	if h := req.Header.Get("Host"); h != "" {
		req.Host = h
		req.Header.Del("Host")
	}
	if n := req.Header.Get("Content-Length"); n != "" {
		if size, err := strconv.ParseInt(n, 10, 64); err == nil && size >= 0 {
			req.ContentLength = size
		}
		req.Header.Del("Content-Length")
	}
	req.RemoteAddr = r.RemoteAddr
	return req, nil
}

// sourcePath is the trigger's source: the path below /t/<app>/, or the
// whole path when a gateway already removed that prefix.
func sourcePath(p string) string {
	if !strings.HasPrefix(p, triggerPrefix) {
		return p
	}
	rest := strings.TrimPrefix(p, triggerPrefix)
	i := strings.IndexByte(rest, '/')
	if i < 0 {
		return "/"
	}
	return rest[i:]
}

// encapsulate writes the client's answer inside the agent's 200.
func encapsulate(w http.ResponseWriter, status int, header http.Header, body []byte) {
	out := w.Header()
	for k, vs := range header {
		if k == "Content-Type" {
			out[k] = vs
			continue
		}
		out[HeaderPrefix+k] = vs
	}
	out.Set(HeaderStatus, strconv.Itoa(status))
	out.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}

func (fh *Handler) logFrame(h http.Header) {
	if fh.LogFrameName == "" || fh.LogFrameHeader == "" {
		return
	}
	id := h.Get(fh.LogFrameHeader)
	if id == "" || strings.ContainsAny(id, "\r\n") {
		return
	}
	for _, w := range []io.Writer{fh.Stdout, fh.Stderr} {
		if w != nil {
			_, _ = fmt.Fprintf(w, "\n%s=%s\n", fh.LogFrameName, id)
		}
	}
}

func (fh *Handler) now() time.Time {
	if fh.Now != nil {
		return fh.Now()
	}
	return time.Now()
}

func (fh *Handler) logger() *slog.Logger {
	if fh.Logger != nil {
		return fh.Logger
	}
	return slog.Default()
}

// recorder keeps the service's answer, up to MaxResponseBytes.
type recorder struct {
	header      http.Header
	status      int
	wroteHeader bool
	body        bytes.Buffer
	over        bool
}

func (r *recorder) Header() http.Header { return r.header }

func (r *recorder) WriteHeader(code int) {
	if !r.wroteHeader {
		r.status, r.wroteHeader = code, true
	}
}

func (r *recorder) Write(p []byte) (int, error) {
	r.WriteHeader(http.StatusOK)
	if r.body.Len()+len(p) > MaxResponseBytes {
		r.over = true
		return 0, errors.New("fnfdk: answer too large")
	}
	return r.body.Write(p)
}
