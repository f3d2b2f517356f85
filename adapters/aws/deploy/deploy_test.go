package deploy_test

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/openacquire/acquire/adapters/aws/deploy"
	"github.com/openacquire/acquire/adapters/deployer"
	"github.com/openacquire/acquire/adapters/servertest"
)

// testSecret must never show up outside Secrets Manager calls.
const testSecret = "correct-horse-battery-staple-42"

const region = "us-east-1"

var versitygw = servertest.Server{
	Name: "versitygw",
	Args: func(addr, dir string) []string {
		return []string{"--access", "test", "--secret", "testsecret", "--port", addr, "--quiet", "posix", dir}
	},
	Ready: servertest.Answers("/", false),
}

type env struct {
	fake *fakeAWS
	d    *deploy.Deployer
	s3   *s3.Client
	dir  string
}

// setup points the Lambda, IAM and Secrets Manager clients at the fake and
// the S3 client at a real versitygw.
func setup(t *testing.T, opt deploy.Options) *env {
	t.Helper()
	fake, base := newFake(t)
	creds := credentials.NewStaticCredentialsProvider("test", "testsecret", "")
	s3c := s3.New(s3.Options{Region: region, Credentials: creds, BaseEndpoint: aws.String(servertest.Start(t, versitygw)), UsePathStyle: true})
	c := deploy.Clients{
		S3:      s3c,
		Lambda:  lambda.New(lambda.Options{Region: region, Credentials: creds, BaseEndpoint: aws.String(base)}),
		IAM:     iam.New(iam.Options{Region: region, Credentials: creds, BaseEndpoint: aws.String(base)}),
		Secrets: secretsmanager.New(secretsmanager.Options{Region: region, Credentials: creds, BaseEndpoint: aws.String(base)}),
		Logs:    cloudwatchlogs.New(cloudwatchlogs.Options{Region: region, Credentials: creds, BaseEndpoint: aws.String(base)}),
	}
	if opt.PollInterval == 0 {
		opt.PollInterval = 10 * time.Millisecond
	}
	if opt.RoleRetry == 0 {
		opt.RoleRetry = 10 * time.Millisecond
	}
	return &env{fake: fake, d: deploy.NewFromClients(region, c, opt), s3: s3c, dir: t.TempDir()}
}

