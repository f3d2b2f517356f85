package blobstore

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"strings"
	"sync"

	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"

	"github.com/openacquire/acquire/adapters/storeurl"
	"github.com/openacquire/acquire/runtime/store"
	"github.com/openacquire/acquire/runtime/store/driver"
)

// Scheme is the store URL scheme this package registers.
const Scheme = "azblob"

// The environment variables credentials come from.
const (
	EnvConnectionString = "AZURE_STORAGE_CONNECTION_STRING"
	EnvAccount          = "AZURE_STORAGE_ACCOUNT"
	EnvKey              = "AZURE_STORAGE_KEY"
)

const credentialSources = EnvConnectionString + ", or " + EnvKey + " with the account"

var registerOnce sync.Once

// Register makes store.Open accept azblob:// URLs. Call it once at start-up
// (more calls do nothing).
func Register() {
	registerOnce.Do(func() {
		store.RegisterScheme(Scheme, func(ctx context.Context, u *url.URL) (store.Driver, error) {
			return OpenURL(ctx, u)
		})
	})
}

// OpenURL opens a driver from an azblob:// URL, with credentials from the
// environment (see the package doc).
func OpenURL(ctx context.Context, u *url.URL) (*Driver, error) {
	cfg, err := ParseURL(u)
	if err != nil {
		return nil, err
	}
	withKey, err := CredentialsFromEnv(cfg, os.Getenv)
	if errors.Is(err, errNoCredentials) {
		// No shared key in the environment: Microsoft Entra ID through
		// azidentity's default chain (environment, workload identity,
		// managed identity, Azure CLI, …). Such a driver cannot sign URLs.
		if cfg.Account == "" {
			cfg.Account = os.Getenv(EnvAccount)
		}
		if err := validateAccount(cfg.Account); err != nil {
			return nil, err
		}
		cred, cerr := azidentity.NewDefaultAzureCredential(nil)
		if cerr != nil {
			return nil, fmt.Errorf("blobstore: no shared key (%s) and no default Azure credential: %w", credentialSources, cerr)
		}
		cfg.TokenCredential = cred
		return New(ctx, cfg)
	}
	if err != nil {
		return nil, err
	}
	return New(ctx, withKey)
}

// spec is what azblob:// URLs share with other cloud store URLs.
var spec = storeurl.Spec{Scheme: Scheme, Package: "blobstore", Params: []string{"account", "endpoint", "prefix"},
	Credentials: "the environment (" + credentialSources + ")", MaxPrefix: maxPrefixBytes}

// ParseURL checks an azblob:// URL and returns its configuration, without
// credentials. Its errors never repeat user information or values that
// could be secrets.
func ParseURL(u *url.URL) (Config, error) {
	q, err := spec.Query(u)
	if err != nil {
		return Config{}, err
	}
	cfg := Config{Container: u.Host, Account: q.Get("account"), Endpoint: q.Get("endpoint")}
	if err := validateContainer(cfg.Container); err != nil {
		return Config{}, err
	}
	if cfg.Account != "" {
		if err := validateAccount(cfg.Account); err != nil {
			return Config{}, err
		}
	}
	if cfg.Endpoint != "" {
		if err := spec.Endpoint(cfg.Endpoint); err != nil {
			return Config{}, err
		}
	}
	if cfg.Prefix, err = spec.Prefix(q.Get("prefix")); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

// CredentialsFromEnv completes cfg from the environment, read through
// getenv: a connection string's account key (its account must match
// cfg.Account when both are set; its blob endpoint is used when cfg has
// none), else AZURE_STORAGE_KEY for cfg.Account or AZURE_STORAGE_ACCOUNT.
// Errors never repeat a key or connection string.
func CredentialsFromEnv(cfg Config, getenv func(string) string) (Config, error) {
	if cs := getenv(EnvConnectionString); cs != "" {
		p, err := parseConnectionString(cs)
		if err != nil {
			return Config{}, err
		}
		if cfg.Account != "" && cfg.Account != p.account {
			return Config{}, spec.Errorf("the URL's account %q is not the connection string's account", cfg.Account)
		}
		cfg.Account = p.account
		if cfg.Endpoint == "" {
			cfg.Endpoint = p.endpoint
		}
		if err := validateAccount(cfg.Account); err != nil {
			return Config{}, err
		}
		if cfg.SharedKey, err = container.NewSharedKeyCredential(p.account, p.key); err != nil {
			return Config{}, spec.Errorf("%s: the account key is not valid base64", EnvConnectionString)
		}
		return cfg, nil
	}
	key := getenv(EnvKey)
	if key == "" {
		return Config{}, errNoCredentials
	}
	if cfg.Account == "" {
		cfg.Account = getenv(EnvAccount)
	}
	if err := validateAccount(cfg.Account); err != nil {
		return Config{}, err
	}
	var err error
	if cfg.SharedKey, err = container.NewSharedKeyCredential(cfg.Account, key); err != nil {
		return Config{}, spec.Errorf("%s is not valid base64", EnvKey)
	}
	return cfg, nil
}

// errNoCredentials: the environment holds no shared key; OpenURL then
// falls back to azidentity's default chain.
var errNoCredentials = fmt.Errorf("blobstore: %w: no shared key in the environment (set %s)", driver.ErrInvalidArgument, credentialSources)

type connectionString struct{ account, key, endpoint string }

// parseConnectionString reads the shared-key form of an Azure Storage
// connection string; a SAS-only one is refused (no account key).
func parseConnectionString(cs string) (connectionString, error) {
	fields := map[string]string{}
	for part := range strings.SplitSeq(cs, ";") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		name, value, ok := strings.Cut(part, "=")
		if !ok {
			return connectionString{}, spec.Errorf("%s is malformed", EnvConnectionString)
		}
		fields[strings.ToLower(name)] = value
	}
	p := connectionString{account: fields["accountname"], key: fields["accountkey"], endpoint: fields["blobendpoint"]}
	if p.account == "" || p.key == "" {
		return connectionString{}, spec.Errorf("%s needs AccountName and AccountKey", EnvConnectionString)
	}
	if p.endpoint == "" {
		proto, suffix := fields["defaultendpointsprotocol"], fields["endpointsuffix"]
		if proto == "" {
			proto = "https"
		}
		if suffix == "" {
			suffix = "core.windows.net"
		}
		p.endpoint = proto + "://" + p.account + ".blob." + suffix
	}
	if err := spec.Endpoint(p.endpoint); err != nil {
		return connectionString{}, spec.Errorf("%s: the blob endpoint must be http(s)://host[:port][/path]", EnvConnectionString)
	}
	return p, nil
}

// containerRE: Azure container names (3-63 of a-z 0-9 -, starting and
// ending with a letter or digit, no "--").
var containerRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$`)

func validateContainer(c string) error {
	if !containerRE.MatchString(c) || strings.Contains(c, "--") {
		return fmt.Errorf("blobstore: %w: container name %q (want 3-63 of a-z 0-9 -, no --)", driver.ErrInvalidArgument, c)
	}
	return nil
}

// accountRE: storage account names (3-24 of a-z 0-9).
var accountRE = regexp.MustCompile(`^[a-z0-9]{3,24}$`)

func validateAccount(a string) error {
	if !accountRE.MatchString(a) {
		return fmt.Errorf("blobstore: %w: account name %q (want 3-24 of a-z 0-9; set ?account= or %s)", driver.ErrInvalidArgument, a, EnvAccount)
	}
	return nil
}
