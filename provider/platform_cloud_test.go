package provider

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"

	awsdeploy "github.com/openacquire/acquire/adapters/aws/deploy"
	azuredeploy "github.com/openacquire/acquire/adapters/azure/deploy"
	"github.com/openacquire/acquire/adapters/deployer"
	"github.com/openacquire/acquire/runtime/call"
	"github.com/openacquire/acquire/runtime/host"
	"github.com/openacquire/acquire/runtime/registry"
	"github.com/openacquire/acquire/runtime/store"
)

// fakeDeployer is a cloud at the deployer boundary: Create runs the
// function in-process (host.Lazy configured from the environment a
// platform passes, through host.ConfigFromEnv as the real entry points
// do) over a folder store named by the bucket. It records every spec.
type fakeDeployer struct {
	dir   string
	clock func() time.Time
	mu    sync.Mutex
	live  map[string]*fakeFunction
	specs []deployer.Spec
	// secrets is the platform's secret store: what Create and Update
	// put, by deployment name.
	secrets map[string]string
	// tags are each deployment's tags as the last Create or Update set
	// them (a test changes them to play drift).
	tags map[string]map[string]string
	// storeURL, when set, is a bucket's store URL (a real store server);
	// default a folder under dir.
	storeURL func(bucket string) string
}

type fakeFunction struct {
	srv     *httptest.Server
	handler atomic.Pointer[host.Lazy]
	dep     deployer.Deployment
}

func newFakeDeployer(t *testing.T, clock func() time.Time) *fakeDeployer {
	f := &fakeDeployer{dir: t.TempDir(), clock: clock, live: map[string]*fakeFunction{}, secrets: map[string]string{},
		tags: map[string]map[string]string{}}
	t.Cleanup(func() {
		f.mu.Lock()
		defer f.mu.Unlock()
		for name := range f.live {
			f.stop(name)
		}
	})
	return f
}

// load runs the spec's function config on fn (a new instance, as a
// platform does on a code or configuration change).
func (f *fakeDeployer) load(fn *fakeFunction, s deployer.Spec) error {
	env := map[string]string{host.EnvServices: strings.Join(s.Kinds, ","), host.EnvStoreURL: fn.dep.StoreURL,
		host.EnvPublicURL: fn.dep.URL, host.EnvSecret: s.Secret}
	for k, v := range s.Env {
		env[k] = v
	}
	cfg, err := host.ConfigFromEnv(func(k string) string { return env[k] })
	if err != nil {
		return err
	}
	if old := fn.handler.Swap(&host.Lazy{Config: cfg, Clock: f.clock}); old != nil {
		old.Close()
	}
	return nil
}

func (f *fakeDeployer) Create(ctx context.Context, s deployer.Spec) (deployer.Deployment, error) {
	done := deployer.Step(ctx, "start_function", "bucket", s.Bucket) // as a real deployer reports its steps
	defer done(nil)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.specs = append(f.specs, s)
	f.secrets[s.Name] = s.Secret
	f.tags[s.Name] = maps.Clone(s.Function.Tags)
	if fn := f.live[s.Name]; fn != nil {
		return fn.dep, nil
	}
	fn := &fakeFunction{}
	fn.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fn.handler.Load().ServeHTTP(w, r)
	}))
	su := "file://" + filepath.Join(f.dir, s.Bucket)
	if f.storeURL != nil {
		su = f.storeURL(s.Bucket)
	}
	fn.dep = deployer.Deployment{Name: s.Name, URL: fn.srv.URL, StoreURL: su,
		SecretRef: "fake-secrets/" + s.Name, Version: "v1", Services: strings.Join(s.Kinds, ",")}
	if err := f.load(fn, s); err != nil {
		fn.srv.Close()
		return deployer.Deployment{}, err
	}
	f.live[s.Name] = fn
	return fn.dep, nil
}