// artifact writes a small zip named as make dist names it.
func (e *env) artifact(t *testing.T, arch, content string) string {
	t.Helper()
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	w, err := zw.Create("bootstrap")
	if err != nil {
		t.Fatal(err)
	}
	_, _ = w.Write([]byte(content))
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(e.dir, content, "aws-lambda-"+arch+".zip")
	if err := os.MkdirAll(filepath.Dir(p), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, b.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func (e *env) spec(t *testing.T) deployer.Spec {
	return deployer.Spec{
		Name: "acq-test", Kinds: []string{"identity", "ledger"}, Location: region, Bucket: "acq-test-store",
		Artifact: e.artifact(t, "arm64", "v1"), Secret: testSecret,
		Env: map[string]string{"ACQUIRE_TRUSTED_SERVICES": "https://other.example"},
	}
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return base64.StdEncoding.EncodeToString(s[:])
}

func ops(calls []call) []string {
	out := make([]string, len(calls))
	for i, c := range calls {
		out[i] = c.Op
	}
	return out
}

func find(calls []call, op string) []call {
	var out []call
	for _, c := range calls {
		if c.Op == op {
			out = append(out, c)
		}
	}
	return out
}

func index(calls []call, op string) int { return slices.Index(ops(calls), op) }

// noSecretOutside fails when the secret appears anywhere but in Secrets
// Manager's write calls. It never prints the secret.
func noSecretOutside(t *testing.T, calls []call, dep deployer.Deployment) {
	t.Helper()
	for _, c := range calls {
		if strings.Contains(c.Raw, testSecret) && c.Op != "secretsmanager.CreateSecret" && c.Op != "secretsmanager.PutSecretValue" {
			t.Errorf("the secret travels in %s", c.Op)
		}
	}
	if strings.Contains(strings.Join([]string{dep.Name, dep.URL, dep.StoreURL, dep.SecretRef, dep.Version}, " "), testSecret) {
		t.Error("the secret is in the returned Deployment")
	}
}

func envOf(t *testing.T, c call) map[string]any {
	t.Helper()
	e, _ := c.Body["Environment"].(map[string]any)
	v, _ := e["Variables"].(map[string]any)
	if v == nil {
		t.Fatalf("%s has no environment", c.Op)
	}
	return v
}

func TestCreateFromNothing(t *testing.T) {
	e := setup(t, deploy.Options{})
	ctx := context.Background()
	s := e.spec(t)
	dep, err := e.d.Create(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	calls := e.fake.Calls()
	t.Logf("calls: %v", ops(calls))

	// The bucket is real on versitygw.
	if _, err := e.s3.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(s.Bucket)}); err != nil {
		t.Errorf("bucket not created: %v", err)
	}
	secretARN := e.fake.secrets["acquire/acq-test/service-secret"].arn
	want := deployer.Deployment{
		Name: "acq-test", URL: "https://acq-test-abc123.lambda-url.us-east-1.on.aws",
		StoreURL: "s3://acq-test-store?region=us-east-1", SecretRef: secretARN, Version: sha(mustRead(t, s.Artifact)),
		Services: "identity,ledger",
	}
	if dep != want {
		t.Errorf("deployment %+v, want %+v", dep, want)
	}
	noSecretOutside(t, calls, dep)
	if e.fake.secrets["acquire/acq-test/service-secret"].value != testSecret {
		t.Error("Secrets Manager does not hold the secret")
	}

	create := find(calls, "CreateFunction")
	if len(create) != 1 {
		t.Fatalf("CreateFunction calls: %d", len(create))
	}
	b := create[0].Body
	for k, v := range map[string]any{"Runtime": "provided.al2023", "Handler": "bootstrap", "MemorySize": 512.0, "Timeout": 30.0,
		"Role": "arn:aws:iam::" + account + ":role/acquire-acq-test-fn"} {
		if b[k] != v {
			t.Errorf("CreateFunction %s = %v, want %v", k, b[k], v)
		}
	}
	if a, _ := b["Architectures"].([]any); len(a) != 1 || a[0] != "arm64" {
		t.Errorf("Architectures %v", b["Architectures"])
	}
	checkEnv(t, envOf(t, create[0]), secretARN, "")

	// Ordering: function, then its URL, then the environment naming the
	// URL, and only then public invocation.
	upd := find(calls, "UpdateFunctionConfiguration")
	if len(upd) != 1 {
		t.Fatalf("UpdateFunctionConfiguration calls: %d", len(upd))
	}
	checkEnv(t, envOf(t, upd[0]), secretARN, want.URL)
	order := []int{index(calls, "CreateFunction"), index(calls, "CreateFunctionUrlConfig"), index(calls, "UpdateFunctionConfiguration"), index(calls, "AddPermission")}
	if !slices.IsSorted(order) || order[0] < 0 {
		t.Errorf("order of create, URL, env update, permission: %v", order)
	}
	if u := find(calls, "CreateFunctionUrlConfig"); u[0].Body["AuthType"] != "NONE" {
		t.Errorf("URL auth type %v", u[0].Body["AuthType"])
	}
	checkPermissions(t, find(calls, "AddPermission"))
	checkPolicy(t, e.fake.policy["acquire-acq-test-fn"], secretARN)
	checkTrust(t, find(calls, "iam.CreateRole"))
}

func mustRead(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p) //nolint:gosec // test file
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func checkEnv(t *testing.T, env map[string]any, secretARN, publicURL string) {
	t.Helper()
	want := map[string]any{
		"ACQUIRE_SERVICES": "identity,ledger", "ACQUIRE_STORE_URL": "s3://acq-test-store?region=us-east-1",
		"ACQUIRE_SERVICE_SECRET_ARN": secretARN, "ACQUIRE_TRUSTED_SERVICES": "https://other.example",
	}
	if publicURL != "" {
		want["ACQUIRE_PUBLIC_URL"] = publicURL
	}
	if len(env) != len(want) {
		t.Errorf("environment keys %d, want %d", len(env), len(want))
	}
	for k, v := range want {
		if env[k] != v {
			t.Errorf("environment %s = %v, want %v", k, env[k], v)
		}
	}
	if _, ok := env["ACQUIRE_SERVICE_SECRET"]; ok {
		t.Error("the secret is in the function environment")
	}
}

func checkPermissions(t *testing.T, perms []call) {
	t.Helper()
	if len(perms) != 2 {
		t.Fatalf("AddPermission calls: %d", len(perms))
	}
	u, i := perms[0].Body, perms[1].Body
	if u["Action"] != "lambda:InvokeFunctionUrl" || u["Principal"] != "*" || u["FunctionUrlAuthType"] != "NONE" {
		t.Errorf("URL grant %v", u)
	}
	if i["Action"] != "lambda:InvokeFunction" || i["Principal"] != "*" || i["InvokedViaFunctionUrl"] != true {
		t.Errorf("invoke grant %v", i)
	}
}

// checkPolicy: the role reaches its bucket, its secret and its log group,
// nothing else.
func checkPolicy(t *testing.T, doc, secretARN string) {
	t.Helper()
	var p struct {
		Statement []struct {
			Effect   string
			Action   []string
			Resource []string
		}
	}
	if err := json.Unmarshal([]byte(doc), &p); err != nil {
		t.Fatalf("role policy: %v", err)
	}
	logs := "arn:aws:logs:us-east-1:" + account + ":log-group:/aws/lambda/acq-test"
	allowed := map[string]bool{"arn:aws:s3:::acq-test-store": true, "arn:aws:s3:::acq-test-store/*": true, secretARN: true, logs: true, logs + ":*": true}
	for _, st := range p.Statement {
		for _, r := range st.Resource {
			if !allowed[r] {
				t.Errorf("policy grants %v on %s", st.Action, r)
			}
		}
		for _, a := range st.Action {
			if strings.HasPrefix(a, "secretsmanager:") && (a != "secretsmanager:GetSecretValue" || !slices.Equal(st.Resource, []string{secretARN})) {
				t.Errorf("secret access %s on %v", a, st.Resource)
			}
			if strings.Contains(a, "*") {
				t.Errorf("wildcard action %s", a)
			}
		}
	}
}

func checkTrust(t *testing.T, create []call) {
	t.Helper()
	if len(create) != 1 {
		t.Fatalf("CreateRole calls: %d", len(create))
	}
	doc := create[0].Form.Get("AssumeRolePolicyDocument")
	if !strings.Contains(doc, `"Service":"lambda.amazonaws.com"`) || !strings.Contains(doc, "sts:AssumeRole") {
		t.Errorf("trust policy %s", doc)
	}
}

func TestCreateIsIdempotent(t *testing.T) {
	e := setup(t, deploy.Options{})
	ctx := context.Background()
	s := e.spec(t)
	first, err := e.d.Create(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	e.fake.reset()
	again, err := e.d.Create(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	if again != first {
		t.Errorf("second Create %+v, first %+v", again, first)
	}
	for _, op := range ops(e.fake.Calls()) {
		switch op {
		case "CreateFunction", "CreateFunctionUrlConfig", "UpdateFunctionCode", "UpdateFunctionConfiguration",
			"iam.CreateRole", "secretsmanager.CreateSecret", "secretsmanager.PutSecretValue":
			t.Errorf("second Create called %s", op)
		}
	}
	noSecretOutside(t, e.fake.Calls(), again)
}

func TestReadAndDrift(t *testing.T) {
	e := setup(t, deploy.Options{})
	ctx := context.Background()
	if _, err := e.d.Read(ctx, "acq-test"); !errors.Is(err, deployer.ErrNotFound) {
		t.Fatalf("Read before Create: %v", err)
	}
	s := e.spec(t)
	created, err := e.d.Create(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	got, err := e.d.Read(ctx, "acq-test")
	if err != nil || got != created {
		t.Fatalf("Read %+v, %v; want %+v", got, err, created)
	}
	// Deleted out of band: Read and Update report ErrNotFound.
	delete(e.fake.fns, "acq-test")
	if _, err := e.d.Read(ctx, "acq-test"); !errors.Is(err, deployer.ErrNotFound) {
		t.Errorf("Read after drift: %v", err)
	}
	if _, err := e.d.Update(ctx, s); !errors.Is(err, deployer.ErrNotFound) {
		t.Errorf("Update after drift: %v", err)
	}
}

func TestUpdateInPlace(t *testing.T) {
	e := setup(t, deploy.Options{})
	ctx := context.Background()
	s := e.spec(t)
	if _, err := e.d.Create(ctx, s); err != nil {
		t.Fatal(err)
	}
	e.fake.reset()
	e.fake.pendingPolls = 2 // the waits must actually poll
	s.Artifact = e.artifact(t, "amd64", "v2")
	s.Settings = map[string]string{"arch": "amd64", "memory_mb": "1024", "timeout_s": "60"}
	s.Env = map[string]string{"EXTRA": "x"}
	dep, err := e.d.Update(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	calls := e.fake.Calls()
	if dep.Version != sha(mustRead(t, s.Artifact)) {
		t.Errorf("version %s after code update", dep.Version)
	}
	code := find(calls, "UpdateFunctionCode")
	if len(code) != 1 || code[0].Body["Architectures"].([]any)[0] != "x86_64" {
		t.Fatalf("UpdateFunctionCode %v", ops(calls))
	}
	cfg := find(calls, "UpdateFunctionConfiguration")
	if len(cfg) != 1 || cfg[0].Body["MemorySize"] != 1024.0 || cfg[0].Body["Timeout"] != 60.0 || envOf(t, cfg[0])["EXTRA"] != "x" {
		t.Fatalf("UpdateFunctionConfiguration %v", cfg)
	}
	if envOf(t, cfg[0])["ACQUIRE_TRUSTED_SERVICES"] != nil {
		t.Error("a removed Env key stays")
	}
	if n := len(find(calls, "GetFunction")); n < 5 {
		t.Errorf("only %d GetFunction polls: the update was not waited for", n)
	}
	noSecretOutside(t, calls, dep)
}

func TestUpdateWaitIsBounded(t *testing.T) {
	e := setup(t, deploy.Options{WaitTimeout: 300 * time.Millisecond})
	ctx := context.Background()
	s := e.spec(t)
	if _, err := e.d.Create(ctx, s); err != nil {
		t.Fatal(err)
	}
	e.fake.stuck = true
	s.Settings = map[string]string{"memory_mb": "256"}
	start := time.Now()
	_, err := e.d.Update(ctx, s)
	if err == nil || !strings.Contains(err.Error(), "not done within") {
		t.Fatalf("Update on a stuck function: %v", err)
	}
	if time.Since(start) > 5*time.Second {
		t.Errorf("the wait took %v", time.Since(start))
	}
}

func TestCreateRetriesUnreadyRole(t *testing.T) {
	e := setup(t, deploy.Options{})
	e.fake.roleNotReadyN = 2
	if _, err := e.d.Create(context.Background(), e.spec(t)); err != nil {
		t.Fatal(err)
	}
	if n := len(find(e.fake.Calls(), "CreateFunction")); n != 3 {
		t.Errorf("CreateFunction tries %d, want 3", n)
	}
}

func putObject(t *testing.T, e *env, bucket string) {
	t.Helper()
	_, err := e.s3.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String("ledger/x"), Body: strings.NewReader("money")})
	if err != nil {
		t.Fatal(err)
	}
}

func TestDeleteKeepsData(t *testing.T) {
	e := setup(t, deploy.Options{})
	ctx := context.Background()
	s := e.spec(t)
	if _, err := e.d.Create(ctx, s); err != nil {
		t.Fatal(err)
	}
	putObject(t, e, s.Bucket)
	e.fake.reset()
	if err := e.d.Delete(ctx, s.Name, false); err != nil {
		t.Fatal(err)
	}
	if _, err := e.s3.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(s.Bucket), Key: aws.String("ledger/x")}); err != nil {
		t.Errorf("data gone after Delete(keep): %v", err)
	}
	calls := e.fake.Calls()
	del := find(calls, "secretsmanager.DeleteSecret")
	if len(del) != 1 || del[0].Body["RecoveryWindowInDays"] != 7.0 || del[0].Body["ForceDeleteWithoutRecovery"] != nil {
		t.Errorf("DeleteSecret %v", del)
	}
	if len(e.fake.fns) != 0 || len(e.fake.roles) != 0 || len(e.fake.urls) != 0 {
		t.Errorf("left: functions %d, roles %d, URLs %d", len(e.fake.fns), len(e.fake.roles), len(e.fake.urls))
	}
	if _, err := e.d.Read(ctx, s.Name); !errors.Is(err, deployer.ErrNotFound) {
		t.Errorf("Read after Delete: %v", err)
	}
	// Deleting again is not an error; re-creating restores the secret.
	if err := e.d.Delete(ctx, s.Name, false); err != nil {
		t.Errorf("second Delete: %v", err)
	}
	e.fake.reset()
	if _, err := e.d.Create(ctx, s); err != nil {
		t.Fatal(err)
	}
	if len(find(e.fake.Calls(), "secretsmanager.RestoreSecret")) != 1 {
		t.Errorf("re-Create did not restore the secret: %v", ops(e.fake.Calls()))
	}
}

func TestDeleteData(t *testing.T) {
	e := setup(t, deploy.Options{})
	ctx := context.Background()
	s := e.spec(t)
	if _, err := e.d.Create(ctx, s); err != nil {
		t.Fatal(err)
	}
	putObject(t, e, s.Bucket)
	// The secret reads back (the provider keeps only a reference to it).
	if got, err := e.d.Secret(ctx, s.Name); err != nil || got != testSecret {
		t.Fatalf("Secret after Create: %v (equal: %v)", err, got == testSecret)
	}
	e.fake.reset()
	if err := e.d.Delete(ctx, s.Name, true); err != nil {
		t.Fatal(err)
	}
	if _, err := e.d.Secret(ctx, s.Name); !errors.Is(err, deployer.ErrNotFound) {
		t.Errorf("Secret after Delete(deleteData) = %v; want ErrNotFound", err)
	}
	if _, err := e.s3.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(s.Bucket)}); err == nil {
		t.Error("bucket kept after Delete(deleteData)")
	}
	del := find(e.fake.Calls(), "secretsmanager.DeleteSecret")
	if len(del) != 1 || del[0].Body["ForceDeleteWithoutRecovery"] != true {
		t.Errorf("DeleteSecret %v", del)
	}
	if len(e.fake.secrets) != 0 {
		t.Error("secret kept after Delete(deleteData)")
	}
}

