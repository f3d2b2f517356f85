// Package storeurl checks what every cloud store URL shares
// (scheme://bucket?param=value): its shape, its parameters, its key prefix
// and its endpoint, with errors that never repeat a value that could be a
// secret.
package storeurl

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/openacquire/acquire/runtime/store"
	"github.com/openacquire/acquire/runtime/store/driver"
)

// Spec describes one driver's URLs.
type Spec struct {
	Scheme      string   // "s3", "gs", …
	Package     string   // error prefix, e.g. "s3store"
	Params      []string // the query parameters allowed
	Credentials string   // where credentials come from instead, for messages
	MaxPrefix   int      // longest prefix in bytes
}

// Errorf makes an ErrInvalidArgument error in the driver's name.
func (s Spec) Errorf(format string, args ...any) error {
	return fmt.Errorf("%s: %w: "+format, append([]any{s.Package, driver.ErrInvalidArgument}, args...)...)
}

// Query checks the URL's shape and returns its parameters, each given at
// most once. A URL carrying user information, a path or an unknown
// parameter is refused.
func (s Spec) Query(u *url.URL) (url.Values, error) {
	switch {
	case u.Scheme != s.Scheme:
		return nil, s.Errorf("scheme %q, want %q", u.Scheme, s.Scheme)
	case u.User != nil:
		return nil, s.Errorf("the URL carries user information; credentials come only from %s", s.Credentials)
	case u.Opaque != "" || u.Fragment != "":
		return nil, s.Errorf("want %s://bucket?param=value", s.Scheme)
	case u.Path != "" && u.Path != "/":
		return nil, s.Errorf("the URL has a path; put a key prefix in ?prefix= instead")
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return nil, s.Errorf("malformed query")
	}
	for name, values := range q {
		if !slices.Contains(s.Params, name) {
			if looksSecret(name) {
				return nil, s.Errorf("parameter %q: credentials come only from %s, never from the URL", name, s.Credentials)
			}
			return nil, s.Errorf("unknown parameter %q (known: %s)", name, strings.Join(s.Params, ", "))
		}
		if len(values) != 1 {
			return nil, s.Errorf("parameter %q given %d times", name, len(values))
		}
	}
	return q, nil
}

// Prefix normalises a key prefix to end in "/" and checks it ("" stays "").
func (s Spec) Prefix(p string) (string, error) {
	if p == "" {
		return "", nil
	}
	p = strings.TrimSuffix(p, "/") + "/"
	if len(p) > s.MaxPrefix {
		return "", s.Errorf("prefix must be at most %d bytes and end in /", s.MaxPrefix)
	}
	if err := store.ValidateKey(strings.TrimSuffix(p, "/")); err != nil {
		return "", s.Errorf("prefix: %w", err)
	}
	return p, nil
}

// Endpoint accepts http(s)://host[:port][/path] and nothing that could
// carry a secret (user information, query, fragment).
func (s Spec) Endpoint(e string) error {
	u, err := url.Parse(e)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
		u.User != nil || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
		return s.Errorf("endpoint must be http(s)://host[:port][/path], without user information or query")
	}
	return nil
}

func looksSecret(name string) bool {
	n := strings.ToLower(name)
	for _, s := range []string{"key", "secret", "token", "password", "credential", "session"} {
		if strings.Contains(n, s) {
			return true
		}
	}
	return false
}

// CheckOp gates a cloud driver's operation: refused once the driver is
// closed, refused when the key under the URL's prefix would pass the
// store's key limit (the prefix takes part of the cloud's 1024 bytes), and
// refused when ctx is done. key is "" for operations without one.
func CheckOp(ctx context.Context, closed bool, prefix, key string) error {
	if closed {
		return driver.ErrClosed
	}
	if len(prefix)+len(key) > driver.MaxKeyBytes {
		return fmt.Errorf("%w: %d bytes with the %d-byte URL prefix, the limit is %d",
			driver.ErrInvalidKey, len(key)+len(prefix), len(prefix), driver.MaxKeyBytes)
	}
	return ctx.Err()
}
