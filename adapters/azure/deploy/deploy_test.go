package deploy

import (
	"archive/zip"
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"slices"
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

const kvRef = "@Microsoft.KeyVault(SecretUri=https://acq-kv.vault.azure.net/secrets/acq-identity-service-secret/)"

func testSpecSized(t *testing.T) deployer.Spec {
	s := testSpec(t)
	s.Settings[SettingHTTPConcurrency] = "16"
	s.Function = deployer.Function{MemoryMB: 4096, MaxInstances: 40, TimeoutS: 120, LogRetentionDays: 90,
		Tags: map[string]string{"owner": "platform"}}
	return s
}

func TestCreateSendsAFlexAppWithLeastPrivilege(t *testing.T) {
	r := newRig(t)
	r.cloud.asyncPut = true // the site PUT goes through the SDK's LRO poller
	dep, err := r.d.Create(context.Background(), testSpecSized(t))
	if err != nil {
		t.Fatalf("Create: %v (refused: %v)", err, r.cloud.refused)
	}
	if dep.URL != "https://acq-identity.azurewebsites.net" || dep.StoreURL != "azblob://acq-store?account=acqstore1" ||
		dep.SecretRef != "https://acq-kv.vault.azure.net/secrets/acq-identity-service-secret/" || len(dep.Version) != 64 {
		t.Errorf("deployment = %+v", dep)
	}
	st := r.cloud.sites["acq-identity"]
	f := st.Properties.FunctionAppConfig
	if *st.Properties.ServerFarmID != "/subscriptions/sub-1/resourceGroups/rg-1/providers/Microsoft.Web/serverfarms/acq-identity-plan" ||
		*f.Deployment.Storage.Value != "https://acqstore1.blob.core.windows.net/acquire-pkg-acq-identity" ||
		*f.ScaleAndConcurrency.InstanceMemoryMB != 4096 || *f.ScaleAndConcurrency.MaximumInstanceCount != 40 ||
		*f.ScaleAndConcurrency.Triggers.HTTP.PerInstanceConcurrency != 16 || *st.Properties.SiteConfig.MinTLSVersion != "1.2" ||
		!*st.Properties.HTTPSOnly {
		t.Errorf("site sent = %s", mustJSON(st))
	}
	if p := r.cloud.plans["acq-identity-plan"]; *p.SKU.Name != "FC1" || p.Tags["owner"] == nil {
		t.Errorf("plan sent = %s", mustJSON(p))
	}
	if w := r.cloud.workspaces["acq-identity-logs"]; *w.Properties.RetentionInDays != 90 {
		t.Errorf("workspace retention = %d", *w.Properties.RetentionInDays)
	}
	if a := r.cloud.components["acq-identity-insights"]; !*a.Properties.DisableLocalAuth {
		t.Error("application insights accepts keys")
	}
	checkSettings(t, r.cloud.settings["acq-identity"])
	if got := r.cloud.settings["acq-identity"]["AzureFunctionsJobHost__functionTimeout"]; got != "00:02:00" {
		t.Errorf("functionTimeout = %q", got)
	}
	if got := r.cloud.secrets["acq-identity-service-secret"]; got != testSecret {
		t.Error("the secret was not stored in key vault")
	}
	if !containerExists(t, r.blob, "acq-store") || !containerExists(t, r.blob, "acquire-pkg-acq-identity") ||
		!containerExists(t, r.blob, "azure-webjobs-hosts") {
		t.Error("a container is missing in Azurite")
	}
	if zip := r.cloud.published["acq-identity.scm.azurewebsites.net"]; len(zip) == 0 {
		t.Error("the package was not published to the app's SCM host")
	}
	checkGrants(t, r.cloud.grantsAt())
	checkTags(t, r.cloud)
	r.cloud.leaks(t, testSecret)
	if strings.Contains(mustJSON(dep), testSecret) {
		t.Error("the Deployment carries the secret")
	}
}

// checkGrants: exactly these role assignments, each at one resource.
func checkGrants(t *testing.T, got []string) {
	t.Helper()
	acct := "/subscriptions/sub-1/resourceGroups/rg-1/providers/Microsoft.Storage/storageAccounts/acqstore1/blobServices/default/containers/"
	want := []string{
		RoleStorageBlobDataContributor + "@" + acct + "acq-store",
		RoleStorageBlobDataContributor + "@" + acct + "acquire-pkg-acq-identity",
		RoleStorageBlobDataContributor + "@" + acct + "azure-webjobs-hosts",
		RoleStorageBlobDataContributor + "@" + acct + "azure-webjobs-secrets",
		RoleMonitoringMetricsPublisher + "@/subscriptions/sub-1/resourceGroups/rg-1/providers/Microsoft.Insights/components/acq-identity-insights",
		RoleKeyVaultSecretsUser + "@" + vaultID + "/secrets/acq-identity-service-secret",
	}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("role assignments:\n got %q\nwant %q", got, want)
	}
}

