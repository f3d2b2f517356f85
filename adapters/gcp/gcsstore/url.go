package gcsstore

import (
	"context"
	"fmt"
	"net/mail"
	"net/url"
	"regexp"
	"strconv"
	"sync"

	"github.com/openacquire/acquire/adapters/storeurl"
	"github.com/openacquire/acquire/runtime/store"
	"github.com/openacquire/acquire/runtime/store/driver"
)

// Scheme is the store URL scheme this package registers.
const Scheme = "gs"

var registerOnce sync.Once

// Register makes store.Open accept gs:// URLs. Call it once at start-up
// (more calls do nothing).
func Register() {
	registerOnce.Do(func() {
		store.RegisterScheme(Scheme, func(ctx context.Context, u *url.URL) (store.Driver, error) {
			return OpenURL(ctx, u)
		})
	})
}

// OpenURL opens a driver from a gs:// URL (see the package doc).
func OpenURL(ctx context.Context, u *url.URL) (*Driver, error) {
	cfg, err := ParseURL(u)
	if err != nil {
		return nil, err
	}
	return New(ctx, cfg)
}

// spec is what gs:// URLs share with other cloud store URLs.
var spec = storeurl.Spec{Scheme: Scheme, Package: "gcsstore", Params: []string{"endpoint", "prefix", "signer", "anonymous"},
	Credentials: "Application Default Credentials", MaxPrefix: maxPrefixBytes}

// ParseURL checks a gs:// URL and returns its configuration. Its errors
// never repeat user information or values that could be secrets.
func ParseURL(u *url.URL) (Config, error) {
	bad := func(format string, args ...any) (Config, error) { return Config{}, spec.Errorf(format, args...) }
	q, err := spec.Query(u)
	if err != nil {
		return Config{}, err
	}
	cfg := Config{Bucket: u.Host, Endpoint: q.Get("endpoint"), Signer: q.Get("signer")}
	if err := validateBucket(cfg.Bucket); err != nil {
		return Config{}, err
	}
	if cfg.Endpoint != "" {
		if err := spec.Endpoint(cfg.Endpoint); err != nil {
			return Config{}, err
		}
	}
	if cfg.Prefix, err = spec.Prefix(q.Get("prefix")); err != nil {
		return Config{}, err
	}
	if s := cfg.Signer; s != "" && s != "auto" {
		if a, err := mail.ParseAddress(s); err != nil || a.Address != s {
			return bad("signer must be auto or a service-account e-mail")
		}
	}
	if a := q.Get("anonymous"); a != "" {
		if cfg.Anonymous, err = strconv.ParseBool(a); err != nil {
			return bad("anonymous must be true or false")
		}
	}
	return cfg, nil
}

// bucketRE: GCS bucket names (3-63 bytes of a-z 0-9 - _ ., starting and
// ending with a letter or digit; dotted names up to 222 are not accepted).
var bucketRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{1,61}[a-z0-9]$`)

func validateBucket(b string) error {
	if !bucketRE.MatchString(b) {
		return fmt.Errorf("gcsstore: %w: bucket name %q (want 3-63 of a-z 0-9 . _ -)", driver.ErrInvalidArgument, b)
	}
	return nil
}
