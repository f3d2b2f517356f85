package host_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/openacquire/acquire/runtime/accounting"
	"github.com/openacquire/acquire/runtime/auth"
	"github.com/openacquire/acquire/runtime/crypto"
	"github.com/openacquire/acquire/runtime/host"
	"github.com/openacquire/acquire/runtime/host/hosttest"
	"github.com/openacquire/acquire/runtime/identity"
)

// A deployment without its own identity service trusts none it was not
// told to: a caller naming any identity URL is refused before that URL is
// contacted (no request leaves the service on its say-so).
func TestSingleKindHostTrustsNoIdentityByDefault(t *testing.T) {
	var contacted atomic.Int64
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		contacted.Add(1)
		w.WriteHeader(http.StatusNotFound)
	}))
	t.Cleanup(evil.Close)
	env := hosttest.Start(t, hosttest.Options{Kinds: []string{accounting.Kind}})
	cert, err := crypto.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	bank := env.Accounting()
	victim := "0123456789abcdef0123456789abcdef"
	s := &identity.Session{IdentityURL: evil.URL + "/identity", SessionUID: "s1", UserUID: victim, Username: "x", Cert: cert}
	_, err = bank.ListAccounts(context.Background(), s)
	if !errors.Is(err, auth.ErrIdentityNotTrusted) || !strings.Contains(err.Error(), evil.URL+"/identity is not trusted") {
		t.Fatalf("untrusted identity: %v", err)
	}
	if n := contacted.Load(); n != 0 {
		t.Fatalf("the untrusted identity service was contacted %d times", n)
	}
}

// The trust list reaches a function through its environment and a
// deployment through its settings, checked and canonical.
func TestTrustedIdentitiesSetting(t *testing.T) {
	env := host.SettingsEnv(map[string]string{host.TrustedIdentitiesSetting: "https://id.example/identity,https://peer.example/identity"})
	env[host.EnvStoreURL], env[host.EnvPublicURL], env[host.EnvSecret] = "mem://x", "https://fn.example", secret
	cfg, err := host.ConfigFromEnv(func(k string) string { return env[k] })
	if err != nil || !cfg.TrustedIdentities.Trusts("https://id.example/identity") || len(cfg.TrustedIdentities) != 2 {
		t.Fatalf("config %v, %v", cfg.TrustedIdentities, err)
	}
	for _, bad := range []string{"ftp://id.example/identity", "https://id.example/identity?x=1", "not a url", "https://u:p@id.example/i"} {
		env[host.EnvTrustedIdentities] = bad
		if _, err := host.ConfigFromEnv(func(k string) string { return env[k] }); err == nil {
			t.Errorf("%s=%q accepted", host.EnvTrustedIdentities, bad)
		}
		if _, err := host.CheckSetting(accounting.Kind, host.TrustedIdentitiesSetting, bad); err == nil {
			t.Errorf("setting %q accepted", bad)
		}
	}
	if _, err := host.CheckSetting(identity.Kind, host.TrustedIdentitiesSetting, "https://id.example/identity"); err == nil {
		t.Error("an identity service took a trusted_identities setting")
	}
}

// A cloud function deployed with an admin trusts the admin's identity
// service, as a local deployment does, and nothing else it was not told.
func TestSpecEnvTrustsTheAdminsIdentity(t *testing.T) {
	env, err := host.SpecEnv(host.Spec{Kind: accounting.Kind, Admin: &host.AdminSpec{IdentityURL: "https://id.example/identity", UserUID: "u1"},
		Settings: map[string]string{host.TrustedIdentitiesSetting: "https://peer.example/identity"}})
	if err != nil || env[host.EnvTrustedIdentities] != "https://peer.example/identity,https://id.example/identity" {
		t.Fatalf("env %v, %v", env, err)
	}
	env, err = host.SpecEnv(host.Spec{Kind: accounting.Kind})
	if _, ok := env[host.EnvTrustedIdentities]; err != nil || ok {
		t.Fatalf("a deployment told nothing trusts %q (%v)", env[host.EnvTrustedIdentities], err)
	}
}
