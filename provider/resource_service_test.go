package provider

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/openacquire/acquire/runtime/call"
	"github.com/openacquire/acquire/runtime/crypto"
	"github.com/openacquire/acquire/runtime/host"
	"github.com/openacquire/acquire/runtime/host/hosttest"
	"github.com/openacquire/acquire/runtime/identity"
	"github.com/openacquire/acquire/runtime/store"
)

const testHostToken = "provider-test-host-token-0123"

// adminHost runs an in-process host with the admin API and no fixed
// services, on a folder store, and points the provider at it.
type adminHost struct {
	env   *hosttest.Env
	admin *host.AdminClient
	dir   string
}

func startAdminHost(t *testing.T) *adminHost {
	t.Helper()
	dir := t.TempDir()
	env := hosttest.Start(t, hosttest.Options{StoreURL: "file://" + dir, AdminToken: testHostToken, NoServices: true})
	t.Setenv(EnvHostToken, testHostToken)
	return &adminHost{env: env, admin: &host.AdminClient{URL: env.URL, Token: testHostToken}, dir: dir}
}

// usesWriteOnly: Terraform >= 1.11 takes write-only attributes; OpenTofu
// 1.10 does not, so its configs pass the password through the environment.
func usesWriteOnly(t *testing.T) bool { return strings.HasSuffix(t.Name(), "/terraform") }

// adminPasswordAttr is the identity admin's password in HCL: the
// write-only attribute where the engine has it, else admin_password_env.
func adminPasswordAttr(t *testing.T, password string) string {
	if usesWriteOnly(t) {
		return fmt.Sprintf("admin_password_wo = %q", password)
	}
	// One variable per password: every step's config is written before
	// the first runs.
	env := "TEST_ROOT_PASSWORD_" + strings.ReplaceAll(strings.ToUpper(password), "-", "_")
	t.Setenv(env, password)
	return fmt.Sprintf("admin_password_env = %q", env)
}

// serviceConfig is registry, identity (with admin), two accounting
// services, access and a trust: step knobs vary what the steps change.
type serviceConfig struct {
	password, passwordVersion string
	accessAccounting          string // "accounting" or "accounting2"
	accounting2Store          string // "" or an absolute folder
	deleteData                bool
}

func (c serviceConfig) hcl(t *testing.T, hostURL string) string {
	store := ""
	if c.accounting2Store != "" {
		store = fmt.Sprintf("store = { local = { path = %q } }", c.accounting2Store)
	}
	return providerBlock(hostURL) + fmt.Sprintf(`
resource "acquire_service" "registry" {
  name        = "registry"
  kind        = "registry"
  delete_data = %[5]t
}

resource "acquire_service" "identity" {
  name                   = "identity"
  kind                   = "identity"
  registry               = acquire_service.registry.url
  admin_username         = "root"
  admin_enrolment_file   = %[6]q
  %[1]s
  admin_password_version = %[2]q
}

resource "acquire_service" "accounting" {
  name               = "accounting"
  kind               = "accounting"
  registry           = acquire_service.registry.url
  admin_identity_url = acquire_service.identity.url
  admin_user_uid     = acquire_service.identity.admin_user_uid
}

# Not registered: a registry pins a URL to the keys it first saw, so a
# store change (new keys at the same URL) would be refused by it.
resource "acquire_service" "accounting2" {
  name = "accounting2"
  kind = "accounting"
  %[4]s
}

resource "acquire_service" "access" {
  name     = "access"
  kind     = "access"
  registry = acquire_service.registry.url
  settings = { accounting_url = acquire_service.%[3]s.url }
}

resource "acquire_trust" "accounting_access" {
  service = acquire_service.accounting.url
  trusted = acquire_service.access.url
}
`, adminPasswordAttr(t, c.password), c.passwordVersion, c.accessAccounting, store, c.deleteData, enrolmentFile())
}

