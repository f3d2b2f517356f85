package deploy

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	azfake "github.com/Azure/azure-sdk-for-go/sdk/azcore/fake"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"

	"github.com/openacquire/acquire/adapters/deployer"
)

func TestBadSpecsAreTypedErrors(t *testing.T) {
	base := func() deployer.Spec {
		return deployer.Spec{Name: "acq-identity", Kinds: []string{"identity"}, Location: "westeurope",
			Bucket: "acq-store", Artifact: "x.zip", Secret: testSecret,
			Settings: map[string]string{SettingStorageAccount: "acqstore1", SettingKeyVault: "acq-kv"}}
	}
	cases := map[string]func(*deployer.Spec){
		"Name":                      func(s *deployer.Spec) { s.Name = "Acq_Identity" },
		"Kinds":                     func(s *deployer.Spec) { s.Kinds = nil },
		"Location":                  func(s *deployer.Spec) { s.Location = "" },
		"Bucket":                    func(s *deployer.Spec) { s.Bucket = "A" },
		"Artifact":                  func(s *deployer.Spec) { s.Artifact = "" },
		"Secret":                    func(s *deployer.Spec) { s.Secret = "" },
		"Settings.storageAccount":   func(s *deployer.Spec) { delete(s.Settings, SettingStorageAccount) },
		"Settings.keyVault":         func(s *deployer.Spec) { s.Settings[SettingKeyVault] = "x" },
		"Env":                       func(s *deployer.Spec) { s.Env = map[string]string{"ACQUIRE_SERVICE_SECRET": testSecret} },
		"Settings.httpConcurrency":  func(s *deployer.Spec) { s.Settings[SettingHTTPConcurrency] = "0" },
		"Function.MemoryMB":         func(s *deployer.Spec) { s.Function.MemoryMB = 1024 },
		"Function.MaxInstances":     func(s *deployer.Spec) { s.Function.MaxInstances = 1001 },
		"Function.TimeoutS":         func(s *deployer.Spec) { s.Function.TimeoutS = 231 },
		"Function.LogRetentionDays": func(s *deployer.Spec) { s.Function.LogRetentionDays = 7 },
		"Function.Tags":             func(s *deployer.Spec) { s.Function.Tags = map[string]string{"a/b": "x"} },
	}
	for field, mutate := range cases {
		s := base()
		mutate(&s)
		_, err := validate(s)
		var se *SpecError
		if field == "Settings.httpConcurrency" && errors.As(err, &se) && se.Field == SettingHTTPConcurrency {
			continue
		}
		if !errors.As(err, &se) || se.Field != field {
			t.Errorf("%s: err = %v", field, err)
		}
		if err != nil && strings.Contains(err.Error(), testSecret) {
			t.Errorf("%s: the error carries the secret", field)
		}
	}
}

func TestArtifactMustBeAZip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "not.zip")
	if err := os.WriteFile(path, []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	var se *SpecError
	if _, _, err := readArtifact(path); !errors.As(err, &se) || se.Field != "Artifact" {
		t.Errorf("readArtifact = %v", err)
	}
	if _, _, err := readArtifact(filepath.Join(t.TempDir(), "missing.zip")); !errors.As(err, &se) {
		t.Errorf("readArtifact(missing) = %v", err)
	}
}

// A Key Vault refusal stops Create before the app exists, and its error
// does not carry the secret.
func TestKeyVaultRefusalDoesNotLeakTheSecret(t *testing.T) {
	c := newCloud()
	c.failKV = true
	d, err := New(Options{Subscription: "sub-1", ResourceGroup: "rg-1", Credential: &azfake.TokenCredential{}, Transport: c,
		BlobClient: func(string) (*azblob.Client, error) { return nil, errors.New("no blob service in this test") }})
	if err != nil {
		t.Fatal(err)
	}
	s := base(t)
	if err := d.setSecret(context.Background(), s, nil); err == nil || strings.Contains(err.Error(), testSecret) {
		t.Errorf("setSecret = %v", err)
	}
	if len(c.sites) != 0 {
		t.Error("an app was created")
	}
}

func base(t *testing.T) target {
	t.Helper()
	tg, err := validate(deployer.Spec{Name: "acq-identity", Kinds: []string{"identity"}, Location: "westeurope",
		Bucket: "acq-store", Artifact: "x.zip", Secret: testSecret,
		Settings: map[string]string{SettingStorageAccount: "acqstore1", SettingKeyVault: "acq-kv"}})
	if err != nil {
		t.Fatal(err)
	}
	return tg
}

// The settings and sizes the provider checks at plan, by these rules.
func TestCheckSettingAndFunction(t *testing.T) {
	for _, c := range []struct {
		key, v string
		ok     bool
	}{
		{SettingHTTPConcurrency, "1", true}, {SettingHTTPConcurrency, "1000", true}, {SettingHTTPConcurrency, "1001", false},
		{SettingHTTPConcurrency, "01", false}, {SettingHTTPConcurrency, "-1", false}, {SettingHTTPConcurrency, "", false},
		{SettingKeyVault, "acq-kv", true}, {"nosuch", "x", false},
	} {
		if err := CheckSetting(c.key, c.v); (err == nil) != c.ok {
			t.Errorf("CheckSetting(%s, %q) = %v", c.key, c.v, err)
		}
	}
	for _, mb := range []int64{0, 512, 2048, 4096} {
		if err := CheckFunction(deployer.Function{MemoryMB: mb}); err != nil {
			t.Errorf("memory %d: %v", mb, err)
		}
	}
	many := map[string]string{}
	for i := range MaxTags + 1 {
		many[fmt.Sprintf("k%d", i)] = "v"
	}
	if err := CheckFunction(deployer.Function{Tags: many}); err == nil {
		t.Error("too many tags accepted")
	}
	// Key Vault keeps at most 15 tags on a secret: the deployer's own first.
	got := secretTags(ownTags(target{Spec: deployer.Spec{Kinds: []string{"identity"}, Function: deployer.Function{Tags: many}}}, "d"))
	if len(got) != 15 || got[tagVersion] != "d" {
		t.Errorf("secret tags = %v", got)
	}
}

// A name whose package container would be no valid container is refused.
func TestNameWithDoubleDashIsRefused(t *testing.T) {
	if err := validateName("acq--identity"); err == nil {
		t.Error("acq--identity accepted: its package container name is invalid")
	}
}
