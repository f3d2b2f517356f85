package deploy

import (
	"archive/zip"
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	azfake "github.com/Azure/azure-sdk-for-go/sdk/azcore/fake"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/bloberror"

	"github.com/openacquire/acquire/adapters/deployer"
	"github.com/openacquire/acquire/adapters/servertest"
)

// Azurite's well-known development account (public, documented by
// Microsoft for the emulator; not a secret).
const (
	devAccount = "devstoreaccount1"
	devKey     = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)

// testSecret is a made-up value; the tests check it appears nowhere but in
// the Key Vault write, and never print it.
const testSecret = "correct-horse-battery-staple-77"

var azurite = servertest.Server{
	Name: "azurite-blob",
	Args: func(addr, dir string) []string {
		host, port, _ := strings.Cut(addr, ":")
		return []string{"--blobHost", host, "--blobPort", port, "--location", dir,
			"--skipApiVersionCheck", "--disableTelemetry"}
	},
	Ready: servertest.Answers("/", false),
}

type rig struct {
	d     *Deployer
	cloud *cloud
	blob  *azblob.Client
}

// newRig gives a deployer whose ARM and Key Vault calls go to the fakes and
// whose blob calls go to a fresh Azurite, for any account name.
func newRig(t *testing.T) *rig {
	t.Helper()
	endpoint := servertest.Start(t, azurite) + "/" + devAccount + "/"
	cred, err := azblob.NewSharedKeyCredential(devAccount, devKey)
	if err != nil {
		t.Fatal(err)
	}
	bc, err := azblob.NewClientWithSharedKeyCredential(endpoint, cred, nil)
	if err != nil {
		t.Fatal(err)
	}
	c := newCloud()
	d, err := New(Options{Subscription: "sub-1", ResourceGroup: "rg-1", Credential: &azfake.TokenCredential{},
		Transport: c, BlobClient: func(string) (*azblob.Client, error) { return bc, nil },
		OperationTimeout: time.Minute, PollTimeout: 20 * time.Second, PollInterval: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return &rig{d: d, cloud: c, blob: bc}
}

// writeZip makes a stand-in for dist/azure-functions-amd64.zip.
func writeZip(t *testing.T, handler string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "azure-functions-amd64.zip")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	zw := zip.NewWriter(f)
	for name, body := range map[string]string{"host.json": "{}", "acquire/function.json": "{}", "handler": handler} {
		w, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write([]byte(body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

func testSpec(t *testing.T) deployer.Spec {
	return deployer.Spec{Name: "acq-identity", Kinds: []string{"identity", "accounting"}, Location: "westeurope",
		Bucket: "acq-store", Artifact: writeZip(t, "v1"), Secret: testSecret,
		Env:      map[string]string{"ACQUIRE_TRUSTED_SERVICES": "https://other.example"},
		Settings: map[string]string{SettingStorageAccount: "acqstore1", SettingKeyVault: "acq-kv"}}
}

func containerExists(t *testing.T, bc *azblob.Client, name string) bool {
	t.Helper()
	_, err := bc.ServiceClient().NewContainerClient(name).GetProperties(context.Background(), nil)
	if bloberror.HasCode(err, bloberror.ContainerNotFound) {
		return false
	}
	if err != nil {
		t.Fatal(err)
	}
	return true
}

func packageCount(t *testing.T, bc *azblob.Client, name string) int {
	t.Helper()
	n := 0
	pager := bc.NewListBlobsFlatPager(PackageContainer, &azblob.ListBlobsFlatOptions{Prefix: &name})
	for pager.More() {
		page, err := pager.NextPage(context.Background())
		if bloberror.HasCode(err, bloberror.ContainerNotFound) {
			return 0
		}
		if err != nil {
			t.Fatal(err)
		}
		n += len(page.Segment.BlobItems)
	}
	return n
}

const kvRef = "@Microsoft.KeyVault(SecretUri=https://acq-kv.vault.azure.net/secrets/acq-identity-service-secret/)"

func TestCreateSendsAppIdentityAndSettings(t *testing.T) {
	r := newRig(t)
	r.cloud.asyncPut = true // the site PUT goes through a real azcore LRO poller
	dep, err := r.d.Create(context.Background(), testSpec(t))
	if err != nil {
		t.Fatal(err)
	}
	if dep.URL != "https://acq-identity.azurewebsites.net" || dep.StoreURL != "azblob://acq-store?account=acqstore1" ||
		dep.SecretRef != "https://acq-kv.vault.azure.net/secrets/acq-identity-service-secret/" || len(dep.Version) != 64 {
		t.Errorf("deployment = %+v", dep)
	}
	st := r.cloud.sites["acq-identity"]
	if st.Kind != "functionapp,linux" || st.Identity == nil || !st.Properties.Reserved || !st.Properties.HTTPSOnly ||
		st.Properties.ServerFarmID != "/subscriptions/sub-1/resourceGroups/rg-1/providers/Microsoft.Web/serverfarms/acq-identity-plan" ||
		st.Properties.SiteConfig.MinTLSVersion != "1.2" {
		t.Errorf("site sent = %+v", st)
	}
	plans := r.cloud.find(http.MethodPut, "/serverfarms/acq-identity-plan")
	if len(plans) != 1 || !strings.Contains(string(plans[0].Body), `"sku":{"name":"Y1","tier":"Dynamic"}`) ||
		!strings.Contains(string(plans[0].Body), `"reserved":true`) {
		t.Errorf("plan sent = %v", plans)
	}
	checkSettings(t, r.cloud.settings["acq-identity"], dep.Version)
	if got := r.cloud.secrets["acq-identity-service-secret"]; got != testSecret {
		t.Error("the secret was not stored in key vault")
	}
	if want := []string{"add principal-acq-identity tenant-1 secrets:get"}; strings.Join(r.cloud.policies, ";") != want[0] {
		t.Errorf("access policies = %q", r.cloud.policies)
	}
	if len(r.cloud.roles) != 1 {
		t.Errorf("role assignments = %v", r.cloud.roles)
	}
	if !containerExists(t, r.blob, "acq-store") || packageCount(t, r.blob, "acq-identity/") != 1 {
		t.Error("store container or package blob missing in Azurite")
	}
	r.cloud.leaks(t, testSecret)
	if strings.Contains(mustJSON(dep), testSecret) {
		t.Error("the Deployment carries the secret")
	}
}

func checkSettings(t *testing.T, got map[string]string, version string) {
	t.Helper()
	want := map[string]string{
		"ACQUIRE_SERVICES":                             "identity,accounting",
		"ACQUIRE_STORE_URL":                            "azblob://acq-store?account=acqstore1",
		"ACQUIRE_PUBLIC_URL":                           "https://acq-identity.azurewebsites.net",
		"ACQUIRE_SERVICE_SECRET":                       kvRef,
		"ACQUIRE_TRUSTED_SERVICES":                     "https://other.example",
		"FUNCTIONS_WORKER_RUNTIME":                     "custom",
		"WEBSITE_RUN_FROM_PACKAGE_BLOB_MI_RESOURCE_ID": "SystemAssigned",
		"AzureWebJobsStorage__accountName":             "acqstore1",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("app setting %s = %q, want %q", k, got[k], v)
		}
	}
	if pkg := got["WEBSITE_RUN_FROM_PACKAGE"]; !strings.HasSuffix(pkg, "/acquire-packages/acq-identity/"+version+".zip") ||
		strings.Contains(pkg, "sig=") {
		t.Errorf("WEBSITE_RUN_FROM_PACKAGE = %q, want the plain package blob URL", pkg)
	}
}

func TestCreateTwiceConverges(t *testing.T) {
	r := newRig(t)
	s := testSpec(t)
	first, err := r.d.Create(context.Background(), s)
	if err != nil {
		t.Fatal(err)
	}
	second, err := r.d.Create(context.Background(), s)
	if err != nil {
		t.Fatalf("second Create: %v", err)
	}
	if first != second {
		t.Errorf("second Create = %+v, first %+v", second, first)
	}
	if len(r.cloud.roles) != 1 || packageCount(t, r.blob, "acq-identity/") != 1 {
		t.Errorf("after two Creates: %d role assignments, %d packages", len(r.cloud.roles), packageCount(t, r.blob, "acq-identity/"))
	}
	if sites := r.cloud.find(http.MethodPut, "/sites/acq-identity"); len(sites) != 2 || string(sites[0].Body) != string(sites[1].Body) {
		t.Error("the two Creates sent different apps")
	}
}

func TestReadAndUpdateOfAGoneAppAreNotFound(t *testing.T) {
	r := newRig(t)
	if _, err := r.d.Read(context.Background(), "acq-identity"); !errors.Is(err, deployer.ErrNotFound) {
		t.Errorf("Read = %v, want ErrNotFound", err)
	}
	if _, err := r.d.Update(context.Background(), testSpec(t)); !errors.Is(err, deployer.ErrNotFound) {
		t.Errorf("Update = %v, want ErrNotFound", err)
	}
	if len(r.cloud.find(http.MethodPut, "")) != 0 {
		t.Error("Update of a gone app wrote something")
	}
}

func TestReadFindsTheDeployment(t *testing.T) {
	r := newRig(t)
	created, err := r.d.Create(context.Background(), testSpec(t))
	if err != nil {
		t.Fatal(err)
	}
	read, err := r.d.Read(context.Background(), "acq-identity")
	if err != nil || read != created {
		t.Errorf("Read = %+v, %v; want %+v", read, err, created)
	}
	delete(r.cloud.sites, "acq-identity") // drift: deleted out of band
	if _, err := r.d.Read(context.Background(), "acq-identity"); !errors.Is(err, deployer.ErrNotFound) {
		t.Errorf("Read after drift = %v, want ErrNotFound", err)
	}
}

func TestUpdateChangesPackageAndSettingsInPlace(t *testing.T) {
	r := newRig(t)
	s := testSpec(t)
	first, err := r.d.Create(context.Background(), s)
	if err != nil {
		t.Fatal(err)
	}
	s.Artifact = writeZip(t, "v2")
	s.Env = map[string]string{"ACQUIRE_TRUSTED_SERVICES": "https://third.example"}
	s.Kinds = []string{"identity"}
	updated, err := r.d.Update(context.Background(), s)
	if err != nil {
		t.Fatal(err)
	}
	if updated.Version == first.Version || r.cloud.sites["acq-identity"].Tags[tagVersion] != updated.Version {
		t.Errorf("version %s → %s, tag %s", first.Version, updated.Version, r.cloud.sites["acq-identity"].Tags[tagVersion])
	}
	got := r.cloud.settings["acq-identity"]
	if got["ACQUIRE_SERVICES"] != "identity" || got["ACQUIRE_TRUSTED_SERVICES"] != "https://third.example" ||
		!strings.HasSuffix(got["WEBSITE_RUN_FROM_PACKAGE"], updated.Version+".zip") {
		t.Errorf("settings after Update = %v", got)
	}
	if n := len(r.cloud.find(http.MethodDelete, "/sites/acq-identity")); n != 0 {
		t.Error("Update deleted the app instead of changing it")
	}
}

func TestDeleteKeepsTheStoreUnlessAsked(t *testing.T) {
	r := newRig(t)
	spec := testSpec(t)
	if _, err := r.d.Create(context.Background(), spec); err != nil {
		t.Fatal(err)
	}
	// The secret reads back from the vault the app's tags name (the
	// provider keeps only a reference to it).
	if got, err := r.d.Secret(context.Background(), "acq-identity"); err != nil || got != spec.Secret {
		t.Fatalf("Secret after Create: %v (equal: %v)", err, got == spec.Secret)
	}
	if err := r.d.Delete(context.Background(), "acq-identity", false); err != nil {
		t.Fatal(err)
	}
	if _, err := r.d.Secret(context.Background(), "acq-identity"); !errors.Is(err, deployer.ErrNotFound) {
		t.Errorf("Secret after Delete = %v; want ErrNotFound", err)
	}
	if !containerExists(t, r.blob, "acq-store") {
		t.Fatal("Delete without deleteData removed the store container")
	}
	if packageCount(t, r.blob, "acq-identity/") != 0 || len(r.cloud.secrets) != 0 || len(r.cloud.roles) != 0 {
		t.Error("Delete left the package, the secret or the role assignment")
	}
	if p := r.cloud.policies; len(p) != 2 || !strings.HasPrefix(p[1], "remove principal-acq-identity") {
		t.Errorf("access policies = %q", p)
	}
	if len(r.cloud.find(http.MethodDelete, "/serverfarms/acq-identity-plan")) != 1 {
		t.Error("the plan was not deleted")
	}
	if _, err := r.d.Read(context.Background(), "acq-identity"); !errors.Is(err, deployer.ErrNotFound) {
		t.Errorf("Read after Delete = %v", err)
	}
	if err := r.d.Delete(context.Background(), "acq-identity", false); err != nil {
		t.Errorf("Delete of a deleted deployment = %v", err)
	}
}

func TestDeleteDataRemovesTheStore(t *testing.T) {
	r := newRig(t)
	if _, err := r.d.Create(context.Background(), testSpec(t)); err != nil {
		t.Fatal(err)
	}
	if err := r.d.Delete(context.Background(), "acq-identity", true); err != nil {
		t.Fatal(err)
	}
	if containerExists(t, r.blob, "acq-store") {
		t.Error("Delete with deleteData kept the store container")
	}
}

// An ARM operation that never finishes ends at PollTimeout, not at the
// caller's patience, and no settings are written for a half-made app.
func TestStuckOperationEndsAtPollTimeout(t *testing.T) {
	r := newRig(t)
	r.cloud.asyncPut, r.cloud.stuck = true, true
	r.d.web.pollTimeout = 300 * time.Millisecond
	start := time.Now()
	_, err := r.d.Create(context.Background(), testSpec(t))
	if err == nil || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Create = %v, want a deadline error", err)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("Create took %v", took)
	}
	if len(r.cloud.find(http.MethodPut, "/config/appsettings")) != 0 {
		t.Error("settings were written for an app that never finished")
	}
}
