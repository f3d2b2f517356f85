package host_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/openacquire/acquire/runtime/access"
	"github.com/openacquire/acquire/runtime/accounting"
	"github.com/openacquire/acquire/runtime/call"
	"github.com/openacquire/acquire/runtime/compute"
	"github.com/openacquire/acquire/runtime/crypto"
	"github.com/openacquire/acquire/runtime/host"
	"github.com/openacquire/acquire/runtime/identity"
	"github.com/openacquire/acquire/runtime/registry"
	"github.com/openacquire/acquire/runtime/storage"
	"github.com/openacquire/acquire/runtime/store"
)

const adminToken = "test-admin-token-0123456789"

// adminHost is a running host with the admin API and no fixed services.
type adminHost struct {
	h      *host.Host
	url    string
	admin  *host.AdminClient
	client *call.Client
	stop   func()
}

// startAdminHost serves a host on addr ("" for any port) over storeURL.
func startAdminHost(t *testing.T, storeURL, addr string) *adminHost {
	t.Helper()
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	h, err := host.New(context.Background(), host.Config{NoServices: true, StoreURL: storeURL, PublicURL: base,
		Secret: "Admin-Test-Service-Secret-1", AdminToken: adminToken, Password: crypto.DefaultPasswordParams})
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			_ = srv.Close()
			h.Close()
		}
	}
	t.Cleanup(stop)
	return &adminHost{h: h, url: base, admin: &host.AdminClient{URL: base, Token: adminToken},
		client: call.NewClient(&call.MemoryPins{}), stop: stop}
}

func (a *adminHost) deploy(t *testing.T, name string, spec host.Spec) *host.Status {
	t.Helper()
	st, err := a.admin.Deploy(context.Background(), name, spec)
	if err != nil {
		t.Fatalf("deploy %s: %v", name, err)
	}
	return st
}

// deployFoundation deploys registry, identity (with its first admin),
// accounting and access, as examples/local does.
func deployFoundation(t *testing.T, a *adminHost) map[string]*host.Status {
	t.Helper()
	out := map[string]*host.Status{}
	out["registry"] = a.deploy(t, "registry", host.Spec{Kind: registry.Kind})
	out["identity"] = a.deploy(t, "identity", host.Spec{Kind: identity.Kind, RegistryURL: out["registry"].URL,
		Admin: &host.AdminSpec{Username: "root", Password: "Root-Password-1", PasswordVersion: "1"}})
	admin := &host.AdminSpec{IdentityURL: out["identity"].URL, UserUID: out["identity"].Admin.UserUID}
	out["accounting"] = a.deploy(t, "accounting", host.Spec{Kind: accounting.Kind, RegistryURL: out["registry"].URL, Admin: admin})
	out["access"] = a.deploy(t, "access", host.Spec{Kind: access.Kind, RegistryURL: out["registry"].URL, Admin: admin,
		Settings: map[string]string{"accounting_url": out["accounting"].URL}})
	out["storage"] = a.deploy(t, "storage", host.Spec{Kind: storage.Kind, RegistryURL: out["registry"].URL, Admin: admin})
	out["compute"] = a.deploy(t, "compute", host.Spec{Kind: compute.Kind, RegistryURL: out["registry"].URL, Admin: admin,
		Settings: map[string]string{"access_url": out["access"].URL}})
	return out
}

