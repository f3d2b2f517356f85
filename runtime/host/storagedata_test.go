package host_test

import (
	"strings"
	"testing"

	"github.com/openacquire/acquire/runtime/host"
)

// ACQUIRE_STORAGE_DATA_URL=query turns on data keys in the query (the Fn
// deployer sets it); unset or "path" keeps the path form; anything else
// is refused at start, naming the variable.
func TestStorageDataURLFromEnv(t *testing.T) {
	base := map[string]string{host.EnvStoreURL: "mem://sd", host.EnvPublicURL: "https://fn.example/t/app",
		host.EnvSecret: "a-secret-of-forty-characters-0123456789a"}
	for v, want := range map[string]bool{"": false, "path": false, "query": true} {
		env := map[string]string{host.EnvStorageDataURL: v}
		for k, x := range base {
			env[k] = x
		}
		cfg, err := host.ConfigFromEnv(func(k string) string { return env[k] })
		if err != nil || cfg.StorageDataKeyInQuery != want {
			t.Errorf("%q: in query %v, %v; want %v", v, cfg.StorageDataKeyInQuery, err, want)
		}
	}
	env := map[string]string{host.EnvStorageDataURL: "prefix"}
	for k, x := range base {
		env[k] = x
	}
	if _, err := host.ConfigFromEnv(func(k string) string { return env[k] }); err == nil || !strings.Contains(err.Error(), host.EnvStorageDataURL) {
		t.Errorf("an unknown form: %v", err)
	}
}
