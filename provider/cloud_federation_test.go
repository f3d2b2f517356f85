package provider

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"

	"github.com/openacquire/acquire/adapters/aws/s3store"
	"github.com/openacquire/acquire/adapters/azure/blobstore"
	"github.com/openacquire/acquire/adapters/deployer"
	"github.com/openacquire/acquire/adapters/gcp/gcsstore"
	"github.com/openacquire/acquire/adapters/servertest"
	"github.com/openacquire/acquire/runtime/accounting"
	"github.com/openacquire/acquire/runtime/auth"
	"github.com/openacquire/acquire/runtime/call"
	"github.com/openacquire/acquire/runtime/host"
	"github.com/openacquire/acquire/runtime/ledger"
	"github.com/openacquire/acquire/runtime/registry"
	"github.com/openacquire/acquire/runtime/service"
	"github.com/openacquire/acquire/runtime/store"
)

// cloudRig is region "eu" on a cloud (the fake cloud at the deployer
// boundary running the real function handler, its buckets on a real S3
// server, versitygw) and region "us" on a local host.
type cloudRig struct {
	cloud    string // aws (buckets on versitygw), gcp (fake-gcs-server) or azure (Azurite)
	prefix   string // of the store's buckets (on a server shared by several rigs)
	h        *adminHost
	fake     *fakeDeployer
	artifact string
	// stranger is a service of nobody's configuration, served over HTTP:
	// what acquire_trust makes the cloud accounting service trust.
	stranger *service.Service
	accounts int // accounts the stranger opened: each call opens another
}

