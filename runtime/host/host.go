// Package host serves a set of Acquire services over HTTP from one process:
// the local platform, and the development default.
package host

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/openacquire/acquire/runtime/access"
	"github.com/openacquire/acquire/runtime/accounting"
	"github.com/openacquire/acquire/runtime/auth"
	"github.com/openacquire/acquire/runtime/call"
	"github.com/openacquire/acquire/runtime/compute"
	"github.com/openacquire/acquire/runtime/crypto"
	"github.com/openacquire/acquire/runtime/identity"
	"github.com/openacquire/acquire/runtime/registry"
	"github.com/openacquire/acquire/runtime/service"
	"github.com/openacquire/acquire/runtime/storage"
	"github.com/openacquire/acquire/runtime/store"
	"github.com/openacquire/acquire/runtime/web"
)

// Limits of the HTTP server.
const (
	ReadTimeout     = 30 * time.Second
	WriteTimeout    = 60 * time.Second
	IdleTimeout     = 120 * time.Second
	ShutdownTimeout = 10 * time.Second
	SweepInterval   = time.Minute
	// MinSweepInterval bounds Config.SweepInterval from below.
	MinSweepInterval = time.Second
	sweepBatch       = 1000
)

// Kinds this host knows how to run, in start-up order.
var Kinds = []string{registry.Kind, identity.Kind, accounting.Kind, access.Kind, storage.Kind, compute.Kind}

// Config says what to serve and where its state lives.
type Config struct {
	Kinds     []string
	StoreURL  string // file:///dir or mem://name; each service gets its own sub-store
	PublicURL string // base URL clients use; services live at PublicURL/<kind>
	Secret    string
	Logger    *slog.Logger
	Password  crypto.PasswordParams // zero: identity default
	// TrustedServices are service URLs beyond this host's own that may act
	// in their own name on its accounting service, and ask its access
	// service about any user's grants.
	TrustedServices []string
	// TrustedIdentities are the identity services, beyond this host's own
	// (when it runs one), whose users may act on its services. Nothing
	// else is trusted: with neither, no user can act here.
	TrustedIdentities auth.TrustedIdentities
	// AccountingURL is where the access service cashes cheques when this
	// host runs no accounting service.
	AccountingURL string
	// SettlementPeers are other regions' accounting services this host's
	// accounting service settles cross-region transfers with (both sides
	// must list each other): runtime/settlement.
	SettlementPeers []string
	// SettlementKeysPinnedByURL takes settlement peers' and trusted
	// services' keys from what their URLs publish, pinned on first use
	// (accounting.PinnedByURL), instead of through the registry the
	// accounting service registered with, which asks each one's home
	// registry (the default). For hosts without a registry peering: one
	// host, tests. Never chosen for them.
	SettlementKeysPinnedByURL bool
	// JobLease is how long a compute claim or heartbeat holds a job
	// (0: compute.DefaultLease, at least compute.MinLease): how soon a
	// dead agent's job runs again.
	JobLease time.Duration
	// SweepInterval is how often Serve sweeps (expiries, settlement,
	// uploads, jobs): 0 is SweepInterval, at least MinSweepInterval.
	SweepInterval time.Duration
	// SessionLife is how long the identity service's sessions last (0:
	// identity.SessionTTL, 24 h; within identity.CheckSessionLife).
	SessionLife time.Duration
	// AccessURL is the access service the compute service fulfils for
	// when this host runs no access service.
	AccessURL string
	// ServiceURLs and StoreURLs, when they name a kind, give that kind's
	// URL and store as they are (not PublicURL/<kind> and a sub-store): a
	// service deployed through the admin API lives under its own name.
	ServiceURLs map[string]string
	StoreURLs   map[string]string
	// NoServices serves no fixed service at all (Kinds is then ignored):
	// every service comes through the admin API.
	NoServices bool
	// StorageDataKeyInQuery makes the storage service's own data URLs
	// carry their key in the query (storage.Options.DataKeyInQuery), for
	// platforms that route whole paths only (Fn; EnvStorageDataURL).
	StorageDataKeyInQuery bool
	// AdminToken enables the admin API (/_admin/v1/) for bearer holders of
	// this token; empty disables it.
	AdminToken string
	clock      func() time.Time
}

// Host is a running set of services.
type Host struct {
	cfg        Config
	mux        *http.ServeMux
	services   map[string]*service.Service
	Identity   *identity.Identity
	Registry   *registry.Registry
	Accounting *accounting.Accounting
	Access     *access.Access
	Storage    *storage.Storage
	Compute    *compute.Compute
	Client     *call.Client
	buckets    []*store.Bucket
	deploys    *deployments // services deployed through the admin API; nil without it
}

