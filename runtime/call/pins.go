package call

import (
	"fmt"
	"net"
	"net/url"
	"path"
	"strings"
	"sync"
)

// ServiceID is the form of a service URL that pins and cached keys are
// kept under: scheme and host in lower case, no default port, a clean
// path without a trailing slash, and no user, query or fragment, which
// name nothing about the service (so "?n=1", "?n=2"... are one service,
// not one pin each). A URL that does not parse is its own ID.
func ServiceID(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return raw
	}
	scheme, host := strings.ToLower(u.Scheme), strings.ToLower(u.Hostname())
	port := u.Port()
	if (scheme == "http" && port == "80") || (scheme == "https" && port == "443") {
		port = ""
	}
	if port != "" {
		host = net.JoinHostPort(host, port)
	} else if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	p := ""
	if u.Path != "" && u.Path != "/" {
		p = strings.TrimRight(path.Clean("/"+u.Path), "/")
	}
	return scheme + "://" + host + p
}

// ErrTooManyServices means a bounded set of pins is full.
type ErrTooManyServices struct{ Max int }

func (e *ErrTooManyServices) Error() string {
	return fmt.Sprintf("call: over %d services pinned for this work", e.Max)
}

// OverlayPins trusts what Trusted (the operator's wallet) pins and moves
// those pins forward there, but keeps the pins of services Trusted does
// not know in memory, at most Max of them: a job naming services through
// its links can then neither add pins to the wallet nor grow memory
// without bound, and its pins are gone with it.
type OverlayPins struct {
	Trusted Pins
	Max     int

	mu    sync.Mutex
	extra map[string]string
}

// Pinned is Trusted's pin for url, or one made in memory.
func (o *OverlayPins) Pinned(url string) (string, bool) {
	if fp, ok := o.Trusted.Pinned(url); ok {
		return fp, true
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	fp, ok := o.extra[url]
	return fp, ok
}

// Pin moves a pin Trusted holds forward, or pins in memory.
func (o *OverlayPins) Pin(url, fp string) error {
	if _, ok := o.Trusted.Pinned(url); ok {
		return o.Trusted.Pin(url, fp)
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if _, ok := o.extra[url]; !ok && len(o.extra) >= o.Max {
		return &ErrTooManyServices{Max: o.Max}
	}
	if o.extra == nil {
		o.extra = map[string]string{}
	}
	o.extra[url] = fp
	return nil
}
