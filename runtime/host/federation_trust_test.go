package host_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/openacquire/acquire/runtime/auth"
	"github.com/openacquire/acquire/runtime/call"
	"github.com/openacquire/acquire/runtime/ledger"
	"github.com/openacquire/acquire/runtime/service"
	"github.com/openacquire/acquire/runtime/store"

	"github.com/openacquire/acquire/runtime/accounting"
	"github.com/openacquire/acquire/runtime/compute"
	"github.com/openacquire/acquire/runtime/host"
)

// A function (any cloud) trusts the services its trusted_services setting
// names, as a local deployment trusts what acquire_trust added, and
// nothing by default; a malformed list stops it from starting.
func TestTrustedServicesSettingReachesFunctions(t *testing.T) {
	const peerAccess = "https://us.example/access"
	spec := host.Spec{Kind: accounting.Kind, Settings: map[string]string{
		host.TrustedServicesSetting: peerAccess + "/, https://us.example/storage"}}
	if err := spec.CheckSettings(); err != nil { // as the admin API and the provider do first
		t.Fatal(err)
	}
	env, err := host.SpecEnv(spec)
	if err != nil {
		t.Fatal(err)
	}
	if env[host.EnvTrustedServices] != peerAccess+",https://us.example/storage" {
		t.Fatalf("env %v", env)
	}
	env[host.EnvStoreURL], env[host.EnvPublicURL], env[host.EnvSecret] = "mem://x", "https://fn.example", secret
	cfg, err := host.ConfigFromEnv(func(k string) string { return env[k] })
	if err != nil || len(cfg.TrustedServices) != 2 || !slices.Contains(cfg.TrustedServices, peerAccess) {
		t.Fatalf("config %v, %v", cfg.TrustedServices, err)
	}
	delete(env, host.EnvTrustedServices)
	if cfg, err = host.ConfigFromEnv(func(k string) string { return env[k] }); err != nil || len(cfg.TrustedServices) != 0 {
		t.Fatalf("told nothing, a function trusts %v (%v)", cfg.TrustedServices, err)
	}
	env[host.EnvTrustedServices] = "ftp://x.example/a"
	if _, err := host.ConfigFromEnv(func(k string) string { return env[k] }); err == nil {
		t.Fatal("a malformed trusted services list was taken")
	}
	if _, err := host.CheckSetting(compute.Kind, host.TrustedServicesSetting, peerAccess); err == nil {
		t.Fatal("a compute service took a trusted_services setting")
	}
}

// A function (as Lambda, Cloud Run or Azure Functions run it) lets act in
// their own name exactly the services ACQUIRE_TRUSTED_SERVICES names: a
// peer region's service so named opens an account at its accounting
// service; another is refused with ServiceNotTrustedError naming it.
func TestFunctionTrustsOnlyItsTrustedServices(t *testing.T) {
	ctx := context.Background()
	serve := func(h http.Handler) (string, func(http.Handler)) {
		sw := &swap{}
		sw.set(h)
		srv := httptest.NewServer(sw)
		t.Cleanup(srv.Close)
		return srv.URL, sw.set
	}
	peerBase, setPeer := serve(http.NotFoundHandler())
	strangerBase, setStranger := serve(http.NotFoundHandler())
	peer, stranger := newBareService(t, peerBase+"/access"), newBareService(t, strangerBase+"/access")
	setPeer(peer)
	setStranger(stranger)

	fnBase, setFn := serve(http.NotFoundHandler())
	env := map[string]string{host.EnvServices: accounting.Kind, host.EnvStoreURL: "mem://fn-trust-" + service.NewID(),
		host.EnvPublicURL: fnBase, host.EnvSecret: secret, host.EnvTrustedServices: peer.URL()}
	cfg, err := host.ConfigFromEnv(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	fn := &host.Lazy{Config: cfg}
	t.Cleanup(fn.Close)
	setFn(fn)
	c := call.NewClient(&call.MemoryPins{})
	acc := &accounting.Client{C: c, URL: fnBase + "/accounting"}
	if _, err := acc.CreateAccount(ctx, peer, "takings", ledger.MustParse("0")); err != nil {
		t.Fatalf("the trusted peer service: %v", err)
	}
	_, err = acc.CreateAccount(ctx, stranger, "takings", ledger.MustParse("0"))
	if !errors.Is(err, auth.ErrServiceNotTrusted) || !strings.Contains(err.Error(), stranger.URL()) {
		t.Fatalf("an untrusted service: %v", err)
	}
}

type swap struct {
	mu sync.Mutex
	h  http.Handler
}

func (s *swap) set(h http.Handler) { s.mu.Lock(); s.h = h; s.mu.Unlock() }

func (s *swap) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	h := s.h
	s.mu.Unlock()
	h.ServeHTTP(w, r)
}

func newBareService(t *testing.T, u string) *service.Service {
	t.Helper()
	b, err := store.Open(context.Background(), "mem://bare-"+service.NewID())
	if err != nil {
		t.Fatal(err)
	}
	svc, err := service.New(context.Background(), service.Config{Kind: "access", URL: u, Bucket: b, Secret: secret})
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

// settlement_peers reaches a deployment's accounting service and a
// function's environment alike, checked; other kinds refuse it.
func TestSettlementPeersReachDeploymentsAndFunctions(t *testing.T) {
	const peer = "https://us.example/accounting"
	v, err := host.CheckSetting(accounting.Kind, host.SettlementPeersSetting, peer+"/")
	if err != nil || v != peer {
		t.Fatalf("checked %q, %v", v, err)
	}
	env := host.SettingsEnv(map[string]string{host.SettlementPeersSetting: v})
	env[host.EnvStoreURL], env[host.EnvPublicURL], env[host.EnvSecret] = "mem://x", "https://fn.example", secret
	cfg, err := host.ConfigFromEnv(func(k string) string { return env[k] })
	if err != nil || !slices.Equal(cfg.SettlementPeers, []string{peer}) {
		t.Fatalf("config %v, %v", cfg.SettlementPeers, err)
	}
	var dep host.Config
	if err := host.ApplySettings(&dep, map[string]string{host.SettlementPeersSetting: v}); err != nil || !slices.Equal(dep.SettlementPeers, []string{peer}) {
		t.Fatalf("deployment config %v, %v", dep.SettlementPeers, err)
	}
	for _, bad := range []string{"ftp://x/accounting", "not a url"} {
		if _, err := host.CheckSetting(accounting.Kind, host.SettlementPeersSetting, bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	if _, err := host.CheckSetting("storage", host.SettlementPeersSetting, peer); err == nil {
		t.Error("a storage service took settlement_peers")
	}
}