func (f *fakeDeployer) Read(_ context.Context, name string) (deployer.Deployment, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if fn := f.live[name]; fn != nil {
		return fn.dep, nil
	}
	return deployer.Deployment{}, deployer.ErrNotFound
}

func (f *fakeDeployer) Update(_ context.Context, s deployer.Spec) (deployer.Deployment, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.specs = append(f.specs, s)
	fn := f.live[s.Name]
	if fn == nil {
		return deployer.Deployment{}, deployer.ErrNotFound
	}
	f.secrets[s.Name] = s.Secret
	f.tags[s.Name] = maps.Clone(s.Function.Tags)
	return fn.dep, f.load(fn, s)
}

// Tags makes the fake a deployer.TagReader.
func (f *fakeDeployer) Tags(_ context.Context, name string) (map[string]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.live[name] == nil {
		return nil, deployer.ErrNotFound
	}
	out := maps.Clone(f.tags[name])
	if out == nil {
		out = map[string]string{}
	}
	return out, nil
}

// secretValues are every secret the deployer was given.
func (f *fakeDeployer) secretValues() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, s := range f.specs {
		out = append(out, s.Secret)
	}
	return out
}

func (f *fakeDeployer) Secret(_ context.Context, name string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if s, ok := f.secrets[name]; ok {
		return s, nil
	}
	return "", deployer.ErrNotFound
}

func (f *fakeDeployer) Delete(_ context.Context, name string, deleteData bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn := f.live[name]
	if fn == nil {
		return deployer.ErrNotFound
	}
	f.stop(name)
	delete(f.secrets, name)
	if deleteData {
		return os.RemoveAll(strings.TrimPrefix(fn.dep.StoreURL, "file://"))
	}
	return nil
}

func (f *fakeDeployer) stop(name string) {
	fn := f.live[name]
	fn.srv.Close()
	fn.handler.Load().Close()
	delete(f.live, name)
}

func (f *fakeDeployer) url(name string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if fn := f.live[name]; fn != nil {
		return fn.dep.URL
	}
	return ""
}