func TestAdminDeploysServicesThatWork(t *testing.T) {
	a := startAdminHost(t, "file://"+t.TempDir(), "")
	ctx := context.Background()
	st := deployFoundation(t, a)
	if st["identity"].URL != a.url+"/identity" || st["identity"].Kind != identity.Kind || !st["identity"].StoreDefault {
		t.Fatalf("identity status %+v", st["identity"])
	}
	if st["identity"].AdminCreated == nil || !strings.HasPrefix(st["identity"].AdminCreated.ProvisioningURI, "otpauth://") {
		t.Fatalf("the first deploy must answer the admin's authenticator URI once: %+v", st["identity"].AdminCreated)
	}
	for name, s := range st {
		if s.UID == "" || s.KeyFingerprint == "" || s.CertFingerprint == "" || s.Error != "" {
			t.Fatalf("%s: want uid and fingerprints, got %+v", name, s)
		}
	}
	// The registry knows the identity service under the UID the status says.
	rc := &registry.Client{C: a.client, URL: st["registry"].URL}
	e, err := rc.Lookup(ctx, registry.LookupArgs{URL: st["identity"].URL})
	if err != nil || e.UID != st["identity"].UID || e.Kind != identity.Kind {
		t.Fatalf("registry lookup: %+v %v", e, err)
	}
	// Deploying the same spec again changes nothing and shows no secret.
	again := a.deploy(t, "identity", host.Spec{Kind: identity.Kind, RegistryURL: st["registry"].URL,
		Admin: &host.AdminSpec{Username: "root", Password: "Root-Password-1", PasswordVersion: "1"}})
	if again.AdminCreated != nil || again.UID != st["identity"].UID {
		t.Fatalf("redeploy: %+v", again)
	}
	// The admin logs in with the password and a code from the URI.
	loginAdmin(t, a, st["identity"].URL, "Root-Password-1", st["identity"].AdminCreated.ProvisioningURI)
	// The admin administers accounting (a deposit needs an admin).
	ok, err := a.h.Deployment(ctx, "accounting")
	if err != nil || ok.Admin == nil || ok.Admin.UserUID != st["identity"].Admin.UserUID {
		t.Fatalf("accounting admin: %+v %v", ok, err)
	}
	list, err := a.admin.List(ctx)
	if err != nil || len(list) != 6 {
		t.Fatalf("list: %d %v", len(list), err)
	}
}

