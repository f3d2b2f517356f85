package web

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// Every route listed is answered, and what is answered is listed (a
// platform with whole-path routes would otherwise miss an asset).
func TestRoutesAreWhatIsServed(t *testing.T) {
	h := Handler("/identity"+Path, Options{IdentityURL: "http://x/identity"})
	routes := Routes()
	seen := map[string]bool{}
	for _, r := range routes {
		seen[r] = true
		if r == "" || r == PageLogin || r == PageRegister || r == PageConsole {
			continue // pages need the identity's keys; their names are fixed above
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/identity"+Path+r, nil))
		if w.Code != http.StatusOK {
			t.Errorf("route %q answers %d", r, w.Code)
		}
	}
	for _, asset := range []string{"acquire.js", "style.css"} {
		if !seen[asset] {
			t.Errorf("%s is served but not listed", asset)
		}
	}
}
