// Package fnapitest plays an Fn server's API v2 (apps, functions,
// triggers) in memory for tests of the Fn deployer and of the provider's
// fn platform. It is written from Fn's API description and its server's
// validation rules, and it is strict where a real server is: unknown
// fields, read-only fields sent on writes, missing or invalid values and
// name clashes are refused with Fn's error shape ({"message": …}), and
// every request is recorded so a test can check what was sent.
//
// It is NOT an Fn server: it runs no containers. Its trigger front end
// (/t/<app>/<source>) serves a call only through Run, which a test sets
// to run the function in-process.
package fnapitest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"sync"
)

// Request is one recorded API call.
type Request struct {
	Method string
	Path   string
	Query  url.Values
	Body   map[string]any // the decoded JSON body, nil without one
}

// App, Fn and Trigger are the server's objects (every field of the API's
// definitions, read-only ones included, so a request carrying one is seen).
type App struct {
	ID          string            `json:"id,omitempty"`
	Name        string            `json:"name,omitempty"`
	Config      map[string]string `json:"config,omitempty"`
	Annotations map[string]any    `json:"annotations,omitempty"`
	SyslogURL   *string           `json:"syslog_url,omitempty"`
	Shape       string            `json:"shape,omitempty"`
	CreatedAt   string            `json:"created_at,omitempty"`
	UpdatedAt   string            `json:"updated_at,omitempty"`
}

// Fn is a function.
type Fn struct {
	ID          string            `json:"id,omitempty"`
	Name        string            `json:"name,omitempty"`
	AppID       string            `json:"app_id,omitempty"`
	Image       string            `json:"image,omitempty"`
	Memory      uint64            `json:"memory,omitempty"`
	Timeout     int32             `json:"timeout,omitempty"`
	IdleTimeout int32             `json:"idle_timeout,omitempty"`
	Config      map[string]string `json:"config,omitempty"`
	Annotations map[string]any    `json:"annotations,omitempty"`
	Shape       string            `json:"shape,omitempty"`
	CreatedAt   string            `json:"created_at,omitempty"`
	UpdatedAt   string            `json:"updated_at,omitempty"`
}

// Trigger is an HTTP trigger.
type Trigger struct {
	ID          string         `json:"id,omitempty"`
	Name        string         `json:"name,omitempty"`
	Type        string         `json:"type,omitempty"`
	Source      string         `json:"source,omitempty"`
	FnID        string         `json:"fn_id,omitempty"`
	AppID       string         `json:"app_id,omitempty"`
	Annotations map[string]any `json:"annotations,omitempty"`
	CreatedAt   string         `json:"created_at,omitempty"`
	UpdatedAt   string         `json:"updated_at,omitempty"`
}

// Limits of Fn's server (api/models).
const (
	MaxNameLength  = 255
	MaxTimeoutS    = 300
	MaxIdleS       = 3600
	MaxMemoryMB    = 8 * 1024
	DefaultMemory  = 128
	DefaultTimeout = 30
)

var (
	appNameRE     = regexp.MustCompile(`^[a-zA-Z0-9_-]+$`)
	triggerNameRE = regexp.MustCompile(`^[\p{L}\p{N}_-]+$`)
)

// Server is the in-memory API.
type Server struct {
	*httptest.Server
	// Run, when set, serves a trigger call: the function's image and
	// configuration, and the client's request with its path below
	// /t/<app>. Without it triggers answer 502.
	Run func(fn Fn, w http.ResponseWriter, r *http.Request)

	mu       sync.Mutex
	next     int
	apps     map[string]*App
	fns      map[string]*Fn
	triggers map[string]*Trigger
	requests []Request
	failNext *apiError
}

// New starts a server on 127.0.0.1; it stops when the test ends (Close).
func New() *Server {
	s := &Server{apps: map[string]*App{}, fns: map[string]*Fn{}, triggers: map[string]*Trigger{}}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

// Requests are the API calls so far (trigger calls are not recorded).
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// Writes are the recorded calls other than GETs.
func (s *Server) Writes() []Request {
	var out []Request
	for _, r := range s.Requests() {
		if r.Method != http.MethodGet {
			out = append(out, r)
		}
	}
	return out
}

// Fns are the functions stored, sorted by app and name.
func (s *Server) Fns() []Fn {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Fn
	for _, f := range s.fns {
		out = append(out, *f)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].AppID+out[i].Name < out[j].AppID+out[j].Name })
	return out
}

// Counts are how many apps, functions and triggers exist.
func (s *Server) Counts() (apps, fns, triggers int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.apps), len(s.fns), len(s.triggers)
}

// Triggers are the triggers stored, sorted by source.
func (s *Server) Triggers() []Trigger {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Trigger
	for _, t := range s.triggers {
		out = append(out, *t)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Source < out[j].Source })
	return out
}

// Fail makes the next API call answer status with message (for error paths).
func (s *Server) Fail(status int, message string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failNext = &apiError{status, message}
}

type apiError struct {
	status  int
	message string
}

func (e *apiError) Error() string { return e.message }

func errf(status int, format string, args ...any) *apiError {
	return &apiError{status, fmt.Sprintf(format, args...)}
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/t/") {
		s.invoke(w, r)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	rec := Request{Method: r.Method, Path: r.URL.Path, Query: r.URL.Query()}
	var raw []byte
	if r.Body != nil {
		raw, _ = io.ReadAll(io.LimitReader(r.Body, 1<<20))
	}
	if len(raw) > 0 {
		_ = json.Unmarshal(raw, &rec.Body)
	}
	s.requests = append(s.requests, rec)
	if f := s.failNext; f != nil {
		s.failNext = nil
		writeJSON(w, f.status, map[string]string{"message": f.message})
		return
	}
	status, out, err := s.route(r.Method, r.URL.Path, r.URL.Query(), raw)
	if err != nil {
		writeJSON(w, err.status, map[string]string{"message": err.message})
		return
	}
	if status == http.StatusNoContent {
		w.WriteHeader(status)
		return
	}
	writeJSON(w, status, out)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// decode reads a body strictly: unknown fields and read-only ones are
// refused, as the API's definitions say.
func decode(raw []byte, v any, readOnly ...string) *apiError {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		return errf(http.StatusBadRequest, "Invalid JSON: %v", err)
	}
	for _, f := range readOnly {
		if _, ok := fields[f]; ok {
			return errf(http.StatusBadRequest, "%s is read-only", f)
		}
	}
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return errf(http.StatusBadRequest, "Invalid JSON: %v", err)
	}
	return nil
}

func (s *Server) id(prefix string) string {
	s.next++
	return fmt.Sprintf("01%s%024d", strings.ToUpper(prefix), s.next)
}

func (s *Server) route(method, path string, q url.Values, raw []byte) (int, any, *apiError) {
	parts := strings.Split(strings.Trim(strings.TrimPrefix(path, "/v2"), "/"), "/")
	if !strings.HasPrefix(path, "/v2/") || len(parts) > 2 {
		return 0, nil, errf(http.StatusNotFound, "Path not found")
	}
	id := ""
	if len(parts) == 2 {
		id = parts[1]
	}
	switch parts[0] {
	case "apps":
		return s.appsRoute(method, id, q, raw)
	case "fns":
		return s.fnsRoute(method, id, q, raw)
	case "triggers":
		return s.triggersRoute(method, id, q, raw)
	}
	return 0, nil, errf(http.StatusNotFound, "Path not found")
}