// newCloudRig starts the rig; an azure rig's containers are made on the
// Azurite at azurite (its dev account's blob endpoint), named after the
// test's engine so that the engines share the server.
func newCloudRig(t *testing.T, cloud, azurite string) *cloudRig {
	t.Helper()
	ctx := context.Background()
	h := startAdminHost(t)
	if _, err := h.admin.Deploy(ctx, "reg", host.Spec{Kind: registry.Kind}); err != nil {
		t.Fatal(err)
	}
	prefix := ""
	if cloud == "azure" {
		prefix = t.Name()[strings.LastIndex(t.Name(), "/")+1:] + "-"
	}
	buckets := []string{prefix + "reg-eu", prefix + "acct-eu", prefix + "stranger"}
	var bucketURL func(string) string
	artifact := testArtifact(t, "aws-lambda-arm64.zip")
	switch cloud {
	case "gcp":
		bucketURL = gcsBuckets(t, buckets)
		artifact = testArtifact(t, "gcp-run-amd64.tar")
	case "azure":
		bucketURL = azureContainers(t, azurite, buckets)
		artifact = testArtifact(t, "azure-functions-amd64.zip")
	default:
		bucketURL = s3Buckets(t, buckets)
	}
	t.Setenv(EnvSecretSeed, "test-seed-for-cloud-federation")
	fake := newFakeDeployer(t, h.env.Clock.Now)
	fake.storeURL = bucketURL
	saved := newDeployer
	newDeployer = func(context.Context, cloudBlock) (deployer.Deployer, error) { return fake, nil }
	t.Cleanup(func() { newDeployer = saved })

	s3store.Register()
	gcsstore.Register()
	blobstore.Register()
	b, err := store.Open(ctx, bucketURL(prefix+"stranger"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return &cloudRig{cloud: cloud, prefix: prefix, h: h, fake: fake, artifact: artifact, stranger: newStranger(ctx, t, h, b)}
}

// newStranger serves a service of its own kind on its own store: one that
// no region trusts until told to.
func newStranger(ctx context.Context, t *testing.T, h *adminHost, b *store.Bucket) *service.Service {
	t.Helper()
	srv := httptest.NewServer(nil)
	t.Cleanup(srv.Close)
	stranger, err := service.New(ctx, service.Config{Kind: "stranger", URL: srv.URL + "/stranger", Bucket: b,
		Secret: "Stranger-Service-Secret-1", Clock: h.env.Clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	srv.Config.Handler = stranger
	return stranger
}

// unpeeredAndUntrusted checks, after destroy, that the local region has
// no peers left and the cloud accounting service's trust record is empty.
func (r *cloudRig) unpeeredAndUntrusted(ctx context.Context) func(*terraform.State) error {
	return func(*terraform.State) error {
		if err := peered(r.h, map[string]string{})(nil); err != nil {
			return err
		}
		list, err := r.trustRecord(ctx)
		if err != nil && !errors.Is(err, errGone) {
			return err
		}
		if len(list) != 0 {
			return fmt.Errorf("trust record after destroy: %v", list)
		}
		return nil
	}
}

// s3Buckets makes buckets on versitygw (the provider reaches them with
// the AWS chain, set here) and answers their store URLs.
func s3Buckets(t *testing.T, names []string) func(string) string {
	ctx := context.Background()
	end := servertest.Start(t, servertest.Versitygw)
	t.Setenv("AWS_ACCESS_KEY_ID", servertest.S3Access)
	t.Setenv("AWS_SECRET_ACCESS_KEY", servertest.S3Secret)
	t.Setenv("AWS_CONFIG_FILE", "/dev/null")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
	c := s3.New(s3.Options{Region: "us-east-1", BaseEndpoint: aws.String(end), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider(servertest.S3Access, servertest.S3Secret, "")})
	for _, b := range names {
		if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(b)}); err != nil {
			t.Fatal(err)
		}
	}
	return func(bucket string) string {
		return "s3://" + bucket + "?" + url.Values{"endpoint": {end}, "path_style": {"true"}, "region": {"us-east-1"}}.Encode()
	}
}

// gcsBuckets makes buckets on fake-gcs-server and answers their store URLs.
func gcsBuckets(t *testing.T, names []string) func(string) string {
	base := servertest.Start(t, servertest.FakeGCS("memory"))
	for _, b := range names {
		resp, err := http.Post(base+"/storage/v1/b", "application/json", strings.NewReader(`{"name":"`+b+`"}`))
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("create bucket %s: HTTP %d", b, resp.StatusCode)
		}
	}
	return func(bucket string) string {
		return "gs://" + bucket + "?" + url.Values{"anonymous": {"true"}, "endpoint": {base + "/storage/v1/"}}.Encode()
	}
}

// azureContainers makes containers on Azurite and answers their store
// URLs as the Azure deployer records them (azblob://<container>?account=
// <storage account>, no endpoint): the provider reaches the account
// through the connection string set here, whose BlobEndpoint is Azurite,
// as the function's own store URL would be resolved on Azure.
func azureContainers(t *testing.T, end string, names []string) func(string) string {
	ctx := context.Background()
	t.Setenv(blobstore.EnvConnectionString, "DefaultEndpointsProtocol=http;AccountName="+servertest.AzuriteAccount+
		";AccountKey="+servertest.AzuriteKey+";BlobEndpoint="+end+";")
	cred, err := azblob.NewSharedKeyCredential(servertest.AzuriteAccount, servertest.AzuriteKey)
	if err != nil {
		t.Fatal(err)
	}
	c, err := azblob.NewClientWithSharedKeyCredential(end+"/", cred, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		if _, err := c.CreateContainer(ctx, n, nil); err != nil {
			t.Fatal(err)
		}
	}
	return func(container string) string {
		return "azblob://" + container + "?account=" + servertest.AzuriteAccount
	}
}

// azureDeployment is the rig's Azure subscription and resource group.
const azureDeployment = "azure/00000000-0000-0000-0000-000000000000/acquire/"

// ref is a deployment of the rig's cloud, as acquire_service imports it.
func (r *cloudRig) ref(name string) string {
	switch r.cloud {
	case "gcp":
		return "gcp/my-project/europe-west1/" + name
	case "azure":
		return azureDeployment + name
	}
	return "aws/us-east-1/" + name
}

// place is a service's platform block and store on the rig's cloud.
func (r *cloudRig) place(bucket string) string {
	if r.cloud == "azure" {
		return fmt.Sprintf(`platform {
    azure {
      subscription    = "00000000-0000-0000-0000-000000000000"
      resource_group  = "acquire"
      location        = "uksouth"
      storage_account = %q
      key_vault       = "acquire-kv"
      artifact        = %q
    }
  }
  store = { azure = { container = %q } }`, servertest.AzuriteAccount, r.artifact, bucket)
	}
	if r.cloud == "gcp" {
		return fmt.Sprintf(`platform {
    gcp {
      project         = "my-project"
      region          = "europe-west1"
      repository      = "acquire"
      service_account = "fn@my-project.iam.gserviceaccount.com"
      artifact        = %q
    }
  }
  store = { gcs = { bucket = %q } }`, r.artifact, bucket)
	}
	return fmt.Sprintf(`platform {
    aws {
      region   = "us-east-1"
      artifact = %q
    }
  }
  store = { s3 = { bucket = %q, region = "us-east-1" } }`, r.artifact, bucket)
}

// services: the eu registry and accounting on the cloud.
func (r *cloudRig) services() string {
	return providerBlock(r.h.env.URL) + fmt.Sprintf(`
resource "acquire_service" "registry" {
  name = "reg-eu"
  kind = "registry"
  %[2]s
}

resource "acquire_service" "accounting" {
  name               = "acct-eu"
  kind               = "accounting"
  registry           = acquire_service.registry.url
  trusted_identities = ["%[1]s/ident", "%[1]s/ident2"]
  trusted_services   = ["%[1]s/access"]
  %[3]s
}
`, r.h.env.URL, r.place(r.prefix+"reg-eu"), r.place(r.prefix+"acct-eu"))
}

// config: the services, the two halves of the eu-us peering (eu's through
// its deployment), and the accounting service's trust in the stranger
// (through its deployment). extra is appended.
func (r *cloudRig) config(trust bool, extra string) string {
	u := r.h.env.URL
	cfg := r.services() + fmt.Sprintf(`
resource "acquire_registry_peering" "eu_us" {
  deployment = %[2]q
  registry   = acquire_service.registry.url
  peer       = "%[1]s/reg"
  label      = "us"
}

resource "acquire_registry_peering" "us_eu" {
  registry   = "%[1]s/reg"
  peer       = acquire_service.registry.url
  label      = "eu"
  depends_on = [acquire_registry_peering.eu_us]
}
`, u, r.ref("reg-eu"))
	if trust {
		cfg += fmt.Sprintf(`
resource "acquire_trust" "stranger" {
  deployment = %q
  service    = acquire_service.accounting.url
  trusted    = %q
}
`, r.ref("acct-eu"), r.stranger.URL())
	}
	return cfg + extra
}

// cloudPeers lists the eu registry's peers (active or pending) by opening
// it on its store as the provider does.
func (r *cloudRig) cloudPeers(ctx context.Context) (map[string]string, string, error) {
	t, err := parseDeployment(r.ref("reg-eu"))
	if err != nil {
		return nil, "", err
	}
	return registryPeersAt(ctx, t)
}

// registryPeersAt lists a cloud registry's peers (active or pending) and
// its region, opening it on its store with its secret as the provider
// does.
func registryPeersAt(ctx context.Context, t *cloudTarget) (map[string]string, string, error) {
	got := map[string]string{}
	region := ""
	err := withCloudService(ctx, nil, t, func(h *host.Host, _ string) error {
		l, err := h.Peers(ctx, registry.Kind)
		if err != nil {
			return err
		}
		region = l.Region
		for _, p := range l.Peers {
			if p.State == registry.PeerActive || p.State == registry.PeerPending {
				got[p.URL] = p.State
			}
		}
		return nil
	})
	return got, region, err
}

func (r *cloudRig) peeredBoth(want string) resource.TestCheckFunc {
	return func(s *terraform.State) error {
		ctx := context.Background()
		got, _, err := r.cloudPeers(ctx)
		if err != nil {
			return err
		}
		if got[r.h.env.URL+"/reg"] != want || len(got) != 1 {
			return fmt.Errorf("the cloud registry's peers %v, want us %s", got, want)
		}
		regURL := s.RootModule().Resources["acquire_service.registry"].Primary.Attributes["url"]
		return peered(r.h, map[string]string{regURL: want})(s)
	}
}

// cashAsStranger has the stranger service open an account in its own name
// at the cloud accounting service (what a trusted service may do). The
// stranger is registered with the cloud region's registry first: a
// service acting in its own name has its keys checked through its home
// registry.
func (r *cloudRig) cashAsStranger(ctx context.Context, s *terraform.State) error {
	c := call.NewClient(&call.MemoryPins{})
	c.Clock = r.h.env.Clock.Now
	reg := s.RootModule().Resources["acquire_service.registry"].Primary.Attributes["url"]
	rec, err := (&registry.Client{C: c, URL: reg}).Register(ctx, r.stranger.URL(), "stranger")
	if err != nil {
		return err
	}
	if err := r.stranger.SetUID(ctx, rec.UID, reg); err != nil {
		return err
	}
	acc := &accounting.Client{C: c, URL: s.RootModule().Resources["acquire_service.accounting"].Primary.Attributes["url"]}
	r.accounts++
	_, err = acc.CreateAccount(ctx, r.stranger, fmt.Sprintf("takings-%d", r.accounts), ledger.MustParse("0"))
	return err
}

// impostor answers as the us registry (its public keys, with its own URL
// put in) but cannot answer a challenge: the real registry behind it
// answers for its own URL.
func (r *cloudRig) impostor(t *testing.T) string {
	target, _ := url.Parse(r.h.env.URL)
	p := httputil.NewSingleHostReverseProxy(target)
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)
	real, fake := []byte(`"url":"`+r.h.env.URL+`/reg"`), []byte(`"url":"`+srv.URL+`/reg"`)
	p.ModifyResponse = func(resp *http.Response) error {
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			return err
		}
		body = bytes.ReplaceAll(body, real, fake)
		resp.Body = io.NopCloser(bytes.NewReader(body))
		resp.ContentLength = int64(len(body))
		resp.Header.Set("Content-Length", strconv.Itoa(len(body)))
		return nil
	}
	return srv.URL + "/reg"
}