// New opens every configured service on its store. It does not listen:
// registration with the registry happens in Register, once serving.
func New(ctx context.Context, cfg Config) (*Host, error) { return NewWithClock(ctx, cfg, time.Now) }

// NewWithClock is New with a clock of the caller's, for tests.
func NewWithClock(ctx context.Context, cfg Config, clock func() time.Time) (*Host, error) {
	cfg.clock = clock
	if cfg.SessionLife != 0 {
		if err := identity.CheckSessionLife(cfg.SessionLife); err != nil {
			return nil, fmt.Errorf("host: %w", err)
		}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.NoServices {
		cfg.Kinds = nil
	} else if len(cfg.Kinds) == 0 {
		cfg.Kinds = Kinds
	}
	h := &Host{cfg: cfg, mux: http.NewServeMux(), services: map[string]*service.Service{}, Client: call.NewClient(&call.MemoryPins{})}
	h.Client.Clock = clock
	for _, kind := range Kinds {
		if slices.Contains(cfg.Kinds, kind) {
			if err := h.open(ctx, kind); err != nil {
				h.Close()
				return nil, err
			}
		}
	}
	for _, k := range cfg.Kinds {
		if !slices.Contains(Kinds, k) {
			return nil, fmt.Errorf("host: unknown service kind %q (known: %s)", k, strings.Join(Kinds, ", "))
		}
	}
	h.mux.HandleFunc("GET /healthz", h.health)
	if err := h.startAdmin(ctx); err != nil {
		h.Close()
		return nil, err
	}
	return h, nil
}

func (h *Host) open(ctx context.Context, kind string) error {
	su, err := h.storeURL(kind)
	if err != nil {
		return err
	}
	b, err := store.Open(ctx, su)
	if err != nil {
		return fmt.Errorf("host: opening store for %s: %w", kind, err)
	}
	h.buckets = append(h.buckets, b)
	svc, err := service.New(ctx, service.Config{Kind: kind, URL: h.ServiceURL(kind), Bucket: b, Secret: h.cfg.Secret, Logger: h.cfg.Logger, Clock: h.cfg.clock})
	if err != nil {
		return err
	}
	switch kind {
	case registry.Kind:
		if h.Registry, err = registry.New(ctx, svc, h.Client); err != nil {
			return err
		}
	case identity.Kind:
		h.Identity = identity.New(svc, identity.Options{Password: h.cfg.Password, SessionLife: h.cfg.SessionLife,
			Client: h.Client, Relying: h.relying()})
		h.mux.Handle("/"+kind+web.Path, web.Handler("/"+kind+web.Path,
			web.Options{IdentityURL: svc.URL(), Keys: h.webKeys, Logger: h.cfg.Logger}))
	case accounting.Kind:
		opts := accounting.Options{Client: h.Client, TrustedIdentities: h.trustedIdentities(), TrustedServices: h.trustedServices(),
			SettlementPeers: h.cfg.SettlementPeers}
		if h.cfg.SettlementKeysPinnedByURL {
			opts.PeerKeys = accounting.PinnedByURL(h.Client)
		}
		if h.Accounting, err = accounting.New(ctx, svc, opts); err != nil {
			return err
		}
	case access.Kind:
		if h.Access, err = h.openAccess(svc); err != nil {
			return err
		}
	case storage.Kind:
		opts := storage.Options{Client: h.Client, TrustedIdentities: h.trustedIdentities(), DataKeyInQuery: h.cfg.StorageDataKeyInQuery}
		if h.Storage, err = storage.New(ctx, svc, opts); err != nil {
			return err
		}
		h.mux.Handle("/"+kind+storage.DataPath, h.Storage.DataHandler())
		h.mux.Handle("/"+kind+storage.DataRoute, h.Storage.DataHandler())
	case compute.Kind:
		if h.Compute, err = h.openCompute(svc); err != nil {
			return err
		}
	}
	h.services[kind] = svc
	h.mux.Handle("/"+kind, svc)
	return nil
}

// relying are the services of this host that may hold fast-path channels
// of its identity service's sessions: told when a session ends.
func (h *Host) relying() []string {
	var out []string
	for _, k := range []string{accounting.Kind, storage.Kind} {
		if slices.Contains(h.cfg.Kinds, k) {
			out = append(out, h.ServiceURL(k))
		}
	}
	return out
}

// trustedIdentities are the configured identity services and this host's
// own, when it runs one: never "any".
func (h *Host) trustedIdentities() auth.TrustedIdentities {
	t := slices.Clone(h.cfg.TrustedIdentities)
	if own := h.ServiceURL(identity.Kind); slices.Contains(h.cfg.Kinds, identity.Kind) && !t.Trusts(own) {
		t = append(t, own)
	}
	return t
}

// trustedServices are this host's own services and the configured others.
func (h *Host) trustedServices() []string {
	services := slices.Clone(h.cfg.TrustedServices)
	for _, k := range h.cfg.Kinds {
		services = append(services, h.ServiceURL(k))
	}
	return services
}

// openAccess runs the access service against this host's accounting
// service, or the configured one.
func (h *Host) openAccess(svc *service.Service) (*access.Access, error) {
	acct := h.cfg.AccountingURL
	if acct == "" && slices.Contains(h.cfg.Kinds, accounting.Kind) {
		acct = h.ServiceURL(accounting.Kind)
	}
	if acct == "" {
		return nil, errors.New("host: the access service needs an accounting service (run one here or set AccountingURL)")
	}
	return access.New(svc, access.Options{Client: h.Client, AccountingURL: acct, TrustedIdentities: h.trustedIdentities(),
		TrustedServices: h.trustedServices()})
}

func (h *Host) storeURL(kind string) (string, error) {
	if su := h.cfg.StoreURLs[kind]; su != "" {
		return su, nil
	}
	return SubStoreURL(h.cfg.StoreURL, kind)
}

// openCompute runs the compute service for this host's access service,
// or the configured one.
func (h *Host) openCompute(svc *service.Service) (*compute.Compute, error) {
	acc := h.cfg.AccessURL
	if acc == "" && slices.Contains(h.cfg.Kinds, access.Kind) {
		acc = h.ServiceURL(access.Kind)
	}
	if acc == "" {
		return nil, errors.New("host: the compute service needs an access service (run one here or set AccessURL)")
	}
	return compute.New(svc, compute.Options{Client: h.Client, AccessURLs: []string{acc}, TrustedIdentities: h.trustedIdentities(),
		Lease: h.cfg.JobLease})
}

// ServiceURL is where a kind is served.
func (h *Host) ServiceURL(kind string) string {
	if u := h.cfg.ServiceURLs[kind]; u != "" {
		return u
	}
	return strings.TrimRight(h.cfg.PublicURL, "/") + "/" + kind
}

// Service returns a running service by kind.
func (h *Host) Service(kind string) *service.Service { return h.services[kind] }

// Handler is the host's HTTP handler: its services behind the browser
// same-origin check (see web.SameOrigin).
func (h *Host) Handler() http.Handler { return web.SameOrigin(h.mux, h.origins()...) }

// origins are where this host's own pages may call its services from.
func (h *Host) origins() []string {
	var out []string
	for _, u := range append([]string{h.cfg.PublicURL}, h.serviceURLs()...) {
		if o := web.Origin(u); o != "" && !slices.Contains(out, o) {
			out = append(out, o)
		}
	}
	return out
}

func (h *Host) serviceURLs() []string {
	out := make([]string, 0, len(h.services))
	for _, svc := range h.services {
		out = append(out, svc.URL())
	}
	return out
}

// webKeys are the keys the identity service's pages pin: those of this
// host's services the console calls.
func (h *Host) webKeys(ctx context.Context) (map[string]web.PinnedKeys, error) {
	out := map[string]web.PinnedKeys{}
	for _, kind := range []string{identity.Kind, accounting.Kind, storage.Kind, compute.Kind} {
		svc := h.services[kind]
		if svc == nil {
			continue
		}
		pk, err := svc.PublicKeys(ctx)
		if err != nil {
			return nil, err
		}
		if k, ok := web.Newest(pk); ok {
			out[kind] = k
		}
	}
	return out, nil
}

// Register registers every non-registry service with this host's registry
// by challenge-response; the host must already be serving.
func (h *Host) Register(ctx context.Context) error {
	if h.Registry == nil {
		return nil
	}
	rc := &registry.Client{C: h.Client, URL: h.ServiceURL(registry.Kind)}
	for kind, svc := range h.services {
		if kind == registry.Kind {
			continue
		}
		rec, err := rc.Register(ctx, svc.URL(), kind)
		if err != nil {
			return fmt.Errorf("host: registering %s: %w", kind, err)
		}
		if err := svc.SetUID(ctx, rec.UID, rc.URL); err != nil {
			return err
		}
	}
	return nil
}

func (h *Host) health(w http.ResponseWriter, r *http.Request) {
	out := map[string]any{"status": "ok"}
	svcs := map[string]string{}
	for kind, svc := range h.services {
		svcs[kind] = svc.URL()
	}
	for name, u := range h.deployedURLs() {
		svcs[name] = u
	}
	out["services"] = svcs
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(out)
}

// Sweep removes stale replay markers of every service, expires the
// provisional transfers whose receipt_by has passed, and removes abandoned
// storage uploads.
func (h *Host) Sweep(ctx context.Context) {
	if h.Accounting != nil {
		if n, err := h.Accounting.Expire(ctx); err != nil {
			h.cfg.Logger.Warn("expiry sweep failed", "service", accounting.Kind, "err", err)
		} else if n > 0 {
			h.cfg.Logger.Debug("expired provisional transfers", "count", n)
		}
	}
	if h.Accounting != nil && h.localLedger() {
		if n, err := h.Accounting.Compact(ctx); err != nil {
			h.cfg.Logger.Warn("ledger compaction failed", "service", accounting.Kind, "err", err)
		} else if n > 0 {
			h.cfg.Logger.Debug("compacted ledger history", "segments", n)
		}
	}
	if h.Storage != nil {
		if _, err := h.Storage.Sweep(ctx); err != nil {
			h.cfg.Logger.Warn("upload sweep failed", "service", storage.Kind, "err", err)
		}
	}
	if h.Compute != nil {
		// Settles jobs whose settlement failed, ends jobs past their hold.
		if n, err := h.Compute.Sweep(ctx); err != nil {
			h.cfg.Logger.Warn("compute sweep failed", "err", err)
		} else if n > 0 {
			h.cfg.Logger.Debug("swept jobs", "count", n)
		}
	}
	for kind, svc := range h.services {
		if n, err := svc.Sweep(ctx, sweepBatch); err != nil {
			h.cfg.Logger.Warn("sweep failed", "service", kind, "err", err)
		} else if n > 0 {
			h.cfg.Logger.Debug("swept replay markers", "service", kind, "count", n)
		}
	}
	h.sweepDeployed(ctx)
}

// Close releases the stores.
func (h *Host) Close() {
	h.closeDeployed()
	if h.Accounting != nil {
		_ = h.Accounting.Close() // background ledger writes finish before the stores close
	}
	for _, b := range h.buckets {
		_ = b.Close()
	}
}

// Serve listens on ln until ctx ends, then shuts down gracefully: requests
// in flight finish (up to ShutdownTimeout) before the stores close.
func (h *Host) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{Handler: h.Handler(), ReadTimeout: ReadTimeout, WriteTimeout: WriteTimeout, IdleTimeout: IdleTimeout,
		ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(h.cfg.Logger.Handler(), slog.LevelWarn)}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	go h.sweepLoop(ctx)
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), ShutdownTimeout)
	defer cancel()
	err := srv.Shutdown(sctx)
	if e := <-errc; !errors.Is(e, http.ErrServerClosed) && err == nil {
		err = e
	}
	return err
}