func loginAdmin(t *testing.T, a *adminHost, identityURL, password, uri string) *identity.Session {
	t.Helper()
	pu, err := url.Parse(uri)
	if err != nil {
		t.Fatal(err)
	}
	code, err := crypto.TOTPCode(pu.Query().Get("secret"), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	id := &identity.Client{C: a.client, URL: identityURL}
	s, _, err := id.Login(context.Background(), "root", password, identity.LoginOptions{OTP: code})
	if err != nil {
		t.Fatalf("login: %v", err)
	}
	return s
}

func TestAdminRefusesBadSpecsAndTokens(t *testing.T) {
	a := startAdminHost(t, "mem://admin-bad-"+t.Name(), "")
	ctx := context.Background()
	reg := a.deploy(t, "registry", host.Spec{Kind: registry.Kind})
	id := a.deploy(t, "identity", host.Spec{Kind: identity.Kind})
	cases := []struct {
		name, want string
		spec       host.Spec
		class      *call.Error
	}{
		{"bank1", "kind", host.Spec{Kind: "bank"}, host.ErrSpec},
		{"Bad_Name", "name", host.Spec{Kind: identity.Kind}, host.ErrSpec},
		{"bank2", "not a registry", host.Spec{Kind: identity.Kind, RegistryURL: id.URL}, host.ErrSpec},
		{"bank3", "registry_url", host.Spec{Kind: identity.Kind, RegistryURL: "ftp://x"}, host.ErrSpec},
		{"bank4", "accounting_url", host.Spec{Kind: access.Kind}, host.ErrSpec},
		{"bank8", "access_url", host.Spec{Kind: compute.Kind}, host.ErrSpec},
		{"bank9", "job_lease_s", host.Spec{Kind: compute.Kind, Settings: map[string]string{"access_url": "http://a/x", "job_lease_s": "1"}}, host.ErrSpec},
		{"bank10", "whole seconds", host.Spec{Kind: compute.Kind, Settings: map[string]string{"access_url": "http://a/x", "job_lease_s": "5s"}}, host.ErrSpec},
		{"bank11", "not a setting", host.Spec{Kind: storage.Kind, Settings: map[string]string{"job_lease_s": "5"}}, host.ErrSpec},
		{"bank12", "session_life_s", host.Spec{Kind: identity.Kind, Settings: map[string]string{"session_life_s": "30"}}, host.ErrSpec},
		{"bank13", "whole seconds", host.Spec{Kind: identity.Kind, Settings: map[string]string{"session_life_s": "1h"}}, host.ErrSpec},
		{"bank14", "not a setting", host.Spec{Kind: storage.Kind, Settings: map[string]string{"session_life_s": "600"}}, host.ErrSpec},
		{"bank5", "not a setting", host.Spec{Kind: identity.Kind, Settings: map[string]string{"color": "red"}}, host.ErrSpec},
		{"bank6", "store_url", host.Spec{Kind: identity.Kind, StoreURL: "no-scheme"}, host.ErrSpec},
		{"bank7", "overlaps", host.Spec{Kind: identity.Kind, StoreURL: reg.StoreURL}, host.ErrSpec},
		{"identity", "kind and store", host.Spec{Kind: accounting.Kind}, host.ErrReplace},
	}
	for _, c := range cases {
		_, err := a.admin.Deploy(ctx, c.name, c.spec)
		if !errors.Is(err, c.class) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: want %s naming %q, got %v", c.name, c.class.Class, c.want, err)
		}
		if c.name != "identity" {
			if _, err := a.admin.Get(ctx, c.name); !errors.Is(err, host.ErrNoDeployment) {
				t.Errorf("%s: a refused spec must deploy nothing, got %v", c.name, err)
			}
		}
	}
	// The refused replace left the identity service as it was.
	if st, err := a.admin.Get(ctx, "identity"); err != nil || st.Kind != identity.Kind || st.UID != id.UID {
		t.Fatalf("after refused replace: %+v %v", st, err)
	}
	for _, tok := range []string{"", "wrong"} {
		bad := &host.AdminClient{URL: a.url, Token: tok}
		if _, err := bad.List(ctx); !errors.Is(err, host.ErrAdminToken) || strings.Contains(err.Error(), adminToken) {
			t.Errorf("token %q: want AdminTokenError, got %v", tok, err)
		}
		if _, err := bad.Deploy(ctx, "sneaky", host.Spec{Kind: registry.Kind}); !errors.Is(err, host.ErrAdminToken) {
			t.Errorf("token %q: deploy must be refused, got %v", tok, err)
		}
	}
	if _, err := a.admin.Get(ctx, "sneaky"); !errors.Is(err, host.ErrNoDeployment) {
		t.Fatalf("a refused token deployed something: %v", err)
	}
}

func TestAdminDeploymentsSurviveARestart(t *testing.T) {
	dir := t.TempDir()
	a := startAdminHost(t, "file://"+dir, "")
	st := deployFoundation(t, a)
	if _, err := a.admin.Trust(context.Background(), "accounting", st["access"].URL); err != nil {
		t.Fatal(err)
	}
	addr := strings.TrimPrefix(a.url, "http://")
	a.stop()
	b := startAdminHost(t, "file://"+dir, addr)
	ctx := context.Background()
	for name, before := range st {
		after, err := b.admin.Get(ctx, name)
		if err != nil {
			t.Fatalf("%s after restart: %v", name, err)
		}
		if after.UID != before.UID || after.CertFingerprint != before.CertFingerprint || after.Error != "" {
			t.Fatalf("%s changed across a restart: %+v vs %+v", name, after, before)
		}
	}
	acct, _ := b.admin.Get(ctx, "accounting")
	if len(acct.Trusted) != 1 || acct.Trusted[0] != st["access"].URL {
		t.Fatalf("trust lost across a restart: %v", acct.Trusted)
	}
	// The restored services answer calls (their keys unlock with the derived secret).
	loginAdmin(t, b, st["identity"].URL, "Root-Password-1", st["identity"].AdminCreated.ProvisioningURI)
	// The secret and admin password are nowhere in the host's records.
	assertNotInDir(t, filepath.Join(dir, "host"), "Root-Password-1", "Admin-Test-Service-Secret-1", adminToken)
}

