package acctest

import (
	"bytes"
	"context"
	"crypto/rand"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/openacquire/acquire/adapters/aws/s3store"
	"github.com/openacquire/acquire/adapters/azure/azurefn"
	"github.com/openacquire/acquire/adapters/azure/blobstore"
	"github.com/openacquire/acquire/adapters/functiontest"
	"github.com/openacquire/acquire/adapters/gcp/gcsstore"
	"github.com/openacquire/acquire/adapters/servertest"
	"github.com/openacquire/acquire/runtime/accounting"
	"github.com/openacquire/acquire/runtime/call"
	"github.com/openacquire/acquire/runtime/crypto"
	"github.com/openacquire/acquire/runtime/host"
	"github.com/openacquire/acquire/runtime/host/hosttest"
	"github.com/openacquire/acquire/runtime/identity"
	"github.com/openacquire/acquire/runtime/ledger"
	"github.com/openacquire/acquire/runtime/registry"
	"github.com/openacquire/acquire/runtime/service"
	"github.com/openacquire/acquire/runtime/storage"
	"github.com/openacquire/acquire/runtime/store"
)

// TestCrossCloud puts each service in a different place: the registry on
// local files (the local platform), identity on S3 (versitygw) served by
// the Lambda bootstrap under the runtime interface emulator, accounting on
// GCS (fake-gcs-server) served by the Cloud Run server, storage on Azure
// Blob (Azurite) served by the Azure Functions custom handler. The
// services find and check each other only through their public URLs. A
// user registers, logs in, transfers money and round-trips files: a small
// one inline, a multi-chunk one whose bytes go straight to Azurite through
// the SAS URLs the storage service signs.
func TestCrossCloud(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	reg := hosttest.Start(t, hosttest.Options{StoreURL: "file://" + t.TempDir(), Kinds: []string{registry.Kind}})
	idStore := s3Bucket(t, ctx, "acq-identity")
	accStore := gcsBucket(t, "acq-accounting")
	blobStore := azureContainer(t, ctx, "acq-storage")
	idURL := startLambda(t, idStore) + "/identity"
	accURL := startCloudRun(t, accStore) + "/accounting"
	stURL := startAzureFunction(t, blobStore) + "/storage"

	// Each service proves to the registry that it holds its keys, through its platform.
	rc := &registry.Client{C: reg.Client, URL: reg.Host.ServiceURL(registry.Kind)}
	for _, s := range []struct{ url, kind string }{{idURL, identity.Kind}, {accURL, accounting.Kind}, {stURL, storage.Kind}} {
		rec, err := rc.Register(ctx, s.url, s.kind)
		if err != nil {
			t.Fatalf("registering %s: %v", s.url, err)
		}
		got, err := rc.Lookup(ctx, registry.LookupArgs{UID: rec.UID})
		if err != nil || got.URL != s.url {
			t.Fatalf("lookup %s: %+v, %v", rec.UID, got, err)
		}
	}

	c := call.NewClient(&call.MemoryPins{})
	alice, bob := login(t, ctx, c, idURL, "alice"), login(t, ctx, c, idURL, "bob")
	acc := &accounting.Client{C: c, URL: accURL}
	makeAdmin(t, ctx, accStore, accounting.Kind, alice) // only an admin grants an overdraft
	from, err := acc.CreateAccount(ctx, alice, "main", ledger.MustParse("100"))
	if err != nil {
		t.Fatal(err)
	}
	to, err := acc.CreateAccount(ctx, bob, "main", ledger.MustParse("0"))
	if err != nil {
		t.Fatal(err)
	}
	tr := accounting.Transfer{ID: "cross-1", From: from.ID, To: to.ID, Amount: ledger.MustParse("12.5")}
	first, err := acc.Transfer(ctx, alice, tr)
	if err != nil {
		t.Fatal(err)
	}
	again, err := acc.Transfer(ctx, alice, tr)
	if err != nil || again.State != first.State || first.State != ledger.StateApplied {
		t.Fatalf("transfer %+v, retry %+v, %v", first, again, err)
	}
	for s, want := range map[*identity.Session]string{alice: "-12.500000", bob: "12.500000"} {
		account := from.ID
		if s == bob {
			account = to.ID
		}
		b, err := acc.Balance(ctx, s, account, time.Time{})
		if err != nil || b.Balance.String() != want {
			t.Fatalf("%s balance %+v, %v; want %s", s.Username, b, err, want)
		}
	}
	roundTrips(t, ctx, &storage.Client{C: c, URL: stURL}, alice)
	// The state is where each service was put.
	wantKeys(t, ctx, idStore, identity.Kind, "identity/users/")
	wantKeys(t, ctx, accStore, accounting.Kind, "ledger/transfers/")
	wantKeys(t, ctx, blobStore, storage.Kind, "storage/blobs/")
}