func TestAccServiceLifecycle(t *testing.T) {
	forEachEngine(t, func(t *testing.T) {
		h := startAdminHost(t)
		ctx := context.Background()
		base := serviceConfig{password: "Root-Password-1", passwordVersion: "1", accessAccounting: "accounting"}
		rotated := base
		rotated.password, rotated.passwordVersion, rotated.accessAccounting = "Root-Password-2", "2", "accounting2"
		replaced := rotated
		replaced.accounting2Store = t.TempDir()
		doomed := replaced
		doomed.deleteData = true
		var registryStore string
		resource.Test(t, resource.TestCase{
			ProtoV6ProviderFactories: testAccProviders,
			Steps: scanEveryApply([]resource.TestStep{
				{ // create
					Config: base.hcl(t, h.env.URL),
					ConfigStateChecks: []statecheck.StateCheck{
						statecheck.ExpectKnownValue("acquire_service.identity", tfjsonpath.New("url"), knownvalue.StringExact(h.env.URL+"/identity")),
						statecheck.ExpectKnownValue("acquire_service.identity", tfjsonpath.New("uid"), knownvalue.StringRegexp(regexp.MustCompile(`^iden-`))),
						statecheck.ExpectKnownValue("acquire_service.identity", tfjsonpath.New("admin_enrolment_file"), knownvalue.StringExact(enrolmentFile())),
						statecheck.ExpectKnownValue("acquire_service.identity", tfjsonpath.New("cert_fingerprint"), knownvalue.StringRegexp(regexp.MustCompile(`^[0-9a-f:]{47}$`))),
						statecheck.ExpectKnownValue("acquire_service.access", tfjsonpath.New("settings").AtMapKey("accounting_url"), knownvalue.StringExact(h.env.URL+"/accounting")),
						statecheck.ExpectKnownValue("acquire_trust.accounting_access", tfjsonpath.New("service_name"), knownvalue.StringExact("accounting")),
					},
					Check: resource.ComposeTestCheckFunc(
						checkHost(h, "identity", func(st *host.Status) error {
							if st.Admin == nil || st.Admin.Username != "root" || st.RegistryURL != h.env.URL+"/registry" {
								return fmt.Errorf("identity on the host: %+v", st)
							}
							return nil
						}),
						checkHost(h, "accounting", func(st *host.Status) error {
							if len(st.Trusted) != 1 || st.Trusted[0] != h.env.URL+"/access" {
								return fmt.Errorf("accounting must trust access: %v", st.Trusted)
							}
							return nil
						}),
						checkLogin(h, "Root-Password-1"),
						func(s *terraform.State) error {
							registryStore = s.RootModule().Resources["acquire_service.registry"].Primary.Attributes["store_url"]
							return nil
						},
					),
				},
				{ // import with verify, each resource
					ResourceName: "acquire_service.identity", ImportState: true, ImportStateVerify: true,
					// Shown once, when created; config-only.
					ImportStateVerifyIgnore: []string{"admin_enrolment_file", "admin_password_env"},
				},
				{ResourceName: "acquire_service.access", ImportState: true, ImportStateVerify: true},
				{ResourceName: "acquire_service.accounting", ImportState: true, ImportStateVerify: true},
				{ResourceName: "acquire_service.registry", ImportState: true, ImportStateVerify: true},
				{ResourceName: "acquire_trust.accounting_access", ImportState: true, ImportStateVerify: true,
					ImportStateIdFunc: func(s *terraform.State) (string, error) {
						return s.RootModule().Resources["acquire_trust.accounting_access"].Primary.ID, nil
					}},
				{ // update in place: settings and the admin's password (rotation)
					Config: rotated.hcl(t, h.env.URL),
					ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction("acquire_service.access", plancheck.ResourceActionUpdate),
						plancheck.ExpectResourceAction("acquire_service.identity", plancheck.ResourceActionUpdate),
						plancheck.ExpectResourceAction("acquire_service.accounting", plancheck.ResourceActionNoop),
					}},
					ConfigStateChecks: []statecheck.StateCheck{
						statecheck.ExpectKnownValue("acquire_service.access", tfjsonpath.New("settings").AtMapKey("accounting_url"), knownvalue.StringExact(h.env.URL+"/accounting2")),
					},
					Check: checkLogin(h, "Root-Password-2"),
				},
				{ // replace: a new store replaces the service
					Config: replaced.hcl(t, h.env.URL),
					ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction("acquire_service.accounting2", plancheck.ResourceActionDestroyBeforeCreate),
						plancheck.ExpectResourceAction("acquire_service.access", plancheck.ResourceActionUpdate),
					}},
					Check: checkHost(h, "accounting2", func(st *host.Status) error {
						if st.StoreURL != "file://"+replaced.accounting2Store || st.StoreDefault {
							return fmt.Errorf("accounting2 store after replace: %s", st.StoreURL)
						}
						return nil
					}),
				},
				{ // drift: deleted out of band, the plan re-creates it
					PreConfig: func() {
						if err := h.admin.Delete(ctx, "accounting2", false); err != nil {
							t.Fatal(err)
						}
						if _, err := h.admin.Untrust(ctx, "accounting", h.env.URL+"/access"); err != nil {
							t.Fatal(err)
						}
					},
					Config: replaced.hcl(t, h.env.URL),
					ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction("acquire_service.accounting2", plancheck.ResourceActionCreate),
						plancheck.ExpectResourceAction("acquire_trust.accounting_access", plancheck.ResourceActionCreate),
					}},
					Check: resource.ComposeTestCheckFunc(
						checkHost(h, "accounting2", func(*host.Status) error { return nil }),
						checkHost(h, "accounting", func(st *host.Status) error {
							if len(st.Trusted) != 1 {
								return errors.New("the trust must be back")
							}
							return nil
						}),
					),
				},
				{ // no change: an empty plan
					Config:           replaced.hcl(t, h.env.URL),
					ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
				},
				{Config: doomed.hcl(t, h.env.URL)}, // delete_data on the registry, for the destroy below
			}, checkNoSecretsInState(withEnrolment(base.password, rotated.password))),
			CheckDestroy: func(*terraform.State) error {
				all, err := h.admin.List(ctx)
				if err != nil || len(all) != 0 {
					return fmt.Errorf("after destroy the host still runs %d deployments (%w)", len(all), err)
				}
				if n := storeObjects(t, "file://"+h.dir+"/svc-identity"); n == 0 {
					return errors.New("destroy must keep the identity service's data (delete_data false)")
				}
				if n := storeObjects(t, registryStore); n != 0 {
					return fmt.Errorf("delete_data true must delete the registry's data; %d objects left", n)
				}
				return nil
			},
		})
	})
}