func (h *Host) sweepLoop(ctx context.Context) {
	every := h.cfg.SweepInterval
	if every <= 0 {
		every = SweepInterval
	}
	t := time.NewTicker(max(every, MinSweepInterval))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			h.Sweep(ctx)
		}
	}
}

// SubStoreURL gives each service its own store below the host's: a
// sub-folder for file://, a derived name for mem://.
func SubStoreURL(base, kind string) (string, error) {
	u, err := url.Parse(base)
	if err != nil {
		return "", fmt.Errorf("host: store URL %q: %w", base, err)
	}
	switch u.Scheme {
	case "file":
		u.Path = path.Join(u.Path, kind)
	case "mem":
		u.Host += "-" + kind
	default:
		q := u.Query()
		q.Set("prefix", strings.Trim(q.Get("prefix")+"/"+kind, "/")+"/")
		u.RawQuery = q.Encode()
	}
	return u.String(), nil
}

// localLedger says whether the accounting service's store is local files,
// where compaction saves inodes and disk (on the clouds it would only add
// requests: runtime/ledger/DESIGN.md, "Compaction").
func (h *Host) localLedger() bool {
	su, err := h.storeURL(accounting.Kind)
	return err == nil && (strings.HasPrefix(su, "file:") || !strings.Contains(su, "://"))
}