// roundTrips uploads a small file (inline) and a file of several chunks,
// and downloads both byte for byte.
func roundTrips(t *testing.T, ctx context.Context, st *storage.Client, s *identity.Session) {
	t.Helper()
	if _, err := st.CreateDrive(ctx, s, "cloud", storage.DriveOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, size := range []int{1000, storage.InlineMaxBytes + 2*storage.MinChunkBytes + 5} {
		data := make([]byte, size)
		_, _ = rand.Read(data)
		up, err := st.Upload(ctx, s, "cloud", "f.bin", bytes.NewReader(data), int64(size), storage.UploadOptions{ChunkBytes: storage.MinChunkBytes})
		if err != nil {
			t.Fatalf("upload of %d bytes: %v", size, err)
		}
		var got bytes.Buffer
		down, err := st.Download(ctx, s, "cloud", "f.bin", &got, storage.DownloadOptions{})
		if err != nil || !bytes.Equal(got.Bytes(), data) || down.Version != up.Version || down.Inline != (size <= storage.InlineMaxBytes) {
			t.Fatalf("download of %d bytes: %d bytes back, %+v, %v", size, got.Len(), down, err)
		}
	}
}

func login(t *testing.T, ctx context.Context, c *call.Client, idURL, name string) *identity.Session {
	t.Helper()
	id := &identity.Client{C: c, URL: idURL}
	reg, err := id.Register(ctx, name, "Correct horse 42")
	if err != nil {
		t.Fatalf("register %s: %v", name, err)
	}
	u, err := url.Parse(reg.ProvisioningURI)
	if err != nil {
		t.Fatal(err)
	}
	code, err := crypto.TOTPCode(u.Query().Get("secret"), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	s, _, err := id.Login(ctx, name, "Correct horse 42", identity.LoginOptions{OTP: code})
	if err != nil {
		t.Fatalf("login %s: %v", name, err)
	}
	return s
}

// s3Bucket starts versitygw, makes a bucket and returns its store URL.
func s3Bucket(t *testing.T, ctx context.Context, name string) string {
	endpoint := servertest.Start(t, servertest.Versitygw)
	client := s3.New(s3.Options{Region: "us-east-1", BaseEndpoint: aws.String(endpoint), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider(servertest.S3Access, servertest.S3Secret, "")})
	if _, err := client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
		t.Fatal(err)
	}
	return "s3://" + name + "?region=us-east-1&path_style=true&endpoint=" + url.QueryEscape(endpoint)
}

// gcsBucket starts fake-gcs-server, makes a bucket and returns its store URL.
func gcsBucket(t *testing.T, name string) string {
	base := servertest.Start(t, servertest.FakeGCS("memory"))
	resp, err := http.Post(base+"/storage/v1/b", "application/json", bytes.NewReader([]byte(`{"name":"`+name+`"}`)))
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("create bucket: HTTP %d", resp.StatusCode)
	}
	return "gs://" + name + "?anonymous=true&endpoint=" + url.QueryEscape(base+"/storage/v1/")
}

func serviceEnv(kind, storeURL, publicURL string) []string {
	return []string{host.EnvServices + "=" + kind, host.EnvStoreURL + "=" + storeURL, host.EnvPublicURL + "=" + publicURL,
		host.EnvSecret + "=" + functiontest.Secret}
}

// startLambda runs identity in the Lambda bootstrap under the emulator and
// returns its function URL.
func startLambda(t *testing.T, storeURL string) string {
	bootstrap := functiontest.Build(t, "../adapters/aws/lambdafn/bootstrap", "bootstrap",
		[]string{"GOOS=linux", "GOARCH=" + runtime.GOARCH, "CGO_ENABLED=0"}, "lambda.norpc")
	rie, api := servertest.FreeAddr(t), servertest.FreeAddr(t)
	front := httptest.NewServer(functiontest.LambdaFunctionURL("http://" + rie + "/2015-03-31/functions/function/invocations"))
	t.Cleanup(front.Close)
	env := append(serviceEnv(identity.Kind, storeURL, front.URL), "AWS_ACCESS_KEY_ID="+servertest.S3Access,
		"AWS_SECRET_ACCESS_KEY="+servertest.S3Secret, "AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null")
	functiontest.Start(t, servertest.Binary(t, "aws-lambda-rie"), env, rie,
		"--runtime-interface-emulator-address", rie, "--runtime-api-address", api, bootstrap)
	return front.URL
}

