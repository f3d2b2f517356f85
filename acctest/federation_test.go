package acctest

import (
	"bytes"
	"context"
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/openacquire/acquire/adapters/azure/blobstore"
	"github.com/openacquire/acquire/adapters/servertest"
	"github.com/openacquire/acquire/runtime/host"
)

// region is one region's host process: `acquire host --services none` on a
// fixed port (a restart keeps its URL) over its own state folder.
type fedHost struct {
	t     *testing.T
	dir   string
	addr  string
	token string
	env   []string
	proc  *hostProc
}

func startFedHost(t *testing.T, env []string) *fedHost {
	t.Helper()
	f := &fedHost{t: t, dir: t.TempDir(), addr: freePort(t), env: env}
	f.start()
	tok, err := os.ReadFile(filepath.Join(f.dir, "admin.token"))
	if err != nil {
		t.Fatal(err)
	}
	f.token = strings.TrimSpace(string(tok))
	return f
}

func (f *fedHost) start() {
	f.t.Helper()
	f.proc = startHostArgs(f.t, []string{"host", "--store", "file://" + f.dir, "--addr", f.addr, "--services", "none", "--sweep-interval-s", "1"}, f.env...)
}

// kill SIGKILLs the host process and waits until it is gone.
func (f *fedHost) kill() {
	f.t.Helper()
	_ = f.proc.cmd.Process.Signal(syscall.SIGKILL)
	err := <-f.proc.done
	f.proc.done <- err
}

// fedOutputs reads `tofu output -json` keeping each value's JSON shape.
func fedOutputs(t *testing.T, r *tofuRun) map[string]map[string]string {
	t.Helper()
	out, _, _ := r.run("output", "-json")
	var raw map[string]struct {
		Value json.RawMessage `json:"value"`
	}
	if err := json.Unmarshal([]byte(out), &raw); err != nil {
		t.Fatal(err)
	}
	m := map[string]map[string]string{}
	for k, v := range raw {
		obj := map[string]string{}
		if json.Unmarshal(v.Value, &obj) != nil {
			var s string
			_ = json.Unmarshal(v.Value, &s)
			obj["value"] = s
		}
		m[k] = obj
	}
	return m
}