func storeObjects(t *testing.T, storeURL string) int {
	t.Helper()
	b, err := store.Open(context.Background(), storeURL)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = b.Close() }()
	items, err := b.ListAll(context.Background(), "", 1000)
	if err != nil {
		t.Fatal(err)
	}
	return len(items)
}

func checkHost(h *adminHost, name string, fn func(*host.Status) error) resource.TestCheckFunc {
	return func(*terraform.State) error {
		st, err := h.admin.Get(context.Background(), name)
		if err != nil {
			return fmt.Errorf("%s on the host: %w", name, err)
		}
		return fn(st)
	}
}

// checkLogin logs the admin in with password and a code from the
// authenticator URI in state: the outputs are enough to use the service.
func checkLogin(h *adminHost, password string) resource.TestCheckFunc {
	return checkLoginWith(h, password, nil)
}

// checkLoginWith is checkLogin with the authenticator URI from uri (nil:
// from state), for a service re-created on its kept data, whose state no
// longer shows the URI of the admin it did not create.
func checkLoginWith(h *adminHost, password string, uri *string) resource.TestCheckFunc {
	return func(s *terraform.State) error {
		attrs := s.RootModule().Resources["acquire_service.identity"].Primary.Attributes
		en, err := readEnrolment(enrolmentFile())
		if err != nil {
			return fmt.Errorf("the admin's enrolment file: %w", err)
		}
		otpURI := en.OTPURI
		if uri != nil && *uri == "" {
			*uri = otpURI
		} else if uri != nil {
			otpURI = *uri
		}
		u, err := url.Parse(otpURI)
		if err != nil {
			return err
		}
		if len(en.RecoveryCodes) == 0 || en.Username != "root" {
			return fmt.Errorf("enrolment file: %d recovery codes, username %q", len(en.RecoveryCodes), en.Username)
		}
		// One login per 30 s step: a code is accepted once.
		now := h.env.Clock.Now()
		h.env.Clock.Advance(30*time.Second - time.Duration(now.UnixNano()%int64(30*time.Second)) + time.Second)
		code, err := crypto.TOTPCode(u.Query().Get("secret"), h.env.Clock.Now())
		if err != nil {
			return err
		}
		id := &identity.Client{C: call.NewClient(&call.MemoryPins{}), URL: attrs["url"]}
		id.C.Clock = h.env.Clock.Now
		if _, _, err := id.Login(context.Background(), "root", password, identity.LoginOptions{OTP: code}); err != nil {
			return fmt.Errorf("admin login with the state's outputs: %w", err)
		}
		return nil
	}
}

