package acctest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/openacquire/acquire/adapters/aws/s3store"
	"github.com/openacquire/acquire/adapters/azure/blobstore"
	"github.com/openacquire/acquire/adapters/servertest"
	"github.com/openacquire/acquire/runtime/crypto"
	"github.com/openacquire/acquire/runtime/host"
	"github.com/openacquire/acquire/runtime/store"
)

// The examples are applied with OpenTofu (built by `make tofu`; and
// examples/local also with Terraform when it is on PATH) and the provider
// built from this tree, through a dev_overrides CLI config: no registry is
// reached.

const (
	examplePassword = "Example admin password 1"
	tofuTimeout     = 10 * time.Minute
)

var (
	providerOnce sync.Once
	providerDir  string
	providerErr  error
)

// buildProvider builds terraform-provider-acquire once per test binary.
func buildProvider(t *testing.T) string {
	t.Helper()
	providerOnce.Do(func() {
		dir, err := os.MkdirTemp("", "acquire-provider-bin-")
		if err != nil {
			providerErr = err
			return
		}
		providerDir = dir
		out, err := exec.Command("go", "build", "-o", filepath.Join(dir, "terraform-provider-acquire"),
			"../cmd/terraform-provider-acquire").CombinedOutput()
		if err != nil {
			providerErr = fmt.Errorf("building the provider: %w\n%s", err, out)
		}
	})
	if providerErr != nil {
		t.Fatal(providerErr)
	}
	return providerDir
}

// tofuBinary is OpenTofu from `make tofu` (or ACQUIRE_TOFU); a missing one
// fails the test: `make test` builds it first, so the examples never skip.
func tofuBinary(t *testing.T) string {
	t.Helper()
	p := os.Getenv("ACQUIRE_TOFU")
	if p == "" {
		abs, err := filepath.Abs("../.tools/bin/tofu")
		if err != nil {
			t.Fatal(err)
		}
		p = abs
	}
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("OpenTofu not found at %s: run `make tofu` (or set ACQUIRE_TOFU): %v", p, err)
	}
	return p
}

// tofuRun is one example folder applied with OpenTofu against a host.
type tofuRun struct {
	t    *testing.T
	tofu string
	dir  string
	env  []string
}

// newTofuRun copies an example into a temp folder (its state stays out of
// the tree) and prepares the CLI config and environment.
func newTofuRun(t *testing.T, example string, env ...string) *tofuRun {
	return newEngineRun(t, tofuBinary(t), example, env...)
}

// exampleEngines are OpenTofu (required) and Terraform when it is on PATH.
func exampleEngines(t *testing.T) map[string]string {
	out := map[string]string{"tofu": tofuBinary(t)}
	if tf, err := exec.LookPath("terraform"); err == nil {
		out["terraform"] = tf
	}
	return out
}

// newEngineRun is newTofuRun with another engine binary (Terraform).
func newEngineRun(t *testing.T, engine, example string, env ...string) *tofuRun {
	t.Helper()
	dir := t.TempDir()
	src := filepath.Join("..", "examples", example)
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".tf") {
			b, err := os.ReadFile(filepath.Join(src, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, e.Name()), b, 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	rc := filepath.Join(t.TempDir(), "tofurc")
	cfg := fmt.Sprintf("provider_installation {\n  dev_overrides {\n    \"openacquire/acquire\" = %q\n  }\n  direct {}\n}\n", buildProvider(t))
	if err := os.WriteFile(rc, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	env = append(env, "TF_CLI_CONFIG_FILE="+rc, "TF_IN_AUTOMATION=1", "CHECKPOINT_DISABLE=1", "TF_INPUT=0")
	return &tofuRun{t: t, tofu: engine, dir: dir, env: env}
}

// run runs tofu and answers stdout, the exit code and the time it took.
func (r *tofuRun) run(args ...string) (string, int, time.Duration) {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), tofuTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, r.tofu, args...)
	cmd.Dir = r.dir
	cmd.Env = append(os.Environ(), r.env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	start := time.Now()
	err := cmd.Run()
	took := time.Since(start)
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		r.t.Fatal(err)
	}
	changesPlanned := len(args) > 0 && args[0] == "plan" && code == 2 // -detailed-exitcode
	if code != 0 && !changesPlanned {
		r.t.Fatalf("tofu %s: exit %d\n%s\n%s", strings.Join(args, " "), code, out.String(), errb.String())
	}
	return out.String(), code, took
}