// testArtifact is a stand-in make dist artifact (an empty zip) named as
// make dist names it: plans check that it exists.
func testArtifact(t *testing.T, name string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte("PK\x05\x06"+strings.Repeat("\x00", 18)), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func cloudConfig(t *testing.T, hostURL, password, version, artifact string) string {
	return providerBlock("") + fmt.Sprintf(`
provider "acquire" {
  host_url     = %q
  default_tags = { owner = "platform", team = "overridden" }
}

resource "acquire_service" "registry" {
  name = "registry"
  kind = "registry"
}

resource "acquire_service" "identity" {
  name                   = "ident"
  kind                   = "identity"
  registry               = acquire_service.registry.url
  admin_username         = "root"
  admin_enrolment_file   = %q
  %s
  admin_password_version = %q
  platform {
    aws {
      region    = "us-east-1"
      artifact  = %q
      memory_mb = 512
      tags      = { team = "ledger" }
    }
  }
  store    = { s3 = { bucket = "ident-bucket" } }
}
`, hostURL, enrolmentFile(), adminPasswordAttr(t, password), version, artifact)
}

// TestAccServiceOnCloudPlatform runs acquire_service on a cloud platform
// through the deployer interface (a fake cloud running the real function
// handler in-process), registered with a registry on the local platform:
// create (keys, registration, first admin through the service's store),
// update in place (password rotation), drift, destroy keeping data. The
// real deployers are tested at their SDK boundary in adapters/*/deploy;
// nothing here ran against a live cloud.
func TestAccServiceOnCloudPlatform(t *testing.T) {
	forEachEngine(t, func(t *testing.T) {
		h := startAdminHost(t)
		t.Setenv(EnvSecretSeed, "test-seed-for-cloud-secrets") // the drift step re-creates on kept data
		fake := newFakeDeployer(t, h.env.Clock.Now)
		saved := newDeployer
		newDeployer = func(context.Context, cloudBlock) (deployer.Deployer, error) { return fake, nil }
		artifact := testArtifact(t, "aws-lambda-arm64.zip")
		t.Cleanup(func() { newDeployer = saved })
		ctx := context.Background()
		var otpURI string // shown once, by the apply that created the admin
		resource.Test(t, resource.TestCase{
			ProtoV6ProviderFactories: testAccProviders,
			Steps: scanEveryApply([]resource.TestStep{
				{
					Config: providerBlock(h.env.URL) + `resource "acquire_service" "x" {
  name     = "wrongstore"
  kind     = "identity"
  platform {
    gcp {
      project         = "my-project"
      region          = "europe-west1"
      artifact        = "/x"
      repository      = "r"
      service_account = "fn@my-project.iam.gserviceaccount.com"
    }
  }
  store    = { local = { path = "/tmp/x" } }
}`,
					PlanOnly:    true,
					ExpectError: regexp.MustCompile(`store:\s+a\s+service\s+on\s+platform\s+gcp\s+keeps\s+its\s+state\s+on\s+store.gcs`),
				},
				{
					Config: cloudConfig(t, h.env.URL, "Root-Password-1", "1", artifact),
					Check: resource.ComposeTestCheckFunc(
						checkSpecs(fake, artifact),
						func(s *terraform.State) error {
							attrs := s.RootModule().Resources["acquire_service.identity"].Primary.Attributes
							if attrs["url"] != fake.url("ident")+"/identity" {
								return fmt.Errorf("url %s, function at %s", attrs["url"], fake.url("ident"))
							}
							rc := &registry.Client{C: call.NewClient(&call.MemoryPins{}), URL: h.env.URL + "/registry"}
							rc.C.Clock = h.env.Clock.Now
							e, err := rc.Lookup(ctx, registry.LookupArgs{URL: attrs["url"]})
							if err != nil || e.UID != attrs["uid"] || attrs["uid"] == "" {
								return fmt.Errorf("registry has %+v (%w), state uid %s", e, err, attrs["uid"])
							}
							return stateLivesAt(ctx, attrs["store_url"])
						},
						checkLoginWith(h, "Root-Password-1", &otpURI),
					),
				},
				{ // importable by convention: the secret is read back through the deployer
					ResourceName: "acquire_service.identity", ImportState: true, ImportStateId: "aws/us-east-1/ident", ImportStateVerify: true,
					ImportStateVerifyIgnore: []string{"store", "store_url", "registry", "platform", "admin_username", "admin_password_version",
						"admin_password_env", "admin_enrolment_file", "admin_identity_url", "admin_user_uid"},
				},
				{
					Config: cloudConfig(t, h.env.URL, "Root-Password-2", "2", artifact),
					ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction("acquire_service.identity", plancheck.ResourceActionUpdate),
					}},
					Check: resource.ComposeTestCheckFunc(checkLogin(h, "Root-Password-2"), checkSpecs(fake, artifact)),
				},
				{
					PreConfig: func() {
						if err := fake.Delete(ctx, "ident", false); err != nil {
							t.Fatal(err)
						}
					},
					Config: cloudConfig(t, h.env.URL, "Root-Password-2", "2", artifact),
					ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction("acquire_service.identity", plancheck.ResourceActionCreate),
					}},
					Check: checkLoginWith(h, "Root-Password-2", &otpURI), // data kept: the admin is back with the password it had
				},
			}, checkNoSecretsInState(func() []string {
				return append(append(fake.secretValues(), "Root-Password-1", "Root-Password-2"), withEnrolment()()...)
			})),
			CheckDestroy: func(*terraform.State) error {
				if _, err := fake.Read(ctx, "ident"); !errors.Is(err, deployer.ErrNotFound) {
					return fmt.Errorf("the function must be gone: %w", err)
				}
				if _, err := os.Stat(filepath.Join(fake.dir, "ident-bucket", "identity")); err != nil {
					return fmt.Errorf("destroy must keep the bucket's data: %w", err)
				}
				return nil
			},
		})
	})
}