func TestAccServicePlanTimeValidation(t *testing.T) {
	forEachEngine(t, func(t *testing.T) {
		h := startAdminHost(t)
		id, err := h.admin.Deploy(context.Background(), "ident", host.Spec{Kind: "identity"})
		if err != nil {
			t.Fatal(err)
		}
		bad := func(body string, want string) resource.TestStep {
			// Engines wrap long messages: any space may be a line break.
			want = strings.ReplaceAll(want, " ", `\s+`)
			return resource.TestStep{Config: providerBlock(h.env.URL) + body, PlanOnly: true, ExpectError: regexp.MustCompile(want)}
		}
		steps := []resource.TestStep{}
		if !usesWriteOnly(t) {
			// OpenTofu 1.10 has no write-only attributes: the framework
			// refuses the value, naming it (admin_password_env is the way).
			steps = append(steps, bad(`resource "acquire_service" "x" {
  name              = "ident3"
  kind              = "identity"
  admin_username    = "root"
  admin_password_wo = "Root-Password-1"
}`, `admin_password_wo. Write-only attributes are only supported in Terraform 1.11`))
		}
		resource.Test(t, resource.TestCase{
			ProtoV6ProviderFactories: testAccProviders,
			Steps: append(steps,
				bad(`resource "acquire_service" "x" {
  name = "bank"
  kind = "bank"
}`, `kind: "bank" is not one of registry, identity`),
				bad(`resource "acquire_service" "x" {
  name  = "files"
  kind  = "accounting"
  store = {
    local = { path = "/tmp/a" }
    s3    = { bucket = "b" }
  }
}`, `store: give exactly one of local, s3, gcs, azure \(got 2: local, s3\)`),
				bad(`resource "acquire_service" "x" {
  name     = "ident2"
  kind     = "identity"
  registry = "not a url"
}`, `registry: "not a url" does not start with http`),
				bad(fmt.Sprintf(`resource "acquire_service" "x" {
  name     = "ident2"
  kind     = "identity"
  registry = %q
}`, id.URL), `(?s)registry:.*is a "identity" service, not a registry`),
				bad(`resource "acquire_service" "x" {
  name = "Bad_Name"
  kind = "identity"
}`, `name: "Bad_Name" must be 3-40 of a-z`),
				bad(`resource "acquire_service" "x" {
  name           = "acct"
  kind           = "accounting"
  admin_username = "root"
}`, `admin_username: only an identity service creates its admin`),
				bad(`resource "acquire_service" "x" {
  name     = "jobs"
  kind     = "compute"
  settings = { access_url = "http://127.0.0.1:1/access", job_lease_s = "1" }
}`, `settings: job_lease_s: the lease must be 2 to 3600 s`),
				bad(`resource "acquire_service" "x" {
  name     = "jobs"
  kind     = "compute"
  settings = { access_url = "http://127.0.0.1:1/access", job_lease_s = "1m" }
}`, `settings: job_lease_s: whole seconds, not "1m"`),
				bad(`resource "acquire_service" "x" {
  name     = "ident3"
  kind     = "identity"
  settings = { session_life_s = "30" }
}`, `settings: session_life_s: the session life must be 60 to 86400 s`),
				bad(`resource "acquire_service" "x" {
  name     = "files"
  kind     = "storage"
  settings = { session_life_s = "600" }
}`, `settings: "session_life_s" is not a setting of a storage service`),
				bad(`resource "acquire_service" "x" {
  name     = "files"
  kind     = "storage"
  settings = { job_lease_s = "30" }
}`, `settings: "job_lease_s" is not a setting of a storage service`),
				bad(`resource "acquire_service" "x" {
  name = "jobs"
  kind = "compute"
}`, `settings: a compute service needs "access_url"`),
			),
		})
	})
}

// enrolmentFile is where the tests' identity services write their admin's
// enrolment: a file of the test's own folder (forEachEngine sets
// TF_ACC_TEMP_DIR per test and engine).
func enrolmentFile() string {
	return filepath.Join(os.Getenv("TF_ACC_TEMP_DIR"), "admin-enrolment.json")
}

// withEnrolment is the secrets a test knows plus the admin's enrolment
// (its authenticator URI, the TOTP secret in it, every recovery code), read
// when the check runs: none of them may be anywhere in state.
func withEnrolment(secrets ...string) func() []string {
	return func() []string {
		out := append([]string(nil), secrets...)
		if en, err := readEnrolment(enrolmentFile()); err == nil {
			out = append(out, en.OTPURI)
			if u, err := url.Parse(en.OTPURI); err == nil && u.Query().Get("secret") != "" {
				out = append(out, u.Query().Get("secret"))
			}
			out = append(out, en.RecoveryCodes...)
		}
		return out
	}
}