// outputs reads `tofu output -json` as name → value.
func (r *tofuRun) outputs() map[string]string {
	r.t.Helper()
	out, _, _ := r.run("output", "-json")
	var raw map[string]struct {
		Value any `json:"value"`
	}
	if err := json.Unmarshal([]byte(out), &raw); err != nil {
		r.t.Fatalf("tofu output: %v\n%s", err, out)
	}
	m := map[string]string{}
	for k, v := range raw {
		m[k] = fmt.Sprint(v.Value)
	}
	return m
}

// adminHostProc runs `acquire host --services none` and answers it with
// its admin token.
func adminHostProc(t *testing.T, extraEnv ...string) (*hostProc, string) {
	t.Helper()
	store := t.TempDir()
	for _, e := range extraEnv {
		k, v, _ := strings.Cut(e, "=")
		t.Setenv(k, v) // the host child inherits them (cloud store credentials)
	}
	h := startHost(t, store, "--services", "none")
	tok, err := os.ReadFile(filepath.Join(store, "admin.token"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(h.out.String(), strings.TrimSpace(string(tok))) {
		t.Fatal("the host printed its admin token")
	}
	return h, strings.TrimSpace(string(tok))
}

// TestExampleLocal applies examples/local from empty against a host
// process, per engine, checks a no-change plan, uses the deployment with the CLI from
// the outputs alone (register, log in, deposit, transfer), and destroys it.
func TestExampleLocal(t *testing.T) {
	for name, engine := range exampleEngines(t) {
		t.Run(name, func(t *testing.T) {
			h, token := adminHostProc(t)
			r := newEngineRun(t, engine, "local", "ACQUIRE_HOST_TOKEN="+token, "ACQUIRE_ADMIN_PASSWORD="+examplePassword)
			_, _, applied := r.run("apply", "-auto-approve", "-var", "host_url="+h.url)
			out, code, planned := r.run("plan", "-detailed-exitcode", "-var", "host_url="+h.url)
			if code != 0 {
				t.Fatalf("a second plan must be empty (exit 0), got %d:\n%s", code, out)
			}
			useDeployment(t, r.outputs())
			_, _, destroyed := r.run("destroy", "-auto-approve", "-var", "host_url="+h.url)
			left, err := (&host.AdminClient{URL: h.url, Token: token}).List(context.Background())
			if err != nil || len(left) != 0 {
				t.Fatalf("after destroy the host runs %d deployments (%v)", len(left), err)
			}
			t.Logf("examples/local with %s: apply from empty %s, no-change plan %s, destroy %s", name,
				applied.Round(time.Millisecond), planned.Round(time.Millisecond), destroyed.Round(time.Millisecond))
		})
	}
}

// useDeployment drives the CLI with nothing but the example's outputs.
func useDeployment(t *testing.T, o map[string]string) {
	t.Helper()
	env := []string{"ACQUIRE_IDENTITY_URL=" + o["identity_url"], "ACQUIRE_ACCOUNTING_URL=" + o["accounting_url"],
		"ACQUIRE_ACCESS_URL=" + o["access_url"], "ACQUIRE_STORAGE_URL=" + o["storage_url"], "ACQUIRE_COMPUTE_URL=" + o["compute_url"]}
	for _, line := range strings.Split(o["cli_env"], "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "export "); ok && !slices.Contains(env, v) {
			t.Fatalf("cli_env output %q differs from the URL outputs", v)
		}
	}
	root := &cli{t: t, config: t.TempDir(), env: env}
	alice := &cli{t: t, config: t.TempDir(), env: env}
	const pw = "alice's long password"
	var reg struct {
		ProvisioningURI string `json:"provisioning_uri"`
	}
	alice.mustJSON(pw+"\n", &reg, "user", "register", "--username", "alice", "--password-stdin")
	waitFreshStep()
	root.mustJSON(examplePassword+"\n", nil, "user", "login", "-u", o["admin_username"], "--password-stdin", "--otp", otpNow(t, enrolmentURI(t, o["admin_enrolment_file"])))
	alice.mustJSON(pw+"\n", nil, "user", "login", "-u", "alice", "--password-stdin", "--otp", otpNow(t, reg.ProvisioningURI))
	var bank, main struct {
		ID string `json:"id"`
	}
	root.mustJSON("", &bank, "account", "create", "bank")
	alice.mustJSON("", &main, "account", "create", "main")
	root.mustJSON("", nil, "account", "deposit", "bank", "--amount", "100")
	root.mustJSON("", nil, "account", "transfer", "--from", "bank", "--to", main.ID, "--amount", "25")
	alice.mustJSON("", nil, "account", "transfer", "--from", "main", "--to", bank.ID, "--amount", "10")
	var bal struct {
		Balance string `json:"balance"`
	}
	alice.mustJSON("", &bal, "account", "balance", "main")
	if bal.Balance != "15.000000" {
		t.Fatalf("alice's balance after 25 in and 10 out: %s", bal.Balance)
	}
	// Upload a file of a few chunks and read it back.
	dir := t.TempDir()
	src, back := filepath.Join(dir, "notes.bin"), filepath.Join(dir, "back.bin")
	body := bytes.Repeat([]byte("acquire example upload\n"), 20000) // 460 KB
	if err := os.WriteFile(src, body, 0o600); err != nil {
		t.Fatal(err)
	}
	alice.mustJSON("", nil, "drive", "create", "docs")
	alice.mustJSON("", nil, "file", "upload", src, "docs", "notes.bin", "--chunk-bytes", "131072")
	alice.mustJSON("", nil, "file", "download", "docs", "notes.bin", "-O", back)
	if got, err := os.ReadFile(back); err != nil || !bytes.Equal(got, body) {
		t.Fatalf("downloaded %d bytes (%v), uploaded %d", len(got), err, len(body))
	}
}

func otpNow(t *testing.T, uri string) string {
	t.Helper()
	u, err := url.Parse(uri)
	if err != nil || u.Query().Get("secret") == "" {
		t.Fatalf("not an otpauth URI (%v)", err)
	}
	code, err := crypto.TOTPCode(u.Query().Get("secret"), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return code
}

// TestExampleMultiStore applies examples/multi-store: one host, each
// service's state on another storage server (local folder, versitygw,
// fake-gcs-server, Azurite), uses it and destroys it.
func TestExampleMultiStore(t *testing.T) {
	ctx := context.Background()
	s3URL, err := url.Parse(s3Bucket(t, ctx, "acquire-identity"))
	if err != nil {
		t.Fatal(err)
	}
	s3c := s3.New(s3.Options{Region: "us-east-1", BaseEndpoint: aws.String(s3URL.Query().Get("endpoint")), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider(servertest.S3Access, servertest.S3Secret, "")})
	if _, err := s3c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("acquire-storage")}); err != nil {
		t.Fatal(err)
	}
	gcsURL, err := url.Parse(gcsBucket(t, "acquire-accounting"))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post(gcsURL.Query().Get("endpoint")+"b", "application/json", strings.NewReader(`{"name":"acquire-compute"}`))
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("create the compute bucket: HTTP %d", resp.StatusCode)
	}
	azEndpoint := servertest.Start(t, servertest.Azurite) + "/" + servertest.AzuriteAccount
	t.Setenv(blobstore.EnvKey, servertest.AzuriteKey)
	az, err := blobstore.OpenURL(ctx, &url.URL{Scheme: "azblob", Host: "acquire-access",
		RawQuery: url.Values{"account": {servertest.AzuriteAccount}, "endpoint": {azEndpoint}}.Encode()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := az.Client().Create(ctx, nil); err != nil {
		t.Fatal(err)
	}
	_ = az.Close()
	h, token := adminHostProc(t, "AWS_ACCESS_KEY_ID="+servertest.S3Access, "AWS_SECRET_ACCESS_KEY="+servertest.S3Secret,
		"AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null", blobstore.EnvKey+"="+servertest.AzuriteKey)
	r := newTofuRun(t, "multi-store", "ACQUIRE_HOST_TOKEN="+token, "ACQUIRE_ADMIN_PASSWORD="+examplePassword)
	local := t.TempDir()
	vars := []string{"-var", "host_url=" + h.url, "-var", "local_store_path=" + local,
		"-var", "s3_endpoint=" + s3URL.Query().Get("endpoint"), "-var", "gcs_endpoint=" + gcsURL.Query().Get("endpoint"),
		"-var", "azure_endpoint=" + azEndpoint}
	_, _, applied := r.run(append([]string{"apply", "-auto-approve"}, vars...)...)
	out, code, planned := r.run(append([]string{"plan", "-detailed-exitcode"}, vars...)...)
	if code != 0 {
		t.Fatalf("a second plan must be empty, got exit %d:\n%s", code, out)
	}
	o := r.outputs()
	for _, scheme := range []string{"file://" + local, "s3://acquire-identity", "gs://acquire-accounting", "azblob://acquire-access",
		"s3://acquire-storage", "gs://acquire-compute"} {
		if !strings.Contains(o["store_urls"], scheme) {
			t.Fatalf("store_urls %s lacks %s", o["store_urls"], scheme)
		}
	}
	useDeployment(t, o)
	_, _, destroyed := r.run(append([]string{"destroy", "-auto-approve"}, vars...)...)
	t.Logf("examples/multi-store with OpenTofu: apply from empty %s, no-change plan %s, destroy %s",
		applied.Round(time.Millisecond), planned.Round(time.Millisecond), destroyed.Round(time.Millisecond))
	left, err := (&host.AdminClient{URL: h.url, Token: token}).List(ctx)
	if err != nil || len(left) != 0 {
		t.Fatalf("after destroy the host runs %d deployments (%v)", len(left), err)
	}
	// Destroy keeps data: the identity service's users are still on S3.
	s3store.Register()
	b, err := store.Open(ctx, s3URL.String())
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = b.Close() }()
	if items, err := b.ListAll(ctx, "identity/users/", 10); err != nil || len(items) < 2 {
		t.Fatalf("the identity service's users must outlive destroy on S3: %d (%v)", len(items), err)
	}
}