// checkSpecs: every spec the deployer got had the same secret, only in
// Spec.Secret, and the platform settings (scanEveryApply checks that the
// state never holds it).
func checkSpecs(fake *fakeDeployer, artifact string) resource.TestCheckFunc {
	return func(s *terraform.State) error {
		fake.mu.Lock()
		specs := append([]deployer.Spec(nil), fake.specs...)
		fake.mu.Unlock()
		if len(specs) == 0 {
			return errors.New("no spec reached the deployer")
		}
		secret := specs[0].Secret
		for _, sp := range specs {
			if sp.Secret != secret || len(secret) < 32 || sp.Bucket != "ident-bucket" || sp.Location != "us-east-1" ||
				sp.Function.MemoryMB != 512 || sp.Function.Tags["team"] != "ledger" || sp.Function.Tags["owner"] != "platform" ||
				sp.Artifact != artifact {
				return fmt.Errorf("spec %+v", sp)
			}
			for k, v := range sp.Env {
				if strings.Contains(v, secret) {
					return fmt.Errorf("env %s holds the secret", k)
				}
			}
		}
		return nil
	}
}

// TestNewDeployerWiring: each cloud block builds its cloud's deployer with
// the block's settings, calling no cloud (the AWS and Azure constructors
// only build clients; GCP's checks its project first).
func TestNewDeployerWiring(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	t.Setenv("AWS_CONFIG_FILE", "/dev/null")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
	ctx := context.Background()
	s := types.StringValue
	d, err := newDeployer(ctx, &awsPlatformModel{Region: s("eu-west-2")})
	if _, ok := d.(*awsdeploy.Deployer); err != nil || !ok {
		t.Fatalf("aws: %T %v", d, err)
	}
	d, err = newDeployer(ctx, &azurePlatformModel{Subscription: s("sub"), ResourceGroup: s("rg"), Location: s("uksouth")})
	if _, ok := d.(*azuredeploy.Deployer); err != nil || !ok {
		t.Fatalf("azure: %T %v", d, err)
	}
	_, err = newDeployer(ctx, &gcpPlatformModel{Project: s("X"), Region: s("europe-west1")})
	if err == nil || !strings.Contains(err.Error(), "Config.Project") {
		t.Fatalf("gcp with a bad project: %v", err)
	}
}

// TestFunctionEnv (host.SettingsEnv): a service's kind settings reach its function's
// environment, where the runtime reads them (the lease included).
func TestFunctionEnv(t *testing.T) {
	env := host.SettingsEnv(map[string]string{"access_url": "https://a.example/access", host.JobLeaseSetting: "7"})
	env[host.EnvServices], env[host.EnvStoreURL] = "compute", "mem://fn-env"
	env[host.EnvPublicURL], env[host.EnvSecret] = "https://fn.example", "a-secret-of-forty-characters-0123456789a"
	cfg, err := host.ConfigFromEnv(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if cfg.AccessURL != "https://a.example/access" || cfg.JobLease != 7*time.Second || cfg.AccountingURL != "" {
		t.Fatalf("config from the function's environment: access %q, lease %v, accounting %q", cfg.AccessURL, cfg.JobLease, cfg.AccountingURL)
	}
	if got := host.SettingsEnv(map[string]string{"accounting_url": "https://b.example/accounting"}); len(got) != 1 || got[host.EnvAccountingURL] == "" {
		t.Fatalf("access settings: %v", got)
	}
}

// stateLivesAt checks that a service's store_url is where the running
// function keeps its state (its kind's part of the deployment's store), so
// what acquire_resource and acquire_cluster write there is what it reads.
func stateLivesAt(ctx context.Context, storeURL string) error {
	return withStore(ctx, storeURL, func(b *store.Bucket) error {
		if _, _, err := b.Get(ctx, "service/info.json"); err != nil {
			return fmt.Errorf("store_url %s does not hold the service's state: %w", storeURL, err)
		}
		return nil
	})
}