// azureContainer starts Azurite, makes a container and returns its store
// URL; the dev account's key reaches the store driver (and the function)
// through the connection string, so the driver signs SAS URLs.
func azureContainer(t *testing.T, ctx context.Context, name string) string {
	endpoint := servertest.Start(t, servertest.Azurite) + "/" + servertest.AzuriteAccount
	d, err := blobstore.New(ctx, blobstore.Config{Container: name, Account: servertest.AzuriteAccount, Endpoint: endpoint,
		SharedKey: azuriteKey(t)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Client().Create(ctx, nil); err != nil {
		t.Fatal(err)
	}
	t.Setenv(blobstore.EnvConnectionString, "DefaultEndpointsProtocol=http;AccountName="+servertest.AzuriteAccount+
		";AccountKey="+servertest.AzuriteKey+";BlobEndpoint="+endpoint+";")
	return "azblob://" + name + "?account=" + servertest.AzuriteAccount
}

// startAzureFunction runs storage in the Azure Functions custom handler as
// the Functions host starts it.
func startAzureFunction(t *testing.T, storeURL string) string {
	bin := functiontest.Build(t, "../adapters/azure/azurefn/handler", "handler", nil)
	addr := servertest.FreeAddr(t)
	base := "http://" + addr
	functiontest.Start(t, bin, append(serviceEnv(storage.Kind, storeURL, base), azurefn.EnvPort+"="+functiontest.Port(t, addr)), addr)
	return base
}

// startCloudRun runs accounting in the GCP server as Cloud Run starts it.
func startCloudRun(t *testing.T, storeURL string) string {
	bin := functiontest.Build(t, "../adapters/gcp/gcpfn/server", "server", nil)
	addr := servertest.FreeAddr(t)
	base := "http://" + addr
	functiontest.Start(t, bin, append(serviceEnv(accounting.Kind, storeURL, base), "PORT="+functiontest.Port(t, addr)), addr)
	return base
}

// kindStore opens a service's store as the function sees it (each kind
// under its own prefix of the bucket).
func kindStore(t *testing.T, ctx context.Context, bucketURL, kind string) *store.Bucket {
	t.Helper()
	storeURL, err := host.SubStoreURL(bucketURL, kind)
	if err != nil {
		t.Fatal(err)
	}
	s3store.Register()
	gcsstore.Register()
	blobstore.Register()
	t.Setenv("AWS_ACCESS_KEY_ID", servertest.S3Access)
	t.Setenv("AWS_SECRET_ACCESS_KEY", servertest.S3Secret)
	b, err := store.Open(ctx, storeURL)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// makeAdmin makes s's user an admin of the service of kind in its store,
// as a deployment's admin setting does (service/admins.json).
func makeAdmin(t *testing.T, ctx context.Context, bucketURL, kind string, s *identity.Session) {
	t.Helper()
	b := kindStore(t, ctx, bucketURL, kind)
	defer func() { _ = b.Close() }()
	admins := struct {
		Admins []service.Admin `json:"admins"`
	}{[]service.Admin{{IdentityURL: s.IdentityURL, UserUID: s.UserUID}}}
	if _, err := b.PutJSON(ctx, "service/admins.json", admins); err != nil {
		t.Fatal(err)
	}
}

// wantKeys checks a service's objects are in its store, seen as the
// function sees it.
func wantKeys(t *testing.T, ctx context.Context, bucketURL, kind, prefix string) {
	t.Helper()
	b := kindStore(t, ctx, bucketURL, kind)
	defer func() { _ = b.Close() }()
	page, err := b.List(ctx, prefix, "", 10)
	if err != nil || len(page.Items) == 0 {
		t.Fatalf("%s (%s) holds nothing under %s: %v", bucketURL, kind, prefix, err)
	}
	if !slices.ContainsFunc(page.Items, func(it store.ObjectInfo) bool { return len(it.Key) > len(prefix) }) {
		t.Fatalf("keys %+v", page.Items)
	}
}

func azuriteKey(t *testing.T) *container.SharedKeyCredential {
	k, err := container.NewSharedKeyCredential(servertest.AzuriteAccount, servertest.AzuriteKey)
	if err != nil {
		t.Fatal(err)
	}
	return k
}
