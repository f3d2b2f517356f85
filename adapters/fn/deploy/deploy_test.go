package deploy_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/openacquire/acquire/adapters/deployer"
	"github.com/openacquire/acquire/adapters/dist"
	"github.com/openacquire/acquire/adapters/fn/deploy"
	"github.com/openacquire/acquire/adapters/fn/fnapitest"
	"github.com/openacquire/acquire/runtime/web"
)

const secret = "Fn-Deploy-Test-Secret-0123456789"

type rig struct {
	api      *fnapitest.Server
	registry string
	d        *deploy.Deployer
	artifact string
}

func newRig(t *testing.T) *rig {
	t.Helper()
	api := fnapitest.New()
	t.Cleanup(api.Close)
	reg := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(reg.Close)
	host := strings.TrimPrefix(reg.URL, "http://")
	d, err := deploy.New(deploy.Config{APIURL: api.URL, Registry: host + "/acquire", RegistryInsecure: true})
	if err != nil {
		t.Fatal(err)
	}
	return &rig{api: api, registry: host, d: d, artifact: artifact(t, "amd64", "binary v1")}
}

// artifact is a make dist Fn image holding bin as its entry point.
func artifact(t *testing.T, arch, bin string) string {
	t.Helper()
	var buf bytes.Buffer
	if err := dist.OCIArchive(&buf, "function", arch, []byte(bin)); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "fn-"+arch+".tar")
	if err := os.WriteFile(p, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func (r *rig) spec() deployer.Spec {
	return deployer.Spec{Name: "acq-id", Kinds: []string{"identity", "registry"}, Artifact: r.artifact, Secret: secret,
		StoreURL: "s3://acq-bucket?region=eu-west-1",
		Env:      map[string]string{"ACQUIRE_TRUSTED_SERVICES": "https://a.example/access"},
		Settings: map[string]string{deploy.SettingMemoryMB: "512", deploy.SettingEnvPrefix + "AWS_ACCESS_KEY_ID": "AKIATEST"},
		Function: deployer.Function{Tags: map[string]string{"team": "ledger"}}}
}

// A create makes the app, the function (the pushed image by digest, its
// configuration and limits) and one HTTP trigger per kind, and reads back
// as the same deployment with the secret behind a reference.
func TestCreateReadSecret(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	dep, err := r.d.Create(ctx, r.spec())
	if err != nil {
		t.Fatal(err)
	}
	if dep.URL != r.api.URL+"/t/acq-id" || dep.StoreURL != "s3://acq-bucket?region=eu-west-1" || dep.Name != "acq-id" ||
		!strings.HasPrefix(dep.Version, "sha256:") || strings.Contains(dep.SecretRef, secret) {
		t.Fatalf("deployment %+v", dep)
	}
	var methods []string
	for _, w := range r.api.Writes() {
		methods = append(methods, w.Method+" "+w.Path)
	}
	want := []string{"POST /v2/apps", "POST /v2/fns"}
	for range 2 + len(web.Routes()) {
		want = append(want, "POST /v2/triggers")
	}
	if !reflect.DeepEqual(methods, want) {
		t.Fatalf("writes %q, want %q", methods, want)
	}
	fns := r.api.Fns()
	if len(fns) != 1 {
		t.Fatalf("fns %+v", fns)
	}
	f := fns[0]
	wantCfg := map[string]string{"ACQUIRE_SERVICES": "identity,registry", "ACQUIRE_STORE_URL": "s3://acq-bucket?region=eu-west-1",
		"ACQUIRE_PUBLIC_URL": r.api.URL + "/t/acq-id", "ACQUIRE_SERVICE_SECRET": secret,
		"ACQUIRE_TRUSTED_SERVICES": "https://a.example/access", "AWS_ACCESS_KEY_ID": "AKIATEST"}
	if f.Annotations["team"] != "ledger" {
		t.Fatalf("tags not on the function: %v", f.Annotations)
	}
	if f.Name != deploy.FunctionName || f.Memory != 512 || f.Timeout != deploy.DefaultTimeoutS || !reflect.DeepEqual(f.Config, wantCfg) {
		t.Fatalf("fn %+v", f)
	}
	// The function runs exactly the pushed image.
	ref, err := name.NewDigest(f.Image, name.Insecure)
	if err != nil || !strings.HasPrefix(f.Image, r.registry+"/acquire/acq-id@sha256:") {
		t.Fatalf("image %q: %v", f.Image, err)
	}
	if _, err := remote.Image(ref); err != nil {
		t.Fatalf("the image is not in the registry: %v", err)
	}
	// Fn matches whole paths: /<kind>, and each page and asset of
	// identity's browser pages.
	sources := map[string]string{}
	for _, tr := range r.api.Triggers() {
		if tr.Type != "http" {
			t.Fatalf("trigger %+v", tr)
		}
		sources[tr.Source] = tr.Name
	}
	wantSources := map[string]string{"/identity": "identity", "/registry": "registry", "/identity/web/": "identity-web",
		"/identity/web/login": "identity-web-login", "/identity/web/acquire.js": "identity-web-acquire-js"}
	for src, name := range wantSources {
		if sources[src] != name {
			t.Errorf("trigger for %s: %q, want %q (have %v)", src, sources[src], name, sources)
		}
	}
	if len(sources) != 2+len(web.Routes()) {
		t.Errorf("%d triggers, want %d", len(sources), 2+len(web.Routes()))
	}
	got, err := r.d.Read(ctx, "acq-id")
	if err != nil || got != dep {
		t.Fatalf("read %+v %v, want %+v", got, err, dep)
	}
	if s, err := r.d.Secret(ctx, "acq-id"); err != nil || s != secret {
		t.Fatalf("secret: %v", err)
	}
	if _, err := r.d.Read(ctx, "acq-other"); !errors.Is(err, deployer.ErrNotFound) {
		t.Fatalf("read of nothing: %v", err)
	}
	if _, err := r.d.Secret(ctx, "acq-other"); !errors.Is(err, deployer.ErrNotFound) {
		t.Fatalf("secret of nothing: %v", err)
	}
}

// Applying the same spec again writes nothing; a changed spec changes only
// what differs, and a configuration key no longer wanted is removed.
func TestIdempotentAndMinimalUpdate(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	s := r.spec()
	if _, err := r.d.Create(ctx, s); err != nil {
		t.Fatal(err)
	}
	n := len(r.api.Writes())
	if _, err := r.d.Create(ctx, s); err != nil {
		t.Fatal(err)
	}
	if _, err := r.d.Update(ctx, s); err != nil {
		t.Fatal(err)
	}
	if w := r.api.Writes(); len(w) != n {
		t.Fatalf("a repeated apply wrote %+v", w[n:])
	}
	s.Kinds = []string{"identity", "accounting"}
	s.Env = nil
	s.Settings[deploy.SettingTimeoutS] = "120"
	s.Artifact = artifact(t, "arm64", "binary v2")
	dep, err := r.d.Update(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	var methods []string
	for _, w := range r.api.Writes()[n:] {
		methods = append(methods, w.Method+" "+strings.Split(w.Path, "/")[2])
	}
	want := []string{"PUT fns", "POST triggers", "DELETE triggers"}
	if !reflect.DeepEqual(methods, want) { // identity's web triggers stay
		t.Fatalf("update wrote %q, want %q", methods, want)
	}
	put := r.api.Writes()[n]
	if cfg, _ := put.Body["config"].(map[string]any); cfg["ACQUIRE_TRUSTED_SERVICES"] != "" {
		t.Fatalf("a dropped key was not removed: %v", put.Body)
	}
	f := r.api.Fns()[0]
	if f.Timeout != 120 || f.Config["ACQUIRE_SERVICES"] != "identity,accounting" || f.Config["ACQUIRE_TRUSTED_SERVICES"] != "" ||
		!strings.HasSuffix(f.Image, dep.Version) {
		t.Fatalf("fn after update %+v", f)
	}
	var sources []string
	for _, tr := range r.api.Triggers() {
		if !strings.HasPrefix(tr.Source, "/identity/web/") {
			sources = append(sources, tr.Source)
		}
	}
	if !reflect.DeepEqual(sources, []string{"/accounting", "/identity"}) {
		t.Fatalf("triggers %q", sources)
	}
}

// Delete removes the triggers, the function and the app; a second delete
// and a delete of nothing succeed.
func TestDelete(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	if _, err := r.d.Create(ctx, r.spec()); err != nil {
		t.Fatal(err)
	}
	if err := r.d.Delete(ctx, "acq-id", false); err != nil {
		t.Fatal(err)
	}
	if apps, fns, trs := r.api.Counts(); apps+fns+trs != 0 {
		t.Fatalf("left %d apps, %d fns, %d triggers", apps, fns, trs)
	}
	if _, err := r.d.Read(ctx, "acq-id"); !errors.Is(err, deployer.ErrNotFound) {
		t.Fatalf("read after delete: %v", err)
	}
	if err := r.d.Delete(ctx, "acq-id", false); err != nil {
		t.Fatalf("second delete: %v", err)
	}
}

// Bad specs are refused with the field named, before any call, and no
// error quotes the secret.
func TestBadSpecsChangeNothing(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	bad := map[string]func(*deployer.Spec){
		"name":               func(s *deployer.Spec) { s.Name = "Bad_Name" },
		"no kinds":           func(s *deployer.Spec) { s.Kinds = nil },
		"storage data env":   func(s *deployer.Spec) { s.Env = map[string]string{"ACQUIRE_STORAGE_DATA_URL": "path"} },
		"repeated kind":      func(s *deployer.Spec) { s.Kinds = []string{"identity", "identity"} },
		"no secret":          func(s *deployer.Spec) { s.Secret = "" },
		"env secret":         func(s *deployer.Spec) { s.Env = map[string]string{"X": "pre" + secret} },
		"env reserved":       func(s *deployer.Spec) { s.Env = map[string]string{"ACQUIRE_SERVICE_SECRET": "x"} },
		"env fn":             func(s *deployer.Spec) { s.Env = map[string]string{"FN_LISTENER": "unix:/x"} },
		"no artifact":        func(s *deployer.Spec) { s.Artifact = "" },
		"bad artifact":       func(s *deployer.Spec) { s.Artifact = "/dev/null" },
		"no store":           func(s *deployer.Spec) { s.StoreURL = "" },
		"file store":         func(s *deployer.Spec) { s.Settings[deploy.SettingStoreURL] = "file:///data" },
		"store creds":        func(s *deployer.Spec) { s.Settings[deploy.SettingStoreURL] = "s3://key:" + secret + "@bucket" },
		"file store url":     func(s *deployer.Spec) { s.StoreURL = "file:///data" },
		"store url creds":    func(s *deployer.Spec) { s.StoreURL = "s3://key:" + secret + "@bucket" },
		"memory":             func(s *deployer.Spec) { s.Settings[deploy.SettingMemoryMB] = "9000" },
		"timeout":            func(s *deployer.Spec) { s.Settings[deploy.SettingTimeoutS] = "301" },
		"unknown":            func(s *deployer.Spec) { s.Settings["memory"] = "512" },
		"checksum":           func(s *deployer.Spec) { s.Function.ArtifactSHA256 = strings.Repeat("0", 64) },
		"fn memory":          func(s *deployer.Spec) { s.Function.MemoryMB = 10 },
		"fn timeout":         func(s *deployer.Spec) { s.Function.TimeoutS = 900 },
		"instances":          func(s *deployer.Spec) { s.Function.MaxInstances = 3 },
		"public url":         func(s *deployer.Spec) { s.Function.PublicURL = "https://id.example" },
		"env setting":        func(s *deployer.Spec) { s.Settings["env:FN_FORMAT"] = "json" },
		"env setting secret": func(s *deployer.Spec) { s.Settings["env:X"] = secret },
		"store differs":      func(s *deployer.Spec) { s.Settings[deploy.SettingStoreURL] = "s3://other" },
	}
	for what, mutate := range bad {
		s := r.spec()
		mutate(&s)
		_, err := r.d.Create(ctx, s)
		if !errors.Is(err, deploy.ErrInvalidSpec) {
			t.Errorf("%s: %v, want ErrInvalidSpec", what, err)
		}
		if err != nil && strings.Contains(err.Error(), secret) {
			t.Errorf("%s: the error quotes the secret", what)
		}
	}
	if w := r.api.Writes(); len(w) != 0 {
		t.Fatalf("bad specs wrote %+v", w)
	}
	for _, cfg := range []deploy.Config{{Registry: "r/x"}, {APIURL: "ftp://x", Registry: "r/x"}, {APIURL: "http://u:p@x", Registry: "r/x"},
		{APIURL: "http://x", Registry: "https://r/x"}} {
		if _, err := deploy.New(cfg); !errors.Is(err, deploy.ErrInvalidSpec) {
			t.Errorf("config %+v: %v", cfg, err)
		}
	}
	// Without a registry a deployer reads (an import) but cannot push.
	d, err := deploy.New(deploy.Config{APIURL: r.api.URL})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Create(ctx, r.spec()); !errors.Is(err, deploy.ErrInvalidSpec) || !strings.Contains(err.Error(), "Config.Registry") {
		t.Errorf("Create without a registry: %v", err)
	}
	if w := r.api.Writes(); len(w) != 0 {
		t.Fatalf("a create without a registry wrote %+v", w)
	}
}

// An error answer that echoes the secret does not carry it into the
// deployer's error.
func TestAPIErrorsRedactTheSecret(t *testing.T) {
	r := newRig(t)
	r.api.Fail(http.StatusInternalServerError, "database said no to config "+secret)
	_, err := r.d.Create(context.Background(), r.spec())
	var ae *deploy.APIError
	if !errors.As(err, &ae) || ae.Status != http.StatusInternalServerError {
		t.Fatalf("error %v", err)
	}
	if strings.Contains(err.Error(), secret) {
		t.Fatalf("the error quotes the secret: %v", err)
	}
}

// List names only the deployments this deployer made, by prefix.
func TestList(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	if _, err := r.d.Create(ctx, r.spec()); err != nil {
		t.Fatal(err)
	}
	other := r.spec()
	other.Name = "zz-other"
	if _, err := r.d.Create(ctx, other); err != nil {
		t.Fatal(err)
	}
	// An app someone else made, with a matching name, is not the sweeper's.
	resp, err := http.Post(r.api.URL+"/v2/apps", "application/json", strings.NewReader(`{"name":"acq-foreign"}`))
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("foreign app: %v %v", resp, err)
	}
	_ = resp.Body.Close()
	names, err := r.d.List(ctx, "acq-")
	if err != nil || !reflect.DeepEqual(names, []string{"acq-id"}) {
		t.Fatalf("list: %q %v", names, err)
	}
}
