package deploy_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/storage"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"google.golang.org/api/option"
	run "google.golang.org/api/run/v2"

	"github.com/openacquire/acquire/adapters/deployer"
	"github.com/openacquire/acquire/adapters/dist"
	"github.com/openacquire/acquire/adapters/gcp/deploy"
	"github.com/openacquire/acquire/adapters/servertest"
)

const (
	project  = "acq-test-project"
	region   = "europe-west1"
	secret   = "correct horse battery staple 9f3a"
	account  = "acquire-run@acq-test-project.iam.gserviceaccount.com"
	svcName  = "acq-accounting"
	resource = "projects/" + project + "/locations/" + region + "/services/" + svcName
	secretRN = "projects/" + project + "/secrets/" + svcName + "-service-secret"
)

// env is one deployer wired to the fakes, with what the tests inspect.
type env struct {
	d        *deploy.Deployer
	cloud    *fakeCloud
	gcs      *storage.Client
	iam      *bucketIAM
	regHost  string
	artifact string
	digest   string
}

func newEnv(t *testing.T, tune func(*deploy.Config)) *env {
	t.Helper()
	cloud := newFakeCloud()
	api := httptest.NewServer(cloud)
	t.Cleanup(api.Close)
	reg := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(reg.Close)
	gcsEndpoint := startGCS(t)
	fakeGCS, _ := url.Parse(strings.TrimSuffix(gcsEndpoint, "/storage/v1/"))
	iam := &bucketIAM{next: httputil.NewSingleHostReverseProxy(fakeGCS), policies: map[string]json.RawMessage{}, labels: map[string]map[string]string{}}
	iamSrv := httptest.NewServer(iam)
	t.Cleanup(iamSrv.Close)
	cfg := deploy.Config{
		Project: project, Region: region,
		RunEndpoint: api.URL + "/", SecretsEndpoint: api.URL + "/", StorageEndpoint: iamSrv.URL + "/storage/v1/",
		LoggingEndpoint: api.URL + "/logging/",
		RegistryHost:    strings.TrimPrefix(reg.URL, "http://"), RegistryInsecure: true, RegistryAuth: authn.Anonymous,
		ClientOptions:    []option.ClientOption{option.WithoutAuthentication()},
		CallTimeout:      10 * time.Second,
		OperationTimeout: 10 * time.Second,
		PollInterval:     5 * time.Millisecond,
	}
	if tune != nil {
		tune(&cfg)
	}
	d, err := deploy.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })
	gcs, err := storage.NewClient(context.Background(), option.WithEndpoint(iamSrv.URL+"/storage/v1/"), option.WithoutAuthentication())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = gcs.Close() })
	e := &env{d: d, cloud: cloud, gcs: gcs, iam: iam, regHost: cfg.RegistryHost}
	e.artifact, e.digest = writeImage(t, "amd64")
	return e
}

// startGCS starts fake-gcs-server (memory backend) and returns its JSON API endpoint.
func startGCS(t *testing.T) string {
	srv := servertest.Server{
		Name: "fake-gcs-server",
		Args: func(addr, _ string) []string {
			host, port, _ := strings.Cut(addr, ":")
			return []string{"-scheme", "http", "-host", host, "-port", port,
				"-public-host", addr, "-backend", "memory", "-log-level", "error"}
		},
		Ready: servertest.Answers("/storage/v1/b", true),
	}
	return servertest.Start(t, srv) + "/storage/v1/"
}

