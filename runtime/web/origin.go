package web

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// SameOrigin refuses a state-changing request (anything but GET, HEAD and
// OPTIONS) that a browser sent from another site: one whose
// Sec-Fetch-Site says cross-site, or whose Origin is neither the host it
// was sent to nor one of allowed (origins such as "https://id.example").
// Clients that are not browsers send neither header and pass: their calls
// are authorised by the envelope, not by anything a browser adds. The
// envelope already keeps a forged call from acting for a user; this keeps
// another site's page from using a visitor's browser as a relay at all.
func SameOrigin(next http.Handler, allowed ...string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions:
			next.ServeHTTP(w, r)
			return
		}
		if !sameOrigin(r, allowed) {
			http.Error(w, "cross-origin request refused", http.StatusForbidden)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func sameOrigin(r *http.Request, allowed []string) bool {
	if strings.EqualFold(r.Header.Get("Sec-Fetch-Site"), "cross-site") {
		return false
	}
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" { // "null" (a sandboxed frame, a file:) included
		return false
	}
	return strings.EqualFold(u.Host, r.Host) || slices.Contains(allowed, u.Scheme+"://"+u.Host)
}
