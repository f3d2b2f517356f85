package store

import (
	"context"
	"fmt"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"sync"

	"github.com/openacquire/acquire/runtime/store/filestore"
	"github.com/openacquire/acquire/runtime/store/memstore"
)

// Opener builds a driver from a parsed store URL.
type Opener func(ctx context.Context, u *url.URL) (Driver, error)

// registry maps URL schemes to openers. mem and file are built in here,
// rather than registered from their own packages' init, because those
// packages sit below this one; cloud adapters register their schemes.
var registry = struct {
	sync.RWMutex
	openers map[string]Opener
}{openers: map[string]Opener{"mem": openMem, "file": openFile}}

var schemeRE = regexp.MustCompile(`^[a-z][a-z0-9+.-]{0,31}$`)

// RegisterScheme makes Open dispatch URLs of scheme to open. It panics on a
// malformed or already registered scheme or a nil opener: those are wiring
// bugs that must fail at start-up, not on the first request.
func RegisterScheme(scheme string, open func(ctx context.Context, u *url.URL) (Driver, error)) {
	if !schemeRE.MatchString(scheme) || open == nil {
		panic(fmt.Sprintf("store: RegisterScheme(%q): bad scheme or nil opener", scheme))
	}
	registry.Lock()
	defer registry.Unlock()
	if _, dup := registry.openers[scheme]; dup {
		panic(fmt.Sprintf("store: RegisterScheme(%q): already registered", scheme))
	}
	registry.openers[scheme] = open
}

// Schemes lists the registered schemes, sorted.
func Schemes() []string {
	registry.RLock()
	defer registry.RUnlock()
	out := make([]string, 0, len(registry.openers))
	for s := range registry.openers {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

// Open opens a bucket by URL: "mem://name" (an in-process bucket shared by
// every Open of the same name; "mem://" alone is a fresh private one),
// "file:///abs/path", "file://./rel/path", a plain path (no "://"), or any
// scheme a cloud adapter registered.
func Open(ctx context.Context, rawURL string) (*Bucket, error) {
	if !strings.Contains(rawURL, "://") {
		d, err := filestore.Open(rawURL)
		if err != nil {
			return nil, fmt.Errorf("store: open %q: %w", rawURL, err)
		}
		return NewBucket(d), nil
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		// url.Parse's error repeats the URL, which may hold a secret.
		return nil, fmt.Errorf("store: open: %w: the store URL does not parse", ErrInvalidArgument)
	}
	registry.RLock()
	open := registry.openers[u.Scheme]
	registry.RUnlock()
	if open == nil {
		return nil, fmt.Errorf("store: open %q: %w: scheme %q not registered", safeURL(u), ErrUnsupported, u.Scheme)
	}
	d, err := open(ctx, u)
	if err != nil {
		return nil, fmt.Errorf("store: open %q: %w", safeURL(u), err)
	}
	return NewBucket(d), nil
}

// safeURL names a store in errors without what may be a secret: no user
// info and no query.
func safeURL(u *url.URL) string { return u.Scheme + "://" + u.Host + u.Path }

func openMem(_ context.Context, u *url.URL) (Driver, error) {
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil {
		return nil, fmt.Errorf("%w: mem URL takes only a name: mem://name", ErrInvalidArgument)
	}
	if u.Host == "" {
		return memstore.New(), nil
	}
	return memstore.Named(u.Host), nil
}

// openFile accepts file:///abs, file://localhost/abs and file://./rel (or
// file://../rel); any other host would silently mean a different machine.
func openFile(_ context.Context, u *url.URL) (Driver, error) {
	if u.RawQuery != "" || u.User != nil {
		return nil, fmt.Errorf("%w: file URL takes no query or user", ErrInvalidArgument)
	}
	var path string
	switch u.Host {
	case "", "localhost":
		path = u.Path
	case ".", "..":
		path = u.Host + u.Path
	default:
		return nil, fmt.Errorf("%w: file URL host %q (want file:///abs or file://./rel)", ErrInvalidArgument, u.Host)
	}
	if path == "" {
		return nil, fmt.Errorf("%w: file URL without a path", ErrInvalidArgument)
	}
	return filestore.Open(path)
}