// TestAccCloudPeeringAndTrust: a registry on a cloud peers with one on a
// local host (both halves, active), an accounting service on the cloud
// trusts a service through acquire_trust (seen by the running function
// without a redeploy) and lists its trusted identities and services as
// attributes; import, drift on either side of the peering and of the
// trust, destroy (unpeered on both sides, trust record emptied). Abuse:
// a peer that fails the challenge, trust of a URL that is not a service,
// import of a peering that does not exist, the trust lists' mistakes at
// plan. The cloud is the fake at the deployer boundary over versitygw;
// nothing here ran on a live cloud.
func TestAccCloudPeeringAndTrust(t *testing.T) {
	forEachEngine(t, func(t *testing.T) { peeringAndTrustOn(t, "aws", "") })
}

// TestAccCloudPeeringAndTrustOnAzure: the same steps (but the plan-only
// ones, which no platform changes) with the services on the azure
// platform block, referred to as azure/<subscription>/<resource
// group>/<name>, and their containers on Azurite, reached through the
// store URL the Azure deployer records (account only) and a connection
// string: peering through a registry opened on Azure Blob, the trust
// record there read by the running function, import, drift on both sides,
// destroy, the impostor peer, trust of a non-service, a nonexistent
// import. The Azure deployer itself (ARM, Key Vault) is tested at the
// SDK's fake servers in adapters/azure/deploy; here the cloud is the fake
// at the deployer boundary.
func TestAccCloudPeeringAndTrustOnAzure(t *testing.T) {
	azurite := ""
	if os.Getenv("TF_ACC") != "" { // started once, for both engines (forEachEngine skips without TF_ACC)
		azurite = servertest.Start(t, servertest.Azurite) + "/" + servertest.AzuriteAccount
	}
	forEachEngine(t, func(t *testing.T) { peeringAndTrustOn(t, "azure", azurite) })
}