// TestMakeUpDown runs the README's main command's scripts (make up / make
// down) with this test's binaries, folders and a free port: up starts a
// host and provisions examples/local and prints what to try next; a second
// up changes nothing; down destroys and stops that host, keeping the data.
func TestMakeUpDown(t *testing.T) {
	state, data := filepath.Join(t.TempDir(), "state"), filepath.Join(t.TempDir(), "data")
	env := append(os.Environ(), "ACQUIRE="+binary, "PROVIDER_DIR="+buildProvider(t), "TOFU="+tofuBinary(t),
		"STATE_DIR="+state, "DATA_DIR="+data, "ADDR="+freePort(t), "ACQUIRE_ADMIN_PASSWORD=")
	script := func(name string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), tofuTimeout)
		defer cancel()
		cmd := exec.CommandContext(ctx, "../scripts/local/"+name)
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s: %v\n%s", name, err, out)
		}
		return string(out)
	}
	t.Cleanup(func() { // a failed test must not leave its host running
		if b, err := os.ReadFile(filepath.Join(state, "host.pid")); err == nil {
			var pid int
			if _, err := fmt.Sscan(string(b), &pid); err == nil && pid > 0 {
				if p, err := os.FindProcess(pid); err == nil {
					_ = p.Kill()
				}
			}
		}
	})
	out := script("up.sh")
	for _, want := range []string{"Acquire is up at", state + "/cli.env", "export ACQUIRE_PASSWORD=", "acquire user login --username root"} {
		if !strings.Contains(out, want) {
			t.Fatalf("make up printed no %q:\n%s", want, out)
		}
	}
	if env, err := os.ReadFile(filepath.Join(state, "cli.env")); err != nil || !strings.Contains(string(env), "export ACQUIRE_IDENTITY_URL=") ||
		!strings.Contains(string(env), "export ACQUIRE_STORAGE_URL=") {
		t.Fatalf("make up's cli.env: %v\n%s", err, env)
	}
	pw, err := os.ReadFile(filepath.Join(state, "admin.password"))
	if err != nil || strings.Contains(out, strings.TrimSpace(string(pw))) {
		t.Fatalf("the admin password must be kept in a file and never printed (%v)", err)
	}
	fi, err := os.Stat(filepath.Join(state, "admin-otp.uri"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("admin-otp.uri: %v %v", fi, err)
	}
	if again := script("up.sh"); !strings.Contains(again, "already running") || !strings.Contains(again, "0 added, 0 changed, 0 destroyed") {
		t.Fatalf("a second make up must reuse the host and change nothing:\n%s", again)
	}
	if down := script("down.sh"); !strings.Contains(down, "acquire host stopped") {
		t.Fatalf("make down:\n%s", down)
	}
	if _, err := os.Stat(filepath.Join(state, "host.pid")); !os.IsNotExist(err) {
		t.Fatalf("make down left the pid file: %v", err)
	}
	if _, err := os.Stat(filepath.Join(state, "cli.env")); !os.IsNotExist(err) {
		t.Fatalf("make down left cli.env, pointing at services it destroyed: %v", err)
	}
	if _, err := os.Stat(filepath.Join(data, "svc-identity")); err != nil {
		t.Fatalf("make down must keep the data: %v", err)
	}
}

// enrolmentURI is the admin's authenticator URI from the enrolment file
// the provider wrote (0600) when it created the admin: state holds only
// the file's path.
func enrolmentURI(t *testing.T, file string) string {
	t.Helper()
	fi, err := os.Stat(file)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("admin enrolment file %s: %v %v", file, fi, err)
	}
	b, err := os.ReadFile(file) //nolint:gosec // the example's own output
	if err != nil {
		t.Fatal(err)
	}
	var en struct {
		OTPURI string `json:"otp_uri"`
	}
	if err := json.Unmarshal(b, &en); err != nil || !strings.HasPrefix(en.OTPURI, "otpauth://") {
		t.Fatalf("admin enrolment file %s: %v", file, err)
	}
	return en.OTPURI
}
