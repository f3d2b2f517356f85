// Package web is the identity service's browser side: the login page that
// approves a login requested elsewhere (a CLI, a notebook, a job), the
// registration page and a small console, served from assets embedded in
// the binary. The pages do their cryptography in the browser with the Web
// Cryptography API, on the same envelope as every other client; the
// server only hands them the service keys they pin.
package web

import (
	"bytes"
	"context"
	"embed"
	"encoding/base64"
	"encoding/json"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/openacquire/acquire/runtime/call"
)

// Path is where the pages live below the identity service's URL.
const Path = "/web/"

// Pages a browser may open, below Path.
const (
	PageLogin    = "login"
	PageRegister = "register"
	PageConsole  = "console"
)

// keysTimeout bounds the store reads that fetch the keys a page pins.
const keysTimeout = 10 * time.Second

//go:embed assets
var assetFS embed.FS

var pages = template.Must(template.ParseFS(assetFS, "assets/*.html"))

// PinnedKeys is one service's newest published generation: what a page
// encrypts to and which certificate's signature it accepts.
type PinnedKeys struct {
	URL             string `json:"url"`
	KeyPublic       string `json:"key_public"`
	KeyFingerprint  string `json:"key_fingerprint"`
	CertPublic      string `json:"cert_public"`
	CertFingerprint string `json:"cert_fingerprint"`
}

// Newest picks the newest generation of a service's public keys.
func Newest(pk *call.PublicKeys) (PinnedKeys, bool) {
	if pk == nil || len(pk.Generations) == 0 {
		return PinnedKeys{}, false
	}
	g := pk.Generations[0]
	for _, x := range pk.Generations[1:] {
		if x.Generation > g.Generation {
			g = x
		}
	}
	return PinnedKeys{URL: pk.URL, KeyPublic: g.KeyPublic, KeyFingerprint: g.KeyFingerprint,
		CertPublic: g.CertPublic, CertFingerprint: g.CertFingerprint}, true
}

// KeySource gives the pinned keys of the services the pages call, by
// kind; it must include "identity".
type KeySource func(ctx context.Context) (map[string]PinnedKeys, error)

// Options configure the pages.
type Options struct {
	IdentityURL string
	Keys        KeySource
	Logger      *slog.Logger
}

// config is what a page reads from its <meta name="acquire-config">.
type config struct {
	Page        string                `json:"page"`
	IdentityURL string                `json:"identity_url"`
	Services    map[string]PinnedKeys `json:"services"`
}

type handler struct {
	o      Options
	prefix string // the URL path the pages are mounted at, ending in "/"
	static fs.FS
	csp    string
}

// Handler serves the pages at prefix (for example "/identity/web/").
func Handler(prefix string, o Options) http.Handler {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	static, err := fs.Sub(assetFS, "assets")
	if err != nil {
		panic(err) // the embedded folder is part of the binary
	}
	return &handler{o: o, prefix: prefix, static: static, csp: policy(o.IdentityURL)}
}

// policy is the Content-Security-Policy of every answer: scripts and
// styles only from this origin's files (no inline script), nothing framed,
// calls only to this origin and the identity service's.
func policy(identityURL string) string {
	connect := "'self'"
	if o := Origin(identityURL); o != "" {
		connect += " " + o
	}
	return strings.Join([]string{"default-src 'none'", "script-src 'self'", "style-src 'self'",
		"img-src 'self' data: blob:", "connect-src " + connect, "form-action 'self'", "base-uri 'none'",
		"frame-ancestors 'none'"}, "; ")
}

// Origin is scheme://host of a URL, or "" when it has none.
func Origin(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return ""
	}
	return u.Scheme + "://" + u.Host
}

func (h *handler) headers(w http.ResponseWriter) {
	hd := w.Header()
	hd.Set("Content-Security-Policy", h.csp)
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("Cross-Origin-Opener-Policy", "same-origin")
	hd.Set("Cross-Origin-Resource-Policy", "same-origin")
	hd.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=()")
	hd.Set("Cache-Control", "no-store")
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.headers(w)
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "the pages are read with GET", http.StatusMethodNotAllowed)
		return
	}
	name := strings.TrimPrefix(r.URL.Path, h.prefix)
	switch name {
	case "", PageLogin, PageRegister, PageConsole:
		if name == "" {
			name = PageLogin
		}
		if pages.Lookup(name+".html") == nil {
			http.NotFound(w, r)
			return
		}
		h.page(w, r, name)
	default:
		h.asset(w, r, name)
	}
}

var contentTypes = map[string]string{
	".js":  "text/javascript; charset=utf-8",
	".css": "text/css; charset=utf-8",
	".svg": "image/svg+xml",
}

func (h *handler) asset(w http.ResponseWriter, r *http.Request, name string) {
	ct, ok := contentTypes[path.Ext(name)]
	if !ok || strings.Contains(name, "/") {
		http.NotFound(w, r)
		return
	}
	b, err := fs.ReadFile(h.static, name)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", ct)
	_, _ = w.Write(b) //nolint:gosec // G705: an embedded file of the binary, not request data
}

func (h *handler) page(w http.ResponseWriter, r *http.Request, name string) {
	ctx, cancel := context.WithTimeout(r.Context(), keysTimeout)
	defer cancel()
	keys, err := h.o.Keys(ctx)
	if err != nil || keys["identity"].KeyPublic == "" {
		h.o.Logger.Warn("web page cannot read the service keys", "err", err)
		http.Error(w, "the identity service's keys cannot be read; try again", http.StatusServiceUnavailable)
		return
	}
	cfg := config{Page: name, IdentityURL: h.o.IdentityURL, Services: keys}
	raw, err := json.Marshal(&cfg)
	if err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	var buf bytes.Buffer
	data := map[string]any{"Config": base64.StdEncoding.EncodeToString(raw), "Page": name, "Nav": nav(name)}
	if err := pages.ExecuteTemplate(&buf, name+".html", data); err != nil {
		h.o.Logger.Error("web page template", "page", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_, _ = w.Write(buf.Bytes())
}

// nav lists the pages for the header, marking the current one.
func nav(current string) []map[string]any {
	out := make([]map[string]any, 0, 3)
	for _, n := range []string{PageLogin, PageRegister, PageConsole} {
		if pages.Lookup(n+".html") == nil {
			continue
		}
		out = append(out, map[string]any{"Name": n, "Current": n == current})
	}
	return out
}