func TestBadSpec(t *testing.T) {
	e := setup(t, deploy.Options{})
	cases := map[string]func(*deployer.Spec){
		"name":          func(s *deployer.Spec) { s.Name = "Bad_Name" },
		"short name":    func(s *deployer.Spec) { s.Name = "ab" },
		"no artifact":   func(s *deployer.Spec) { s.Artifact = "" },
		"missing file":  func(s *deployer.Spec) { s.Artifact = filepath.Join(e.dir, "nope", "aws-lambda-arm64.zip") },
		"wrong arch":    func(s *deployer.Spec) { s.Settings = map[string]string{"arch": "amd64"} },
		"bad arch":      func(s *deployer.Spec) { s.Settings = map[string]string{"arch": "riscv"} },
		"memory":        func(s *deployer.Spec) { s.Settings = map[string]string{"memory_mb": "64"} },
		"timeout":       func(s *deployer.Spec) { s.Settings = map[string]string{"timeout_s": "1000"} },
		"unknown key":   func(s *deployer.Spec) { s.Settings = map[string]string{"memroy_mb": "256"} },
		"region":        func(s *deployer.Spec) { s.Location = "eu-west-1" },
		"bucket":        func(s *deployer.Spec) { s.Bucket = "Not_A_Bucket" },
		"weak secret":   func(s *deployer.Spec) { s.Secret = "abc" },
		"reserved env":  func(s *deployer.Spec) { s.Env = map[string]string{"ACQUIRE_SERVICE_SECRET": testSecret} },
		"secret in env": func(s *deployer.Spec) { s.Env = map[string]string{"OTHER": "x" + testSecret} },
		"env key":       func(s *deployer.Spec) { s.Env = map[string]string{"1BAD": "x"} },
	}
	for name, mutate := range cases {
		t.Run(name, func(t *testing.T) {
			s := e.spec(t)
			mutate(&s)
			_, err := e.d.Create(context.Background(), s)
			var se *deploy.SpecError
			if !errors.Is(err, deploy.ErrBadSpec) || !errors.As(err, &se) {
				t.Fatalf("got %v, want a SpecError", err)
			}
			if strings.Contains(err.Error(), testSecret) {
				t.Error("the error repeats the secret")
			}
		})
	}
	if len(e.fake.Calls()) != 0 {
		t.Errorf("bad specs reached AWS: %v", ops(e.fake.Calls()))
	}
}