// writeImage writes an image tarball shaped like make dist's (one layer
// holding /server, FROM scratch) and returns its path and digest. It is
// built here rather than by dist.Image, whose config currently lists no
// rootfs diff_ids, which go-containerregistry refuses to read back (see
// the package report); the layer comes first so the config keeps them.
func writeImage(t *testing.T, arch string) (string, string) {
	t.Helper()
	var layerTar bytes.Buffer
	if err := dist.Tar(&layerTar, []dist.File{{Name: "server", Mode: 0o755, Data: []byte("not really a server")}}); err != nil {
		t.Fatal(err)
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(layerTar.Bytes())), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.ConfigFile(empty.Image, &v1.ConfigFile{
		Architecture: arch, OS: "linux", RootFS: v1.RootFS{Type: "layers"},
		Config: v1.Config{Entrypoint: []string{"/server"}, User: "65532:65532"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if img, err = mutate.AppendLayers(img, layer); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "gcp-run-"+arch+".tar")
	if err := tarball.WriteToFile(path, name.MustParseReference(dist.ImageRef), img); err != nil {
		t.Fatal(err)
	}
	digest, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return path, digest.String()
}

func (e *env) spec() deployer.Spec {
	return deployer.Spec{
		Name: svcName, Kinds: []string{"accounting", "identity"}, Location: region,
		Bucket: "acq-test-store-1", Artifact: e.artifact, Secret: secret,
		Env: map[string]string{"ACQUIRE_TRUSTED_SERVICES": "https://other.example"},
		Settings: map[string]string{
			deploy.SettingProject: project, deploy.SettingRepository: "acquire",
			deploy.SettingServiceAccount: account, deploy.SettingMemory: "512Mi",
		},
	}
}

func envOf(t *testing.T, svc *run.GoogleCloudRunV2Service) map[string]*run.GoogleCloudRunV2EnvVar {
	t.Helper()
	if svc == nil || svc.Template == nil || len(svc.Template.Containers) != 1 {
		t.Fatalf("service has no single container: %+v", svc)
	}
	out := map[string]*run.GoogleCloudRunV2EnvVar{}
	for _, v := range svc.Template.Containers[0].Env {
		out[v.Name] = v
	}
	return out
}

// noSecretLeaks checks that the secret, raw or base64, is in no request
// but the addVersion calls, and not in the given values.
func noSecretLeaks(t *testing.T, e *env, values ...any) {
	t.Helper()
	b64 := base64.StdEncoding.EncodeToString([]byte(secret))
	for _, r := range e.cloud.requests() {
		if strings.HasSuffix(r.Path, ":addVersion") {
			continue
		}
		if strings.Contains(r.Body, secret) || strings.Contains(r.Body, b64) {
			t.Errorf("%s %s carries the secret", r.Method, r.Path)
		}
	}
	for _, v := range values {
		if s := fmt.Sprintf("%+v", v); strings.Contains(s, secret) || strings.Contains(s, b64) {
			t.Errorf("value carries the secret: %T", v)
		}
	}
}

func TestCreate(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	spec := e.spec()
	spec.Function.Tags = map[string]string{"team": "ledger"}
	dep, err := e.d.Create(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	wantURL := "https://" + svcName + "-abc123-ew.a.run.app"
	want := deployer.Deployment{Name: svcName, URL: wantURL, StoreURL: "gs://acq-test-store-1", SecretRef: secretRN + "/versions/1",
		Version: e.digest, Services: "accounting,identity"}
	if dep != want {
		t.Errorf("Create = %+v\nwant     %+v", dep, want)
	}
	svc := e.cloud.service(resource)
	image := e.regHost + "/" + project + "/acquire/" + svcName + "@" + e.digest
	if c := svc.Template.Containers[0]; c.Image != image || c.Resources.Limits["memory"] != "512Mi" {
		t.Errorf("container image %q memory %v; want %q 512Mi", c.Image, c.Resources.Limits, image)
	}
	if svc.Labels["acquire-service"] != svcName || svc.Labels["team"] != "ledger" {
		t.Errorf("service labels %v", svc.Labels)
	}
	if svc.Template.ServiceAccount != account {
		t.Errorf("service account %q", svc.Template.ServiceAccount)
	}
	checkEnv(t, envOf(t, svc), wantURL, "1")
	checkImagePushed(t, image)
	checkBucket(t, e, "acq-test-store-1")
	checkPolicies(t, e)
	checkBucketGrant(t, e, "acq-test-store-1")
	checkOrder(t, e)
	noSecretLeaks(t, e, dep)
}

// checkBucketGrant: the service account holds objectAdmin on exactly its
// bucket (issue 20: without it the first store read got 403), once, and
// nothing wider: no other role, no other member, no other bucket.
func checkBucketGrant(t *testing.T, e *env, bucket string) {
	t.Helper()
	got := e.iam.bindings(bucket)
	if len(got) != 1 || len(got["roles/storage.objectAdmin"]) != 1 || got["roles/storage.objectAdmin"][0] != "serviceAccount:"+account {
		t.Errorf("bucket %s policy bindings %v; want only objectAdmin for %s", bucket, got, account)
	}
	e.iam.mu.Lock()
	defer e.iam.mu.Unlock()
	for _, b := range e.iam.puts {
		if b != bucket {
			t.Errorf("the policy of bucket %s was set too", b)
		}
	}
}

func checkEnv(t *testing.T, env map[string]*run.GoogleCloudRunV2EnvVar, url, version string) {
	t.Helper()
	plain := map[string]string{
		"ACQUIRE_SERVICES": "accounting,identity", "ACQUIRE_STORE_URL": "gs://acq-test-store-1",
		"ACQUIRE_PUBLIC_URL": url, "ACQUIRE_TRUSTED_SERVICES": "https://other.example",
	}
	for k, v := range plain {
		if env[k] == nil || env[k].Value != v || env[k].ValueSource != nil {
			t.Errorf("env %s = %+v; want plain %q", k, env[k], v)
		}
	}
	s := env["ACQUIRE_SERVICE_SECRET"]
	if s == nil || s.Value != "" || s.ValueSource == nil || s.ValueSource.SecretKeyRef == nil {
		t.Fatalf("ACQUIRE_SERVICE_SECRET = %+v; want a secretKeyRef and no value", s)
	}
	if ref := s.ValueSource.SecretKeyRef; ref.Secret != secretRN || ref.Version != version {
		t.Errorf("secretKeyRef = %s version %q; want %s version %q (pinned, not latest)", ref.Secret, ref.Version, secretRN, version)
	}
	if len(env) != len(plain)+1 {
		t.Errorf("env has %d variables; want %d", len(env), len(plain)+1)
	}
}

func checkImagePushed(t *testing.T, image string) {
	t.Helper()
	ref, err := name.NewDigest(image, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := remote.Get(ref); err != nil {
		t.Errorf("image %s not in the registry: %v", image, err)
	}
}

func checkBucket(t *testing.T, e *env, bucket string) {
	t.Helper()
	if _, err := e.gcs.Bucket(bucket).Attrs(context.Background()); err != nil {
		t.Errorf("bucket %s: %v", bucket, err)
	}
}

// checkPolicies: allUsers may invoke the service; the runtime identity
// (and only it) may read the secret; each binding once.
func checkPolicies(t *testing.T, e *env) {
	t.Helper()
	e.cloud.mu.Lock()
	defer e.cloud.mu.Unlock()
	var invokers, accessors []string
	for _, b := range e.cloud.runPolicies[resource].Bindings {
		if b.Role == "roles/run.invoker" {
			invokers = append(invokers, b.Members...)
		}
	}
	for _, b := range e.cloud.smPolicies[secretRN].Bindings {
		if b.Role == "roles/secretmanager.secretAccessor" {
			accessors = append(accessors, b.Members...)
		}
	}
	if fmt.Sprint(invokers) != "[allUsers]" {
		t.Errorf("run.invoker members %v; want [allUsers]", invokers)
	}
	if fmt.Sprint(accessors) != "[serviceAccount:"+account+"]" {
		t.Errorf("secretAccessor members %v; want the service account", accessors)
	}
}

// checkOrder: the service is created without ACQUIRE_PUBLIC_URL (Cloud Run
// has not named it yet), updated with it, and made public only after.
func checkOrder(t *testing.T, e *env) {
	t.Helper()
	var steps []string
	for _, r := range e.cloud.requests() {
		switch {
		case r.Method == "POST" && strings.HasSuffix(r.Path, "/services"):
			if strings.Contains(r.Body, "ACQUIRE_PUBLIC_URL") {
				t.Errorf("create already names ACQUIRE_PUBLIC_URL")
			}
			steps = append(steps, "create")
		case r.Method == "PATCH":
			steps = append(steps, "patch")
		case strings.HasSuffix(r.Path, "/services/"+svcName+":setIamPolicy"):
			steps = append(steps, "public")
		}
	}
	if fmt.Sprint(steps) != "[create patch public]" {
		t.Errorf("steps %v; want [create patch public]", steps)
	}
}

// TestCreateIdempotent: a second Create converges without a second
// service, secret version or binding.
func TestCreateIdempotent(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	first, err := e.d.Create(ctx, e.spec())
	if err != nil {
		t.Fatal(err)
	}
	second, err := e.d.Create(ctx, e.spec())
	if err != nil {
		t.Fatalf("second Create: %v", err)
	}
	if first != second {
		t.Errorf("second Create = %+v; first %+v", second, first)
	}
	creates, versions := 0, 0
	for _, r := range e.cloud.requests() {
		if r.Method == "POST" && strings.HasSuffix(r.Path, "/services") {
			creates++
		}
		if strings.HasSuffix(r.Path, ":addVersion") {
			versions++
		}
	}
	if creates != 1 || versions != 1 {
		t.Errorf("%d service creates, %d secret versions; want 1 and 1", creates, versions)
	}
	checkPolicies(t, e)
	noSecretLeaks(t, e, first, second)
}

// TestUpdate: a new secret and env deploy a new revision pinned to a new
// secret version.
func TestUpdate(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	if _, err := e.d.Create(ctx, e.spec()); err != nil {
		t.Fatal(err)
	}
	s := e.spec()
	s.Secret = secret + " rotated"
	s.Env = map[string]string{"ACQUIRE_TRUSTED_SERVICES": "https://other.example", "EXTRA": "1"}
	dep, err := e.d.Update(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	if dep.SecretRef != secretRN+"/versions/2" {
		t.Errorf("SecretRef %q; want version 2", dep.SecretRef)
	}
	env := envOf(t, e.cloud.service(resource))
	if env["EXTRA"] == nil || env["ACQUIRE_SERVICE_SECRET"].ValueSource.SecretKeyRef.Version != "2" {
		t.Errorf("updated env %+v", env)
	}
	read, err := e.d.Read(ctx, svcName)
	if err != nil || read != dep {
		t.Errorf("Read = %+v, %v; want %+v", read, err, dep)
	}
}

// TestDrift: Read and Update say ErrNotFound once the service is gone, and
// Update does not re-create it.
func TestDrift(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	if _, err := e.d.Read(ctx, svcName); !errors.Is(err, deployer.ErrNotFound) {
		t.Fatalf("Read before Create = %v; want ErrNotFound", err)
	}
	if _, err := e.d.Create(ctx, e.spec()); err != nil {
		t.Fatal(err)
	}
	e.cloud.mu.Lock()
	delete(e.cloud.services, resource) // deleted out of band
	e.cloud.mu.Unlock()
	if _, err := e.d.Read(ctx, svcName); !errors.Is(err, deployer.ErrNotFound) {
		t.Errorf("Read after drift = %v; want ErrNotFound", err)
	}
	if _, err := e.d.Update(ctx, e.spec()); !errors.Is(err, deployer.ErrNotFound) {
		t.Errorf("Update after drift = %v; want ErrNotFound", err)
	}
	if e.cloud.service(resource) != nil {
		t.Error("Update re-created the service")
	}
}

// TestDelete: Delete removes the service and secret and keeps the bucket
// and its objects; with deleteData it empties and removes the bucket.
func TestDelete(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	const bucket = "acq-test-store-1"
	if _, err := e.d.Create(ctx, e.spec()); err != nil {
		t.Fatal(err)
	}
	putObject(t, e, bucket, "ledger/0001")
	// The secret reads back (the provider keeps only a reference to it).
	if got, err := e.d.Secret(ctx, svcName); err != nil || got != e.spec().Secret {
		t.Fatalf("Secret after Create: %v (equal: %v)", err, got == e.spec().Secret)
	}
	if err := e.d.Delete(ctx, svcName, false); err != nil {
		t.Fatal(err)
	}
	if e.cloud.service(resource) != nil || e.cloud.secrets[secretRN] {
		t.Error("service or secret left after Delete")
	}
	if _, err := e.d.Secret(ctx, svcName); !errors.Is(err, deployer.ErrNotFound) {
		t.Errorf("Secret after Delete = %v; want ErrNotFound", err)
	}
	if _, err := e.gcs.Bucket(bucket).Object("ledger/0001").Attrs(ctx); err != nil {
		t.Errorf("Delete without deleteData lost data: %v", err)
	}
	if err := e.d.Delete(ctx, svcName, true); err != nil {
		t.Errorf("Delete of a deleted deployment = %v; want nil", err)
	}
	if _, err := e.d.Create(ctx, e.spec()); err != nil {
		t.Fatal(err)
	}
	if err := e.d.Delete(ctx, svcName, true); err != nil {
		t.Fatal(err)
	}
	if _, err := e.gcs.Bucket(bucket).Attrs(ctx); !errors.Is(err, storage.ErrBucketNotExist) {
		t.Errorf("bucket after Delete(deleteData) = %v; want gone", err)
	}
}

func putObject(t *testing.T, e *env, bucket, key string) {
	t.Helper()
	w := e.gcs.Bucket(bucket).Object(key).NewWriter(context.Background())
	if _, err := w.Write([]byte("money")); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestOperationTimeout: an operation that never completes fails with
// ErrOperationTimeout within the configured bound.
func TestOperationTimeout(t *testing.T) {
	e := newEnv(t, func(c *deploy.Config) { c.OperationTimeout = 100 * time.Millisecond })
	e.cloud.neverDone = true
	start := time.Now()
	_, err := e.d.Create(context.Background(), e.spec())
	if !errors.Is(err, deploy.ErrOperationTimeout) {
		t.Fatalf("Create = %v; want ErrOperationTimeout", err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("gave up after %v", took)
	}
}

// TestSpecErrors: bad specs are *SpecError naming the field, before any
// call, and no message repeats the secret.
func TestSpecErrors(t *testing.T) {
	e := newEnv(t, nil)
	arm, _ := writeImage(t, "arm64")
	bad := map[string]func(*deployer.Spec){
		"Name":                      func(s *deployer.Spec) { s.Name = "Bad_Name" },
		"Location":                  func(s *deployer.Spec) { s.Location = "us-central1" },
		"Kinds":                     func(s *deployer.Spec) { s.Kinds = nil },
		"Bucket":                    func(s *deployer.Spec) { s.Bucket = "UPPER" },
		"Secret":                    func(s *deployer.Spec) { s.Secret = "" },
		"Env":                       func(s *deployer.Spec) { s.Env = map[string]string{"ACQUIRE_SERVICE_SECRET": "x"} },
		"Env ":                      func(s *deployer.Spec) { s.Env = map[string]string{"LEAK": "pre " + secret} },
		"Artifact":                  func(s *deployer.Spec) { s.Artifact = arm },
		"Settings":                  func(s *deployer.Spec) { s.Settings["colour"] = "blue" },
		"Settings.project":          func(s *deployer.Spec) { s.Settings["project"] = "another-project" },
		"Settings.repository":       func(s *deployer.Spec) { delete(s.Settings, "repository") },
		"Settings.service_account":  func(s *deployer.Spec) { s.Settings["service_account"] = "someone@gmail.com" },
		"Settings.max_instances":    func(s *deployer.Spec) { s.Settings["max_instances"] = "0" },
		"Function.Tags":             func(s *deployer.Spec) { s.Function.Tags = map[string]string{"Team": "ledger"} },
		"Function.Tags ":            func(s *deployer.Spec) { s.Function.Tags = map[string]string{"team": "Ledger Ops"} },
		"Function.LogRetentionDays": func(s *deployer.Spec) { s.Function.LogRetentionDays = 3651 },
		"Function.MemoryMB":         func(s *deployer.Spec) { s.Function.MemoryMB = 64 },
	}
	for field, mutate := range bad {
		s := e.spec()
		s.Settings = map[string]string{}
		for k, v := range e.spec().Settings {
			s.Settings[k] = v
		}
		mutate(&s)
		_, err := e.d.Create(context.Background(), s)
		var se *deploy.SpecError
		if !errors.As(err, &se) || se.Field != strings.TrimSpace(field) || !errors.Is(err, deploy.ErrInvalidSpec) {
			t.Errorf("%s: Create = %v; want a SpecError on %s", field, err, field)
			continue
		}
		if strings.Contains(err.Error(), secret) {
			t.Errorf("%s: error repeats the secret", field)
		}
	}
	for _, r := range e.cloud.requests() {
		if r.Method != "GET" {
			t.Errorf("a bad spec changed something: %s %s", r.Method, r.Path)
		}
	}
}