// peeringAndTrustOn runs TestAccCloudPeeringAndTrust's steps on cloud
// (aws: all of them; another cloud: all but the plan-only ones).
func peeringAndTrustOn(t *testing.T, cloud, azurite string) {
	r := newCloudRig(t, cloud, azurite)
	ctx := context.Background()
	u := r.h.env.URL
	var planOnly []resource.TestStep
	if cloud == "aws" {
		planOnly = []resource.TestStep{
			{
				Config: r.config(false, fmt.Sprintf(`
resource "acquire_trust" "both" {
  deployment = %[2]q
  host_url   = %[1]q
  service    = "%[1]s/accounting"
  trusted    = "%[1]s/access"
}
`, u, r.ref("acct-eu"))),
				PlanOnly:    true,
				ExpectError: regexp.MustCompile(`(?s)deployment.*host_url|host_url.*deployment`),
			},
			badTrustLists(r.config(false, ""), `settings = { trusted_identities = "https://a.example/identity" }
  trusted_identities = ["https://a.example/identity"]`, `trusted_identities:\s+also\s+given\s+as\s+settings.trusted_identities`),
			badTrustLists(r.config(false, ""), `trusted_identities = ["https://a.example/identity", "ftp://b.example/x"]`,
				`trusted_identities\[1\]:`),
			badTrustLists(r.config(false, ""), `trusted_identities = ["https://a.example/identity", "https://a.example/identity/"]`,
				`trusted_identities\[1\]:\s+https://a.example/identity/\s+is\s+already\s+listed`),
			badTrustLists(r.config(false, ""), `trusted_services = ["https://c.example/access"]`,
				`trusted_services:\s+a\s+storage\s+service\s+takes\s+no\s+trusted\s+services`),
		}
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProviders,
		Steps: scanEveryApply(append(planOnly, []resource.TestStep{
			{
				// The services alone: with the real peering in the same
				// apply, whichever of the two ran first decided the error
				// ("already peered" when the real one won).
				Config: r.services() + fmt.Sprintf(`
resource "acquire_registry_peering" "impostor" {
  deployment = %q
  registry   = acquire_service.registry.url
  peer       = %q
}
`, r.ref("reg-eu"), r.impostor(t)),
				ExpectError: regexp.MustCompile(`challenge`),
			},
			{
				// Before any trust: the stranger is refused by name.
				PreConfig: func() {},
				Config:    r.config(false, ""),
				Check: resource.ComposeTestCheckFunc(
					r.peeredBoth(registry.PeerActive),
					resource.TestCheckResourceAttr("acquire_registry_peering.eu_us", "service_name", "reg-eu"),
					resource.TestCheckResourceAttrSet("acquire_registry_peering.eu_us", "peer_region"),
					func(s *terraform.State) error {
						err := r.cashAsStranger(ctx, s)
						if !errors.Is(err, auth.ErrServiceNotTrusted) || !strings.Contains(err.Error(), r.stranger.URL()) {
							return fmt.Errorf("an untrusted service must be refused by name: %w", err)
						}
						return r.checkTrustLists(u)
					},
				),
			},
			{
				Config: r.config(true, ""),
				Check: resource.ComposeTestCheckFunc(
					resource.TestCheckResourceAttr("acquire_trust.stranger", "service_name", "acct-eu"),
					func(s *terraform.State) error {
						time.Sleep(200 * time.Millisecond) // past the trust record's stranger rate limit
						if err := r.cashAsStranger(ctx, s); err != nil {
							return fmt.Errorf("trusted through acquire_trust, the running function still refuses: %w", err)
						}
						return nil
					},
				),
			},
			{ResourceName: "acquire_registry_peering.eu_us", ImportState: true, ImportStateVerify: true,
				ImportStateId: r.ref("reg-eu") + "," + u + "/reg", ImportStateVerifyIgnore: []string{"state"}},
			{ResourceName: "acquire_trust.stranger", ImportState: true, ImportStateVerify: true,
				ImportStateId: r.ref("acct-eu") + "," + r.stranger.URL()},
			{ResourceName: "acquire_registry_peering.eu_us", ImportState: true,
				ImportStateId: r.ref("reg-eu") + ",https://nowhere.example/reg",
				ExpectError:   regexp.MustCompile(`(?i)non-existent|nonexistent|does not exist`)},
			{
				// Drift: unpeered on the cloud side, untrusted out of band.
				PreConfig: func() {
					t2, _ := parseDeployment(r.ref("reg-eu"))
					l, err := r.h.admin.Peers(ctx, "reg")
					if err != nil {
						t.Fatal(err)
					}
					if err := withCloudService(ctx, nil, t2, func(h *host.Host, _ string) error {
						_, err := h.RemovePeer(ctx, registry.Kind, l.Region)
						return err
					}); err != nil {
						t.Fatal(err)
					}
					r.untrust(t)
				},
				Config: r.config(true, ""),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("acquire_registry_peering.eu_us", plancheck.ResourceActionCreate),
					plancheck.ExpectResourceAction("acquire_trust.stranger", plancheck.ResourceActionCreate),
				}},
				Check: r.peeredBoth(registry.PeerActive),
			},
			{
				// Drift on the other side: the local registry unpeered.
				PreConfig: func() {
					_, region, err := r.cloudPeers(ctx)
					if err != nil {
						t.Fatal(err)
					}
					if _, err := r.h.admin.RemovePeer(ctx, "reg", region); err != nil {
						t.Fatal(err)
					}
				},
				Config: r.config(true, ""),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("acquire_registry_peering.us_eu", plancheck.ResourceActionCreate),
				}},
				Check: r.peeredBoth(registry.PeerActive),
			},
			{
				Config: r.config(true, fmt.Sprintf(`
resource "acquire_trust" "nothing" {
  deployment = %q
  service    = acquire_service.accounting.url
  trusted    = "%s/nowhere"
}
`, r.ref("acct-eu"), u)),
				ExpectError: regexp.MustCompile(`does\s+not\s+answer\s+as\s+an\s+Acquire\s+service`),
			},
			{Config: r.config(true, "")},
		}...), checkNoSecretsInState(func() []string {
			return append(r.fake.secretValues(), servertest.S3Secret, servertest.AzuriteKey)
		})),
		CheckDestroy: r.unpeeredAndUntrusted(ctx),
	})
}