// TestFunctionSettings: the typed function settings reach the calls that
// apply them, in the wire shapes the SDK validated: tags on the function,
// its role, its secret and its log group; the log group made with its
// retention before Lambda would make one that keeps logs forever; reserved
// concurrency; memory and timeout; a custom domain as the function's
// public URL and the deployment's URL. A value Lambda would refuse is a
// SpecError before any call.
func TestFunctionSettings(t *testing.T) {
	e := setup(t, deploy.Options{})
	s := e.spec(t)
	s.Function = deployer.Function{MemoryMB: 1024, TimeoutS: 60, MaxInstances: 7, LogRetentionDays: 30,
		Tags: map[string]string{"team": "ledger"}, PublicURL: "https://id.example.org"}
	dep, err := e.d.Create(context.Background(), s)
	if err != nil {
		t.Fatal(err)
	}
	if dep.URL != "https://id.example.org" {
		t.Errorf("deployment URL %q; want the custom domain", dep.URL)
	}
	seen := map[string]call{}
	for _, c := range e.fake.Calls() {
		seen[c.Op] = c
	}
	fn := seen["CreateFunction"].Body
	tags, _ := fn["Tags"].(map[string]any)
	if fn["MemorySize"] != float64(1024) || fn["Timeout"] != float64(60) || tags["team"] != "ledger" || tags["acquire-service"] != "acq-test" {
		t.Errorf("CreateFunction memory %v timeout %v tags %v", fn["MemorySize"], fn["Timeout"], tags)
	}
	if env := seen["UpdateFunctionConfiguration"].Body["Environment"]; !strings.Contains(fmt.Sprint(env), "ACQUIRE_PUBLIC_URL:https://id.example.org") {
		t.Errorf("the function is not told its custom domain: %v", env)
	}
	if !strings.Contains(seen["iam.CreateRole"].Raw, "Tags.member.1.Key=acquire-service") || !strings.Contains(seen["iam.CreateRole"].Raw, "team") {
		t.Errorf("CreateRole without the tags: %s", seen["iam.CreateRole"].Raw)
	}
	if !strings.Contains(seen["secretsmanager.CreateSecret"].Raw, `"Key":"team"`) {
		t.Errorf("CreateSecret without the tags: %s", seen["secretsmanager.CreateSecret"].Raw)
	}
	lg := seen["CreateLogGroup"].Body
	if lg["logGroupName"] != "/aws/lambda/acq-test" || !strings.Contains(fmt.Sprint(lg["tags"]), "team:ledger") {
		t.Errorf("CreateLogGroup %v", lg)
	}
	if r := seen["PutRetentionPolicy"].Body; r["logGroupName"] != "/aws/lambda/acq-test" || r["retentionInDays"] != float64(30) {
		t.Errorf("PutRetentionPolicy %v", r)
	}
	if c := seen["PutFunctionConcurrency"].Body; c["ReservedConcurrentExecutions"] != float64(7) {
		t.Errorf("PutFunctionConcurrency %v", c)
	}
	for _, bad := range []deployer.Function{{LogRetentionDays: 2}, {MaxInstances: 1001}, {MemoryMB: 64},
		{Tags: map[string]string{"aws:owner": "x"}}} {
		e.fake.reset()
		s.Function = bad
		var se *deploy.SpecError
		if _, err := e.d.Update(context.Background(), s); !errors.As(err, &se) || len(e.fake.Calls()) != 0 {
			t.Errorf("%+v: %v after %d calls; want a SpecError before any call", bad, err, len(e.fake.Calls()))
		}
	}
}
