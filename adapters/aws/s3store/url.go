package s3store

import (
	"context"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/openacquire/acquire/runtime/store"
	"github.com/openacquire/acquire/runtime/store/driver"
)

// Scheme is the store URL scheme this package registers.
const Scheme = "s3"

var registerOnce sync.Once

// Register makes store.Open accept s3:// URLs. Call it once at start-up
// (more calls do nothing).
func Register() {
	registerOnce.Do(func() {
		store.RegisterScheme(Scheme, func(ctx context.Context, u *url.URL) (store.Driver, error) {
			return OpenURL(ctx, u)
		})
	})
}

// OpenURL opens a driver from an s3:// URL (see the package doc).
func OpenURL(ctx context.Context, u *url.URL) (*Driver, error) {
	cfg, err := ParseURL(u)
	if err != nil {
		return nil, err
	}
	return New(ctx, cfg)
}

// urlParams are the query parameters an s3:// URL may carry.
var urlParams = []string{"region", "endpoint", "prefix", "path_style"}

// ParseURL checks an s3:// URL and returns its configuration. Its errors
// never repeat user information or parameter values that could be secrets.
func ParseURL(u *url.URL) (Config, error) {
	bad := func(format string, args ...any) (Config, error) {
		return Config{}, fmt.Errorf("s3store: %w: "+format, append([]any{driver.ErrInvalidArgument}, args...)...)
	}
	switch {
	case u.Scheme != Scheme:
		return bad("scheme %q, want %q", u.Scheme, Scheme)
	case u.User != nil:
		return bad("the URL carries user information; credentials come only from the AWS default chain (AWS_ACCESS_KEY_ID, profiles, roles)")
	case u.Opaque != "" || u.Fragment != "":
		return bad("want s3://bucket?param=value")
	case u.Path != "" && u.Path != "/":
		return bad("the URL has a path; put a key prefix in ?prefix= instead")
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return bad("malformed query")
	}
	for name, values := range q {
		if !slices.Contains(urlParams, name) {
			if looksSecret(name) {
				return bad("parameter %q: credentials come only from the AWS default chain, never from the URL", name)
			}
			return bad("unknown parameter %q (known: %s)", name, strings.Join(urlParams, ", "))
		}
		if len(values) != 1 {
			return bad("parameter %q given %d times", name, len(values))
		}
	}
	cfg := Config{
		Bucket:   u.Host,
		Region:   q.Get("region"),
		Endpoint: q.Get("endpoint"),
	}
	if err := validateBucket(cfg.Bucket); err != nil {
		return Config{}, err
	}
	if cfg.Region != "" && !regionRE.MatchString(cfg.Region) {
		return bad("malformed region (want e.g. us-east-1)")
	}
	if cfg.Endpoint != "" {
		if err := validateEndpoint(cfg.Endpoint); err != nil {
			return Config{}, err
		}
	}
	if p := q.Get("prefix"); p != "" {
		cfg.Prefix = strings.TrimSuffix(p, "/") + "/"
		if err := validatePrefix(cfg.Prefix); err != nil {
			return Config{}, err
		}
	}
	if ps := q.Get("path_style"); ps != "" {
		if cfg.PathStyle, err = strconv.ParseBool(ps); err != nil {
			return bad("path_style must be true or false")
		}
	}
	return cfg, nil
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

var (
	// bucketRE: S3's bucket naming rules (3-63 bytes, lower case, digits,
	// dots and hyphens, starting and ending with a letter or digit).
	bucketRE = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)
	regionRE = regexp.MustCompile(`^[a-z0-9-]{1,32}$`)
)

func validateBucket(b string) error {
	if !bucketRE.MatchString(b) {
		return fmt.Errorf("s3store: %w: bucket name %q (want 3-63 of a-z 0-9 . -)", driver.ErrInvalidArgument, b)
	}
	return nil
}

// validatePrefix accepts "" or a valid key followed by "/".
func validatePrefix(p string) error {
	if p == "" {
		return nil
	}
	if len(p) > maxPrefixBytes || !strings.HasSuffix(p, "/") {
		return fmt.Errorf("s3store: %w: prefix must be at most %d bytes and end in /", driver.ErrInvalidArgument, maxPrefixBytes)
	}
	if err := store.ValidateKey(strings.TrimSuffix(p, "/")); err != nil {
		return fmt.Errorf("s3store: %w: prefix: %w", driver.ErrInvalidArgument, err)
	}
	return nil
}

// validateEndpoint accepts http(s)://host[:port][/path] and nothing that
// could carry a secret (user information, query, fragment).
func validateEndpoint(e string) error {
	u, err := url.Parse(e)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
		u.User != nil || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
		return fmt.Errorf("s3store: %w: endpoint must be http(s)://host[:port][/path], without user information or query", driver.ErrInvalidArgument)
	}
	return nil
}