// checkTags: the caller's tags on every object that takes tags, never over
// the deployer's own.
func checkTags(t *testing.T, c *cloud) {
	t.Helper()
	tagged := map[string]map[string]*string{"site": c.sites["acq-identity"].Tags, "plan": c.plans["acq-identity-plan"].Tags,
		"workspace": c.workspaces["acq-identity-logs"].Tags, "component": c.components["acq-identity-insights"].Tags,
		"secret": armTags(c.secretTags["acq-identity-service-secret"])}
	for what, tags := range tagged {
		v := tagValues(tags)
		if v["owner"] != "platform" || v[tagVault] != "acq-kv" || v[tagKinds] != "identity,accounting" {
			t.Errorf("%s tags = %v", what, v)
		}
	}
}

func checkSettings(t *testing.T, got map[string]string) {
	t.Helper()
	want := map[string]string{
		"ACQUIRE_SERVICES":                          "identity,accounting",
		"ACQUIRE_STORE_URL":                         "azblob://acq-store?account=acqstore1",
		"ACQUIRE_PUBLIC_URL":                        "https://acq-identity.azurewebsites.net",
		"ACQUIRE_SERVICE_SECRET":                    kvRef,
		"ACQUIRE_TRUSTED_SERVICES":                  "https://other.example",
		"AzureWebJobsStorage__accountName":          "acqstore1",
		"APPLICATIONINSIGHTS_AUTHENTICATION_STRING": "Authorization=AAD",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("app setting %s = %q, want %q", k, got[k], v)
		}
	}
	for _, k := range []string{"FUNCTIONS_WORKER_RUNTIME", "WEBSITE_RUN_FROM_PACKAGE", "AzureWebJobsStorage"} {
		if _, ok := got[k]; ok {
			t.Errorf("app setting %s is set (Flex refuses it, or it would hold a key)", k)
		}
	}
	if !strings.HasPrefix(got["APPLICATIONINSIGHTS_CONNECTION_STRING"], "InstrumentationKey=") {
		t.Errorf("no application insights connection string: %v", got)
	}
}

// An access-policy vault is refused before anything is made.
func TestAccessPolicyVaultIsRefusedFirst(t *testing.T) {
	r := newRig(t)
	r.cloud.accessMode = true
	if _, err := r.d.Create(context.Background(), testSpec(t)); !errors.Is(err, ErrAccessPolicyVault) {
		t.Fatalf("Create = %v, want ErrAccessPolicyVault", err)
	}
	if n := len(r.cloud.find(http.MethodPut, "")); n != 0 || containerExists(t, r.blob, "acq-store") {
		t.Errorf("%d PUTs, or a container, before the vault was found unusable", n)
	}
}

// A new identity that Entra has not replicated yet is waited for.
func TestRoleAssignmentWaitsForANewPrincipal(t *testing.T) {
	r := newRig(t)
	r.cloud.lag = 2
	if _, err := r.d.Create(context.Background(), testSpec(t)); err != nil {
		t.Fatalf("Create: %v", err)
	}
	if len(r.cloud.grantsAt()) != 6 {
		t.Errorf("role assignments = %v", r.cloud.grantsAt())
	}
}

