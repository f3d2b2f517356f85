package s3store

import (
	"context"
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"sync"

	"github.com/openacquire/acquire/adapters/storeurl"
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

// OpenURL opens a driver from an s3:// URL (see the package doc) and
// checks that the server honours conditional writes
// (CheckConditionalWrites), so a server that would break exactly-once
// writes is refused at start-up rather than at the first write.
func OpenURL(ctx context.Context, u *url.URL) (*Driver, error) {
	cfg, err := ParseURL(u)
	if err != nil {
		return nil, err
	}
	d, err := New(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if err := d.CheckConditionalWrites(ctx); err != nil {
		return nil, err
	}
	return d, nil
}

// spec is what s3:// URLs share with other cloud store URLs.
var spec = storeurl.Spec{Scheme: Scheme, Package: "s3store", Params: []string{"region", "endpoint", "prefix", "path_style"},
	Credentials: "the AWS default chain (AWS_ACCESS_KEY_ID, profiles, roles)", MaxPrefix: maxPrefixBytes}

// ParseURL checks an s3:// URL and returns its configuration. Its errors
// never repeat user information or parameter values that could be secrets.
func ParseURL(u *url.URL) (Config, error) {
	bad := func(format string, args ...any) (Config, error) { return Config{}, spec.Errorf(format, args...) }
	q, err := spec.Query(u)
	if err != nil {
		return Config{}, err
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
		if err := spec.Endpoint(cfg.Endpoint); err != nil {
			return Config{}, err
		}
	}
	if cfg.Prefix, err = spec.Prefix(q.Get("prefix")); err != nil {
		return Config{}, err
	}
	if ps := q.Get("path_style"); ps != "" {
		if cfg.PathStyle, err = strconv.ParseBool(ps); err != nil {
			return bad("path_style must be true or false")
		}
	}
	return cfg, nil
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
