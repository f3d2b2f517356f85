package web

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func testHandler(keys KeySource) http.Handler {
	if keys == nil {
		keys = func(context.Context) (map[string]PinnedKeys, error) {
			return map[string]PinnedKeys{"identity": {URL: "http://h/identity", KeyPublic: "k", CertPublic: "c"}}, nil
		}
	}
	return Handler("/identity/web/", Options{IdentityURL: "http://h/identity", Keys: keys})
}

func get(h http.Handler, method, path string) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(method, path, nil))
	return w
}

// Every answer, page or file or error, carries the strict policy: no inline
// script, nothing may frame the pages.
func TestEveryAnswerIsUnderThePolicy(t *testing.T) {
	h := testHandler(nil)
	for _, c := range []struct {
		method, path string
		status       int
		ctype        string
	}{
		{"GET", "/identity/web/login", 200, "text/html"},
		{"GET", "/identity/web/", 200, "text/html"},
		{"GET", "/identity/web/register", 200, "text/html"},
		{"GET", "/identity/web/console", 200, "text/html"},
		{"GET", "/identity/web/acquire.js", 200, "text/javascript"},
		{"GET", "/identity/web/style.css", 200, "text/css"},
		{"GET", "/identity/web/layout.html", 404, ""},
		{"GET", "/identity/web/../web.go", 404, ""},
		{"GET", "/identity/web/nothing.js", 404, ""},
		{"POST", "/identity/web/login", 405, ""},
	} {
		w := get(h, c.method, c.path)
		csp := w.Header().Get("Content-Security-Policy")
		if w.Code != c.status || !strings.HasPrefix(w.Header().Get("Content-Type"), c.ctype) {
			t.Errorf("%s %s: %d %q", c.method, c.path, w.Code, w.Header().Get("Content-Type"))
		}
		for _, want := range []string{"default-src 'none'", "script-src 'self'", "frame-ancestors 'none'", "base-uri 'none'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("%s %s: CSP %q lacks %q", c.method, c.path, csp, want)
			}
		}
		if strings.Contains(csp, "unsafe") || w.Header().Get("X-Frame-Options") != "DENY" ||
			w.Header().Get("X-Content-Type-Options") != "nosniff" || w.Header().Get("Cache-Control") != "no-store" {
			t.Errorf("%s %s: headers %v", c.method, c.path, w.Header())
		}
	}
}

// The pages hold no inline script: every <script> names a file.
func TestPagesHaveNoInlineScript(t *testing.T) {
	h := testHandler(nil)
	for _, p := range []string{PageLogin, PageRegister, PageConsole} {
		body := get(h, "GET", "/identity/web/"+p).Body.String()
		if strings.Contains(body, "<script>") || strings.Contains(body, " on") && strings.Contains(body, "onclick") {
			t.Errorf("%s has inline script", p)
		}
		if !strings.Contains(body, `<script type="module" src="`+p+`.js"></script>`) {
			t.Errorf("%s does not load %s.js", p, p)
		}
	}
}

func TestPageWithoutKeysIsUnavailable(t *testing.T) {
	h := testHandler(func(context.Context) (map[string]PinnedKeys, error) { return nil, errors.New("store down") })
	if w := get(h, "GET", "/identity/web/login"); w.Code != http.StatusServiceUnavailable || strings.Contains(w.Body.String(), "store down") {
		t.Fatalf("%d %q", w.Code, w.Body.String())
	}
}

func TestSameOrigin(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })
	h := SameOrigin(ok, "https://id.example")
	for _, c := range []struct {
		method, origin, site string
		want                 int
	}{
		{"POST", "", "", 204},                              // a CLI or a service: no browser headers
		{"POST", "http://example.com", "same-origin", 204}, // the page itself
		{"POST", "https://id.example", "same-site", 204},   // an allowed origin
		{"POST", "https://evil.example", "cross-site", 403},
		{"POST", "https://evil.example", "", 403},
		{"POST", "", "cross-site", 403},
		{"POST", "null", "", 403},
		{"PUT", "https://evil.example", "cross-site", 403},
		{"DELETE", "http://other.example.com", "same-site", 403},
		{"GET", "https://evil.example", "cross-site", 204}, // reading a page or keys changes nothing
	} {
		r := httptest.NewRequest(c.method, "http://example.com/identity", nil)
		if c.origin != "" {
			r.Header.Set("Origin", c.origin)
		}
		if c.site != "" {
			r.Header.Set("Sec-Fetch-Site", c.site)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != c.want {
			t.Errorf("%s from %q (%s): %d, want %d", c.method, c.origin, c.site, w.Code, c.want)
		}
	}
}