func TestFailedPackageDeploymentIsAnError(t *testing.T) {
	r := newRig(t)
	r.cloud.deployFail = true
	if _, err := r.d.Create(context.Background(), testSpec(t)); err == nil || !strings.Contains(err.Error(), "package deployment failed") {
		t.Fatalf("Create = %v", err)
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
	if n := len(r.cloud.grantsAt()); n != 6 {
		t.Errorf("after two Creates: %d role assignments", n)
	}
	sites := r.cloud.find(http.MethodPut, "/sites/acq-identity")
	if len(sites) != 2 || !strings.Contains(string(sites[0].Body), "AzureWebJobsStorage__accountName") ||
		strings.Contains(string(sites[1].Body), "appSettings") {
		t.Error("the app's first PUT must carry the host settings, and a later one none (settings are replaced whole afterwards)")
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
	names, err := r.d.List(context.Background(), "acq-")
	if err != nil || !slices.Equal(names, []string{"acq-identity"}) {
		t.Errorf("List = %v, %v", names, err)
	}
	r.cloud.mu.Lock()
	delete(r.cloud.sites, "acq-identity") // drift: deleted out of band
	r.cloud.mu.Unlock()
	if _, err := r.d.Read(context.Background(), "acq-identity"); !errors.Is(err, deployer.ErrNotFound) {
		t.Errorf("Read after drift = %v, want ErrNotFound", err)
	}
}

func TestUpdateChangesPackageSizeAndSettingsInPlace(t *testing.T) {
	r := newRig(t)
	s := testSpec(t)
	first, err := r.d.Create(context.Background(), s)
	if err != nil {
		t.Fatal(err)
	}
	s.Artifact = writeZip(t, "v2")
	s.Env = map[string]string{"ACQUIRE_TRUSTED_SERVICES": "https://third.example"}
	s.Kinds = []string{"identity"}
	s.Function.MemoryMB = 512
	updated, err := r.d.Update(context.Background(), s)
	if err != nil {
		t.Fatal(err)
	}
	st := r.cloud.sites["acq-identity"]
	if updated.Version == first.Version || *st.Tags[tagVersion] != updated.Version ||
		*st.Properties.FunctionAppConfig.ScaleAndConcurrency.InstanceMemoryMB != 512 {
		t.Errorf("version %s → %s, tag %s", first.Version, updated.Version, *st.Tags[tagVersion])
	}
	got := r.cloud.settings["acq-identity"]
	if got["ACQUIRE_SERVICES"] != "identity" || got["ACQUIRE_TRUSTED_SERVICES"] != "https://third.example" {
		t.Errorf("settings after Update = %v", got)
	}
	if n := len(r.cloud.find(http.MethodPost, "/api/publish")); n != 2 {
		t.Errorf("%d publishes, want one per apply", n)
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
	if containerExists(t, r.blob, "acquire-pkg-acq-identity") || len(r.cloud.secrets) != 0 || len(r.cloud.grantsAt()) != 0 {
		t.Errorf("Delete left the package container, the secret or role assignments %v", r.cloud.grantsAt())
	}
	if len(r.cloud.plans) != 0 || len(r.cloud.workspaces) != 0 || len(r.cloud.components) != 0 {
		t.Error("the plan, the workspace or the component was not deleted")
	}
	if !containerExists(t, r.blob, "azure-webjobs-hosts") {
		t.Error("Delete removed a host container other apps share")
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
	r.d.opts.PollTimeout = 300 * time.Millisecond
	_, err := r.d.Create(context.Background(), testSpec(t))
	if err == nil || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Create = %v, want a deadline error", err)
	}
	if len(r.cloud.find(http.MethodPut, "/config/appsettings")) != 0 || len(r.cloud.find(http.MethodPost, "/api/publish")) != 0 {
		t.Error("settings or a package were sent to an app that never finished")
	}
}