// badTrustLists is a plan-only step whose storage service sets attrs
// and must fail with want.
func badTrustLists(cfg, attrs, want string) resource.TestStep {
	return resource.TestStep{
		Config: cfg + `
resource "acquire_service" "bad" {
  name = "bad"
  kind = "storage"
  ` + attrs + `
}
`,
		PlanOnly:    true,
		ExpectError: regexp.MustCompile(want),
	}
}

// checkTrustLists: the accounting function was deployed with the trust
// lists from the attributes, in the environment the runtime reads.
func (r *cloudRig) checkTrustLists(u string) error {
	r.fake.mu.Lock()
	defer r.fake.mu.Unlock()
	for i := len(r.fake.specs) - 1; i >= 0; i-- {
		sp := r.fake.specs[i]
		if sp.Name != "acct-eu" {
			continue
		}
		if sp.Env[host.EnvTrustedServices] != u+"/access" || !strings.Contains(sp.Env[host.EnvTrustedIdentities], u+"/ident2") {
			return fmt.Errorf("accounting's environment %v", sp.Env)
		}
		return nil
	}
	return errors.New("no accounting spec reached the deployer")
}

func (r *cloudRig) trustRecord(ctx context.Context) ([]string, error) {
	t, _ := parseDeployment(r.ref("acct-eu"))
	var list []string
	err := withCloudStore(ctx, nil, t, func(b *store.Bucket, _, _ string) (err error) {
		list, err = service.TrustedRecord(ctx, b)
		return err
	})
	return list, err
}

