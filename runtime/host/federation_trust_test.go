package host_test

import (
	"slices"
	"testing"

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
