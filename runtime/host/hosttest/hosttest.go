// Package hosttest starts an in-process host on a loopback HTTP server for
// tests, with a clock the test controls.
package hosttest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net"
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/openacquire/acquire/runtime/accounting"
	"github.com/openacquire/acquire/runtime/call"
	"github.com/openacquire/acquire/runtime/crypto"
	"github.com/openacquire/acquire/runtime/host"
	"github.com/openacquire/acquire/runtime/identity"
	"github.com/openacquire/acquire/runtime/registry"
)

// Clock is a settable clock shared by the host and its clients.
type Clock struct {
	mu sync.Mutex
	d  time.Duration // offset from the real clock
}

// Now is the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.d)
}

// Advance moves the clock forward (or back, with a negative d).
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.d += d
	c.mu.Unlock()
}

// Env is a running host and a client for it.
type Env struct {
	Host   *host.Host
	URL    string
	Clock  *Clock
	Client *call.Client
	Store  string
}

// Options for Start.
type Options struct {
	StoreURL string   // default: a fresh mem:// store
	Kinds    []string // default: DefaultKinds; host.Kinds runs every kind (accounting too)
	// AdminToken enables the host's admin API; with NoServices the host
	// runs only what is deployed through it.
	AdminToken string
	NoServices bool
	// TrustedIdentities are identity services beyond the host's own whose
	// users may act on it (host.Config.TrustedIdentities).
	TrustedIdentities []string
	// SettlementPeers are other hosts' accounting URLs to settle with
	// (host.Config.SettlementPeers); Listener, when set, is where the host
	// serves, so two hosts can name each other before either starts.
	SettlementPeers []string
	Listener        net.Listener
	// SettlementKeysPinnedByURL: host.Config.SettlementKeysPinnedByURL.
	SettlementKeysPinnedByURL bool
}

// DefaultKinds are the kinds Start runs when Options.Kinds is empty: the
// foundation services. Tests of later services (accounting) ask for them
// by kind, e.g. Options{Kinds: host.Kinds}, so tests that count the
// registered services keep their expectations.
var DefaultKinds = []string{registry.Kind, identity.Kind}

// Secret is the service secret of every host Start runs: tests that check
// what the secret may (not) be guessed from need it.
const Secret = "Hosttest-Service-Secret-1"

// Start runs a host until the test ends.
func Start(t testing.TB, o Options) *Env {
	t.Helper()
	ln := o.Listener
	if ln == nil {
		var err error
		if ln, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
	}
	if o.StoreURL == "" {
		o.StoreURL = "mem://hosttest-" + randomName()
	}
	if len(o.Kinds) == 0 {
		o.Kinds = DefaultKinds
	}
	clock := &Clock{}
	base := "http://" + ln.Addr().String()
	ctx := context.Background()
	cfg := host.Config{Kinds: o.Kinds, StoreURL: o.StoreURL, PublicURL: base, Secret: Secret,
		Password: crypto.DefaultPasswordParams, AdminToken: o.AdminToken, NoServices: o.NoServices,
		TrustedIdentities: o.TrustedIdentities, SettlementPeers: o.SettlementPeers, SettlementKeysPinnedByURL: o.SettlementKeysPinnedByURL}
	h, err := host.NewWithClock(ctx, cfg, clock.Now)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close(); h.Close() })
	if err := h.Register(ctx); err != nil {
		t.Fatal(err)
	}
	c := call.NewClient(&call.MemoryPins{})
	c.Clock = clock.Now
	return &Env{Host: h, URL: base, Clock: clock, Client: c, Store: o.StoreURL}
}

// Identity is a typed client of the host's identity service.
func (e *Env) Identity() *identity.Client {
	return &identity.Client{C: e.Client, URL: e.Host.ServiceURL(identity.Kind)}
}

// Accounting is a typed client of the host's accounting service.
func (e *Env) Accounting() *accounting.Client {
	return &accounting.Client{C: e.Client, URL: e.Host.ServiceURL(accounting.Kind)}
}

func randomName() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Users registers each name with password and logs each in with a
// one-time code from its authenticator secret, and returns the sessions
// by name. The clock first moves to the start of a fresh 30 s step so no
// code straddles a step boundary.
func (e *Env) Users(t testing.TB, password string, names ...string) map[string]*identity.Session {
	t.Helper()
	ctx := context.Background()
	id := e.Identity()
	secrets := map[string]string{}
	for _, u := range names {
		reg, err := id.Register(ctx, u, password)
		if err != nil {
			t.Fatal(err)
		}
		pu, err := url.Parse(reg.ProvisioningURI)
		if err != nil {
			t.Fatal(err)
		}
		secrets[u] = pu.Query().Get("secret")
	}
	now := e.Clock.Now()
	e.Clock.Advance(30*time.Second - time.Duration(now.UnixNano()%int64(30*time.Second)) + time.Second)
	out := map[string]*identity.Session{}
	for _, u := range names {
		code, err := crypto.TOTPCode(secrets[u], e.Clock.Now())
		if err != nil {
			t.Fatal(err)
		}
		if out[u], _, err = id.Login(ctx, u, password, identity.LoginOptions{OTP: code}); err != nil {
			t.Fatal(err)
		}
	}
	return out
}
