package host_test

import (
	"slices"
	"testing"

	"github.com/openacquire/acquire/runtime/accounting"
	"github.com/openacquire/acquire/runtime/host"
)

// An accounting service's settlement peers come from its settings (the
// admin API, the provider) or its function environment, checked as URLs.
func TestSettlementPeersSetting(t *testing.T) {
	peers := "https://us.example/accounting, https://ap.example/accounting"
	var cfg host.Config
	if err := host.ApplySettings(&cfg, map[string]string{host.SettlementPeersSetting: peers}); err != nil {
		t.Fatal(err)
	}
	want := []string{"https://us.example/accounting", "https://ap.example/accounting"}
	if !slices.Equal(cfg.SettlementPeers, want) {
		t.Fatalf("settings: %v", cfg.SettlementPeers)
	}
	if err := host.ApplySettings(&cfg, map[string]string{host.SettlementPeersSetting: "ftp://x/accounting"}); err == nil {
		t.Fatal("a non-http peer was taken")
	}
	if _, err := host.CheckSetting(accounting.Kind, host.SettlementPeersSetting, peers); err != nil {
		t.Fatalf("accounting refuses the setting: %v", err)
	}
	if _, err := host.CheckSetting("storage", host.SettlementPeersSetting, peers); err == nil {
		t.Fatal("storage took a settlement setting")
	}
	env := map[string]string{host.EnvStoreURL: "mem://x", host.EnvPublicURL: "https://eu.example", host.EnvSecret: "Function-Secret-For-Tests-1",
		host.EnvSettlementPeers: peers}
	fc, err := host.ConfigFromEnv(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(fc.SettlementPeers, want) {
		t.Fatalf("environment: %v", fc.SettlementPeers)
	}
}