func (r *cloudRig) untrust(t *testing.T) {
	ctx := context.Background()
	tg, _ := parseDeployment(r.ref("acct-eu"))
	if err := withCloudStore(ctx, nil, tg, func(b *store.Bucket, _, _ string) error {
		list, err := service.SetTrusted(ctx, b, r.stranger.URL(), false, time.Now())
		if err == nil && slices.Contains(list, r.stranger.URL()) {
			err = errors.New("still trusted")
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
}

// TestAccCloudPeeringAndTrustOnGCP: the same paths with the services on
// the gcp platform block and their buckets on fake-gcs-server: peering
// through a registry opened on GCS, the trust record on GCS read by the
// running function, import by gcp/<project>/<region>/<name>, drift of the
// trust, destroy.
func TestAccCloudPeeringAndTrustOnGCP(t *testing.T) {
	forEachEngine(t, func(t *testing.T) {
		r := newCloudRig(t, "gcp", "")
		ctx := context.Background()
		u := r.h.env.URL
		trusted := func(s *terraform.State) error {
			time.Sleep(200 * time.Millisecond) // past the trust record's stranger rate limit
			if list, err := r.trustRecord(ctx); err != nil || !slices.Equal(list, []string{r.stranger.URL()}) {
				return fmt.Errorf("trust record %v (%w)", list, err)
			}
			if err := r.cashAsStranger(ctx, s); err != nil {
				return fmt.Errorf("trusted through acquire_trust, the running function still refuses: %w", err)
			}
			return nil
		}
		resource.Test(t, resource.TestCase{
			ProtoV6ProviderFactories: testAccProviders,
			Steps: scanEveryApply([]resource.TestStep{
				{Config: r.config(true, ""), Check: resource.ComposeTestCheckFunc(r.peeredBoth(registry.PeerActive), trusted)},
				{ResourceName: "acquire_trust.stranger", ImportState: true, ImportStateVerify: true,
					ImportStateId: r.ref("acct-eu") + "," + r.stranger.URL()},
				{ResourceName: "acquire_registry_peering.eu_us", ImportState: true, ImportStateVerify: true,
					ImportStateId: r.ref("reg-eu") + "," + u + "/reg", ImportStateVerifyIgnore: []string{"state"}},
				{
					PreConfig: func() { r.untrust(t) },
					Config:    r.config(true, ""),
					ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction("acquire_trust.stranger", plancheck.ResourceActionCreate),
					}},
					Check: trusted,
				},
			}, checkNoSecretsInState(func() []string { return r.fake.secretValues() })),
			CheckDestroy: r.unpeeredAndUntrusted(ctx),
		})
	})
}
