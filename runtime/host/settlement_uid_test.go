package host_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/openacquire/acquire/runtime/accounting"
	"github.com/openacquire/acquire/runtime/host"
)

// settlement_peers takes UIDs beside URLs, in the setting (admin API,
// provider) and a function's environment alike; a malformed UID, a
// pre-federation one (no region) and a registry's own UID are refused
// naming the setting, and nothing is applied.
func TestSettlementPeersSettingTakesUIDs(t *testing.T) {
	const uid = "acco-0123456789abcdef@fedcba9876543210"
	value := uid + ", https://us.example/accounting/, " + uid
	v, err := host.CheckSetting(accounting.Kind, host.SettlementPeersSetting, value)
	want := []string{uid, "https://us.example/accounting"}
	if err != nil || v != strings.Join(want, ",") {
		t.Fatalf("checked %q, %v", v, err)
	}
	env := host.SettingsEnv(map[string]string{host.SettlementPeersSetting: v})
	env[host.EnvStoreURL], env[host.EnvPublicURL], env[host.EnvSecret] = "mem://x", "https://fn.example", secret
	cfg, err := host.ConfigFromEnv(func(k string) string { return env[k] })
	if err != nil || !slices.Equal(cfg.SettlementPeers, want) {
		t.Fatalf("function config %v, %v", cfg.SettlementPeers, err)
	}
	for _, bad := range []string{"acco-0123@fedcba9876543210", "acco-0123456789abcdef@FEDCBA9876543210", "acco-0123456789abcdef",
		"regi-fedcba9876543210", "acco-0123456789abcdef@fedcba9876543210x", "ACCO-0123456789abcdef@fedcba9876543210",
		uid + " " + uid, strings.Repeat("a", 600)} {
		_, err := host.CheckSetting(accounting.Kind, host.SettlementPeersSetting, bad)
		if !errors.Is(err, host.ErrSpec) || !strings.Contains(err.Error(), host.SettlementPeersSetting) || len(err.Error()) > 400 {
			t.Errorf("%.40q: %v", bad, err)
		}
		dep := host.Config{SettlementPeers: []string{"https://kept.example/accounting"}}
		if err := host.ApplySettings(&dep, map[string]string{host.SettlementPeersSetting: bad}); err == nil || len(dep.SettlementPeers) != 1 {
			t.Errorf("%.40q applied: %v", bad, dep.SettlementPeers)
		}
	}
	many := make([]string, accounting.MaxSettlementPeers+1)
	for i := range many {
		many[i] = "https://p" + strings.Repeat("x", i%5) + string(rune('a'+i%26)) + ".example/accounting" + strings.Repeat("/x", i/26)
	}
	// (The admin API's setting is capped at MaxSettingBytes first; a
	// function's environment is not.)
	if err := host.ApplySettings(&host.Config{}, map[string]string{host.SettlementPeersSetting: strings.Join(many, ",")}); err == nil ||
		!strings.Contains(err.Error(), "at most") {
		t.Errorf("more than MaxSettlementPeers: %v", err)
	}
}
