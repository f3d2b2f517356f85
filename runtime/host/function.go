package host

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/openacquire/acquire/runtime/service"
)

// The environment a function platform (Lambda, Cloud Run / Cloud
// Functions, Azure Functions) passes to an Acquire function. The platforms'
// deployers set these; the secret arrives through the platform's secret
// mechanism as an environment variable.
const (
	EnvServices        = "ACQUIRE_SERVICES"         // comma-separated kinds (default: all)
	EnvStoreURL        = "ACQUIRE_STORE_URL"        // required
	EnvPublicURL       = "ACQUIRE_PUBLIC_URL"       // required: the base URL clients call
	EnvSecret          = "ACQUIRE_SERVICE_SECRET"   // required
	EnvTrustedServices = "ACQUIRE_TRUSTED_SERVICES" // comma-separated service URLs
	EnvAccountingURL   = "ACQUIRE_ACCOUNTING_URL"   // where an access service cashes cheques (no accounting beside it)
	EnvAccessURL       = "ACQUIRE_ACCESS_URL"       // the access service a compute service runs jobs for (no access beside it)
	EnvJobLeaseS       = "ACQUIRE_JOB_LEASE_S"      // seconds a compute claim holds a job (default 60)
	EnvSessionLifeS    = "ACQUIRE_SESSION_LIFE_S"   // seconds an identity session lasts (default 86400)
	// EnvTrustedIdentities lists, comma-separated, the identity services
	// whose users may act here; unset trusts none (other than this
	// function's own identity service, when it runs one).
	EnvTrustedIdentities = "ACQUIRE_TRUSTED_IDENTITIES"
	// EnvSettlementPeers lists, comma-separated, the peer accounting
	// services an accounting function settles cross-region transfers with.
	EnvSettlementPeers = "ACQUIRE_SETTLEMENT_PEERS"
	// EnvStorageDataURL = "query" puts the key of the storage service's
	// own data URLs in their query (Config.StorageDataKeyInQuery): Fn's
	// triggers match one whole path, so /storage/data/<key> could not be
	// routed; /storage/data?key=<key> can.
	EnvStorageDataURL = "ACQUIRE_STORAGE_DATA_URL"
)

// FunctionInitTimeout bounds the first request's work of opening the
// services (store reads, unlocking keys).
const FunctionInitTimeout = 20 * time.Second

// ConfigFromEnv reads a function's host configuration. Missing values are
// named in the error; the secret's value never is.
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	cfg := Config{StoreURL: getenv(EnvStoreURL), PublicURL: strings.TrimRight(getenv(EnvPublicURL), "/"), Secret: getenv(EnvSecret)}
	var missing []string
	for name, v := range map[string]string{EnvStoreURL: cfg.StoreURL, EnvPublicURL: cfg.PublicURL, EnvSecret: cfg.Secret} {
		if v == "" {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		return Config{}, fmt.Errorf("host: function environment lacks %s", strings.Join(missing, ", "))
	}
	if err := service.CheckSecret(cfg.Secret); err != nil {
		return Config{}, fmt.Errorf("host: %s: %w", EnvSecret, err)
	}
	cfg.Kinds = splitList(getenv(EnvServices))
	switch v := getenv(EnvStorageDataURL); v {
	case "", "path":
	case "query":
		cfg.StorageDataKeyInQuery = true
	default:
		return Config{}, fmt.Errorf("host: %s: %q is neither path nor query", EnvStorageDataURL, v)
	}
	// EnvTrustedServices is read with the settings below (TrustedServicesSetting).
	for setting, name := range settingEnv {
		if v := strings.TrimSpace(getenv(name)); v != "" {
			if err := ApplySettings(&cfg, map[string]string{setting: v}); err != nil {
				return Config{}, fmt.Errorf("host: %s: %w", name, err)
			}
		}
	}
	return cfg, nil
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// Lazy is a function's handler: it opens its host on the first request,
// not at process start, so a cold start does no network or key work before
// the platform hands it a request, and an instance that is never called
// costs nothing. A failed open is retried by the next request.
type Lazy struct {
	Config Config
	Logger *slog.Logger
	// Clock is for tests; nil means time.Now.
	Clock func() time.Time

	mu sync.Mutex
	h  *Host

	sweepMu   sync.Mutex // one sweep at a time per instance
	lastSweep time.Time
}

func (l *Lazy) host() (*Host, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.h != nil {
		return l.h, nil
	}
	// Not the request's context: a caller giving up must not fail the
	// open for the requests queued behind it.
	ctx, cancel := context.WithTimeout(context.Background(), FunctionInitTimeout)
	defer cancel()
	cfg := l.Config
	cfg.Logger = l.Logger
	h, err := NewWithClock(ctx, cfg, l.now)
	if err != nil {
		return nil, err
	}
	l.h = h
	return h, nil
}

// ServeHTTP opens the host if needed and serves the request.
func (l *Lazy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h, err := l.host()
	if err != nil {
		l.logger().Error("function could not open its services", "err", err)
		http.Error(w, "service unavailable: it could not open its store", http.StatusServiceUnavailable)
		return
	}
	h.Handler().ServeHTTP(w, r)
	l.maybeSweep(h)
}

// FunctionSweepTimeout bounds one sweep started by a request.
const FunctionSweepTimeout = 2 * time.Second

// maybeSweep starts the host's sweep (stale replay markers, expiry of
// provisional transfers past receipt_by) at most once per SweepInterval
// per instance. A function has no timer of its own, so the sweep rides on
// requests; it runs beside them, not in their way. On Lambda a sweep still
// running when the invocation ends resumes with the next one (or times
// out and is started again later): it is bounded and idempotent.
func (l *Lazy) maybeSweep(h *Host) {
	now := l.now()
	if !l.sweepMu.TryLock() {
		return
	}
	if now.Sub(l.lastSweep) < SweepInterval {
		l.sweepMu.Unlock()
		return
	}
	l.lastSweep = now
	go func() {
		defer l.sweepMu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), FunctionSweepTimeout)
		defer cancel()
		h.Sweep(ctx)
	}()
}

func (l *Lazy) now() time.Time {
	if l.Clock != nil {
		return l.Clock()
	}
	return time.Now()
}

// Close waits for a running sweep, then releases the host's stores, if
// it was opened.
func (l *Lazy) Close() {
	l.sweepMu.Lock()
	defer l.sweepMu.Unlock()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.h != nil {
		l.h.Close()
	}
}

func (l *Lazy) logger() *slog.Logger {
	if l.Logger != nil {
		return l.Logger
	}
	return slog.Default()
}