func assertNotInDir(t *testing.T, dir string, secrets ...string) {
	t.Helper()
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		for _, s := range secrets {
			if strings.Contains(string(b), s) {
				t.Errorf("%s holds a secret", p)
			}
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestAdminUpdatesInPlaceAndRotatesThePassword(t *testing.T) {
	a := startAdminHost(t, "file://"+t.TempDir(), "")
	ctx := context.Background()
	st := deployFoundation(t, a)
	acct2 := a.deploy(t, "accounting2", host.Spec{Kind: accounting.Kind})
	up := a.deploy(t, "access", host.Spec{Kind: access.Kind, RegistryURL: st["registry"].URL,
		Settings: map[string]string{"accounting_url": acct2.URL}})
	if up.Settings["accounting_url"] != acct2.URL || up.UID != st["access"].UID || !up.Created.Equal(st["access"].Created) {
		t.Fatalf("settings update must keep the service: %+v", up)
	}
	// A new password version sets the new password; the old one stops working.
	a.deploy(t, "identity", host.Spec{Kind: identity.Kind, RegistryURL: st["registry"].URL,
		Admin: &host.AdminSpec{Username: "root", Password: "Root-Password-2", PasswordVersion: "2"}})
	id := &identity.Client{C: a.client, URL: st["identity"].URL}
	if _, _, err := id.Login(ctx, "root", "Root-Password-1", identity.LoginOptions{OTP: "000000"}); !errors.Is(err, identity.ErrPassword) {
		t.Fatalf("old password after rotation: %v", err)
	}
	loginAdmin(t, a, st["identity"].URL, "Root-Password-2", st["identity"].AdminCreated.ProvisioningURI)
	// Trust and untrust.
	tr, err := a.admin.Trust(ctx, "accounting", st["access"].URL)
	if err != nil || len(tr.Trusted) != 1 {
		t.Fatalf("trust: %+v %v", tr, err)
	}
	if tr, err = a.admin.Untrust(ctx, "accounting", st["access"].URL); err != nil || len(tr.Trusted) != 0 {
		t.Fatalf("untrust: %+v %v", tr, err)
	}
	if _, err := a.admin.Trust(ctx, "nope", st["access"].URL); !errors.Is(err, host.ErrNoDeployment) {
		t.Fatalf("trust on a missing deployment: %v", err)
	}
}

func TestAdminUndeployKeepsDataUnlessAsked(t *testing.T) {
	dir := t.TempDir()
	a := startAdminHost(t, "file://"+dir, "")
	ctx := context.Background()
	reg := a.deploy(t, "registry", host.Spec{Kind: registry.Kind})
	if err := a.admin.Delete(ctx, "registry", false); err != nil {
		t.Fatal(err)
	}
	if _, err := a.admin.Get(ctx, "registry"); !errors.Is(err, host.ErrNoDeployment) {
		t.Fatalf("get after delete: %v", err)
	}
	resp, err := http.Get(reg.URL)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("the service must stop answering, got HTTP %d", resp.StatusCode)
	}
	if err := a.admin.Delete(ctx, "registry", false); !errors.Is(err, host.ErrNoDeployment) {
		t.Fatalf("second delete: %v", err)
	}
	for _, bad := range []string{"..", "x", "Registry", "a/../b"} {
		if err := a.h.Undeploy(ctx, bad, true); !errors.Is(err, host.ErrNoDeployment) {
			t.Fatalf("delete %q: %v", bad, err)
		}
	}
	back := a.deploy(t, "registry", host.Spec{Kind: registry.Kind})
	if back.UID != reg.UID || back.CertFingerprint != reg.CertFingerprint {
		t.Fatalf("data kept: want the same service back, got %+v", back)
	}
	if err := a.admin.Delete(ctx, "registry", true); err != nil {
		t.Fatal(err)
	}
	b, err := store.Open(ctx, back.StoreURL)
	if err != nil {
		t.Fatal(err)
	}
	left, err := b.ListAll(ctx, "", 10)
	_ = b.Close()
	if err != nil || len(left) != 0 {
		t.Fatalf("delete_data left %v (%v)", left, err)
	}
	fresh := a.deploy(t, "registry", host.Spec{Kind: registry.Kind})
	if fresh.UID == reg.UID {
		t.Fatal("after delete_data a new deployment must be a new service")
	}
}

// TestAdminUpdateDrainsCallsInFlight: calls keep succeeding while the
// service they call is reopened again and again (trust changes reopen it):
// the replaced instance closes only after the calls on it finish.
func TestAdminUpdateDrainsCallsInFlight(t *testing.T) {
	a := startAdminHost(t, "file://"+t.TempDir(), "")
	ctx := context.Background()
	acct := a.deploy(t, "accounting", host.Spec{Kind: accounting.Kind})
	const callers, updates = 4, 40
	stop := make(chan struct{})
	errs := make(chan error, callers)
	calls := make(chan int, callers)
	for range callers {
		go func() {
			c := call.NewClient(&call.MemoryPins{})
			n := 0
			for {
				select {
				case <-stop:
					calls <- n
					errs <- nil
					return
				default:
				}
				var pong struct{ Kind string }
				if err := c.Call(ctx, acct.URL, "ping", struct{}{}, &pong); err != nil {
					calls <- n
					errs <- err
					return
				}
				n++
			}
		}()
	}
	for i := range updates {
		if _, err := a.admin.Trust(ctx, "accounting", fmt.Sprintf("http://svc%d.example/x", i)); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	total := 0
	for range callers {
		total += <-calls
		if err := <-errs; err != nil {
			t.Fatalf("a call failed while its service was reopened: %v", err)
		}
	}
	if total == 0 {
		t.Fatal("no call ran during the updates")
	}
}

// TestAdminRestoreYieldsToFixedServices: a host restarted with a fixed
// service of a deployment's name keeps the deployment listed with an
// error and does not open it (the fixed one serves the path).
func TestAdminRestoreYieldsToFixedServices(t *testing.T) {
	dir := t.TempDir()
	a := startAdminHost(t, "file://"+dir, "")
	a.deploy(t, "registry", host.Spec{Kind: registry.Kind})
	a.stop()
	h, err := host.New(context.Background(), host.Config{Kinds: []string{registry.Kind}, StoreURL: "file://" + dir,
		PublicURL: "http://127.0.0.1:1", Secret: "Admin-Test-Service-Secret-1", AdminToken: adminToken})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	st, err := h.Deployment(context.Background(), "registry")
	if err != nil || !strings.Contains(st.Error, "fixed registry service") || st.UID != "" {
		t.Fatalf("restored deployment: %+v %v", st, err)
	}
}

// TestAdminJobLease: a compute deployment's job_lease_s setting is its
// lease; without it the deployment takes its host's.
func TestAdminJobLease(t *testing.T) {
	a := startAdminHost(t, "mem://admin-lease-"+t.Name(), "")
	st := deployFoundation(t, a)
	if got := host.DeployedJobLease(a.h, "compute"); got != compute.DefaultLease {
		t.Fatalf("without the setting: lease %v, want the host's %v", got, compute.DefaultLease)
	}
	a.deploy(t, "compute", host.Spec{Kind: compute.Kind, RegistryURL: st["registry"].URL,
		Settings: map[string]string{"access_url": st["access"].URL, "job_lease_s": "5"}})
	if got := host.DeployedJobLease(a.h, "compute"); got != 5*time.Second {
		t.Fatalf("job_lease_s 5: lease %v", got)
	}
}