// TestExampleFederation applies examples/federation: regions eu (its
// host's services on S3, versitygw) and us (on Azure Blob, Azurite), each
// on its own host process, peered, with cross-region trust. A user of eu
// logs in once and uses us's storage and compute, paying from eu's
// accounting; us's services are found by UID through eu's registry; money
// crosses from eu's ledger to us's, once with us's host SIGKILLed mid-transfer
// and restarted, with exact balances and mirrored settlement positions after;
// a us host down leaves eu working (calls into us fail fast, exit 6) and,
// restarted, us serves again; destroy leaves both hosts empty.
func TestExampleFederation(t *testing.T) {
	ctx := context.Background()
	s3URL, err := url.Parse(s3Bucket(t, ctx, "acquire-eu"))
	if err != nil {
		t.Fatal(err)
	}
	azEndpoint := servertest.Start(t, servertest.Azurite) + "/" + servertest.AzuriteAccount
	t.Setenv(blobstore.EnvKey, servertest.AzuriteKey)
	az, err := blobstore.OpenURL(ctx, &url.URL{Scheme: "azblob", Host: "acquire-us",
		RawQuery: url.Values{"account": {servertest.AzuriteAccount}, "endpoint": {azEndpoint}}.Encode()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := az.Client().Create(ctx, nil); err != nil {
		t.Fatal(err)
	}
	_ = az.Close()
	storeEnv := []string{"AWS_ACCESS_KEY_ID=" + servertest.S3Access, "AWS_SECRET_ACCESS_KEY=" + servertest.S3Secret,
		"AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null", blobstore.EnvKey + "=" + servertest.AzuriteKey}
	eu, us := startFedHost(t, storeEnv), startFedHost(t, storeEnv)

	r := newTofuRun(t, "federation", "ACQUIRE_ADMIN_PASSWORD="+examplePassword)
	vars := []string{"-var", "eu_host_url=" + eu.proc.url, "-var", "us_host_url=" + us.proc.url,
		"-var", "eu_host_token=" + eu.token, "-var", "us_host_token=" + us.token,
		"-var", "s3_endpoint=" + s3URL.Query().Get("endpoint"), "-var", "azure_endpoint=" + azEndpoint}
	_, _, applied := r.run(append([]string{"apply", "-auto-approve"}, vars...)...)
	out, code, _ := r.run(append([]string{"plan", "-detailed-exitcode"}, vars...)...)
	if code != 0 {
		t.Fatalf("a second plan must be empty, got exit %d:\n%s", code, out)
	}
	o := fedOutputs(t, r)
	euO, usO := o["eu"], o["us"]
	if !strings.HasSuffix(usO["storage_uid"], "@"+usO["region"]) || euO["region"] == usO["region"] {
		t.Fatalf("us storage's UID %s does not name its region %s (eu is %s)", usO["storage_uid"], usO["region"], euO["region"])
	}

	alice, root := fedUserStory(t, o)
	usroot, vault := fedMoney(t, o, alice, root, us) // SIGKILLs us's host mid-transfer and restarts it

	// us goes down: eu's users keep working, calls into us fail fast and
	// typed, holds follow their rules.
	holds := startFedHolds(t, o, alice, root, usroot, vault)
	us.kill()
	var bal struct {
		Balance string `json:"balance"`
	}
	alice.mustJSON("", &bal, "account", "balance", "main")
	if bal.Balance != "35.000000" {
		t.Fatalf("alice's eu balance while us is down: %s", bal.Balance)
	}
	start := time.Now()
	out, _, code = alice.run("", "region", "lookup", usO["compute_uid"], "--registry", euO["registry_url"], "-o", "json")
	assertError(t, out, code, 6, "RegionUnreachableError")
	out, _, code = alice.run("", "file", "ls", "docs", "-o", "json")
	if code != 6 {
		t.Fatalf("us storage while us is down: exit %d, want 6 (unreachable)\n%s", code, out)
	}
	t.Logf("calls into the downed region failed in %s", time.Since(start).Round(time.Millisecond))
	holds.whileDown()
	us.start()
	var e struct {
		URL string `json:"url"`
	}
	alice.mustJSON("", &e, "region", "lookup", usO["compute_uid"], "--registry", euO["registry_url"])
	if e.URL != usO["compute_url"] {
		t.Fatalf("us compute through eu after us restarted: %q", e.URL)
	}
	holds.afterReturn()
	fedAudits(t, o, alice, root, usroot) // both regions' audits clean, positions mirrored

	_, _, destroyed := r.run(append([]string{"destroy", "-auto-approve"}, vars...)...)
	for _, h := range []*fedHost{eu, us} {
		left, err := (&host.AdminClient{URL: h.proc.url, Token: h.token}).List(ctx)
		if err != nil || len(left) != 0 {
			t.Fatalf("after destroy %s runs %d deployments (%v)", h.proc.url, len(left), err)
		}
	}
	t.Logf("examples/federation with OpenTofu: apply from empty %s, destroy %s", applied.Round(time.Millisecond), destroyed.Round(time.Millisecond))
}

// fedCLI is a CLI wallet pointed at eu's identity, accounting and registry
// and at us's storage, access and compute.
func fedCLI(t *testing.T, o map[string]map[string]string) *cli {
	euO, usO := o["eu"], o["us"]
	return &cli{t: t, config: t.TempDir(), env: []string{
		"ACQUIRE_IDENTITY_URL=" + euO["identity_url"], "ACQUIRE_ACCOUNTING_URL=" + euO["accounting_url"],
		"ACQUIRE_ACCESS_URL=" + usO["access_url"], "ACQUIRE_STORAGE_URL=" + usO["storage_url"],
		"ACQUIRE_COMPUTE_URL=" + usO["compute_url"], "ACQUIRE_REGISTRY_URL=" + euO["registry_url"]}}
}

// fedUserStory: alice, a user of eu, logs in once and uses us's storage and
// compute, paying from her account at eu's accounting. It answers her CLI.
func fedUserStory(t *testing.T, o map[string]map[string]string) (alice, root *cli) {
	euO, usO := o["eu"], o["us"]
	alice, root = fedCLI(t, o), fedCLI(t, o)

	// The regions see each other: eu's registry lists us as active and
	// finds us's storage by its UID.
	var regions struct {
		Region string `json:"region"`
		Peers  []struct {
			Region, State, Label string
		} `json:"peers"`
	}
	alice.mustJSON("", &regions, "region", "list")
	if regions.Region != euO["region"] || len(regions.Peers) != 1 || regions.Peers[0].Region != usO["region"] ||
		regions.Peers[0].State != "active" || regions.Peers[0].Label != "us" {
		t.Fatalf("eu's regions: %+v", regions)
	}
	if out, _, code := alice.run("", "region", "lookup", usO["storage_uid"], "--url"); code != 0 || strings.TrimSpace(out) != usO["storage_url"] {
		t.Fatalf("us storage by UID through eu: exit %d %q", code, out)
	}

	const pw = "alice's long password"
	var reg struct {
		ProvisioningURI string `json:"provisioning_uri"`
	}
	alice.mustJSON(pw+"\n", &reg, "user", "register", "--username", "alice", "--password-stdin")
	waitFreshStep()
	root.mustJSON(examplePassword+"\n", nil, "user", "login", "-u", "root", "--password-stdin", "--otp", otpNow(t, enrolmentURI(t, o["eu_admin_enrolment_file"]["value"])))
	alice.mustJSON(pw+"\n", nil, "user", "login", "-u", "alice", "--password-stdin", "--otp", otpNow(t, reg.ProvisioningURI))

	var main struct {
		ID string `json:"id"`
	}
	alice.mustJSON("", &main, "account", "create", "main")
	root.mustJSON("", nil, "account", "deposit", main.ID, "--amount", "50", "--id", "fed-dep-1")

	// us's storage, as alice of eu.
	src, back := filepath.Join(t.TempDir(), "notes.txt"), filepath.Join(t.TempDir(), "back.txt")
	body := bytes.Repeat([]byte("federated upload\n"), 1000)
	if err := os.WriteFile(src, body, 0o600); err != nil {
		t.Fatal(err)
	}
	alice.mustJSON("", nil, "drive", "create", "docs")
	alice.mustJSON("", nil, "file", "upload", src, "docs", "notes.txt")
	alice.mustJSON("", nil, "file", "download", "docs", "notes.txt", "-O", back)
	if got, err := os.ReadFile(back); err != nil || !bytes.Equal(got, body) {
		t.Fatalf("us storage round trip: %d bytes (%v)", len(got), err)
	}

	// us's compute, paid from eu: root (eu's admin, named admin of us's
	// access and compute) offers jobs and runs the cluster's agent.
	root.mustJSON("", nil, "access", "resource", "set", "job", "--price", "3", "--service", usO["compute_url"],
		"--function", "submit_job", "--hold-s", "21600")
	root.mustJSON("", nil, "cluster", "register", "lab")
	startAgent(t, root, t.TempDir(), "--unsandboxed-single-tenant", "--workers", "2")
	var ok, bad struct {
		JobID string `json:"job_id"`
	}
	alice.submitJSON(&ok, "--account", "main", "--cluster", "lab", "--time-limit-s", "60", "--", "/bin/echo", "hello from us")
	alice.submitJSON(&bad, "--account", "main", "--cluster", "lab", "--time-limit-s", "60", "--", "/bin/false")
	if st := waitSettled(t, alice, ok.JobID); st.State != "succeeded" || !st.Settled {
		t.Fatalf("the paid job: %+v", st)
	}
	if st := waitSettled(t, alice, bad.JobID); st.State != "failed" || !st.Settled {
		t.Fatalf("the failing job: %+v", st)
	}
	var bal struct {
		Balance   string `json:"balance"`
		Liability string `json:"liability"`
	}
	alice.mustJSON("", &bal, "account", "balance", "main")
	// 50 deposited, one job kept (3) and one refunded, at eu's ledger.
	if bal.Balance != "47.000000" || bal.Liability != "0.000000" {
		t.Fatalf("alice's eu account after a paid and a refunded us job: %+v", bal)
	}
	return alice, root
}
