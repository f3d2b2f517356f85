package provider

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-log/tflog"
	"github.com/hashicorp/terraform-plugin-log/tflogtest"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/terraform"

	"github.com/openacquire/acquire/adapters/deployer"
)

// TestLogMasks: the masks are a safety net: a secret logged by mistake, as
// a field, in a message or inside a URL, comes out masked, and the
// structured fields a step logs are there.
func TestLogMasks(t *testing.T) {
	const secret = "0123456789abcdef0123456789abcdef01234567"
	var buf bytes.Buffer
	ctx := logContext(tflogtest.RootLogger(context.Background(), &buf), "acquire_service", secret, "")
	tflog.Info(ctx, "oops "+secret, map[string]any{"note": "x" + secret})
	tflog.Info(ctx, "fields", map[string]any{"password": "Root-Password-1", "host_token": "tok-123", "otp_uri": "z"})
	tflog.Info(ctx, "enrolled otpauth://totp/acq:root?secret=JBSWY3DPEHPK3PXP&issuer=acq")
	tflog.Info(ctx, "store", map[string]any{"url": "s3://b?endpoint=http://x&token=t0k3n-v4lue", "sas": "https://a.blob/c?sv=1&sig=s1gv4lue"})
	tflog.Info(ctx, "creds https://user:pa55word@host/x and Bearer abc.def")
	logStep(ctx, "deployer_create", logService, "ident", logPlatform, "aws")(nil)
	logStep(ctx, "set_up", logService, "ident")(errors.New("refused"))

	out := buf.String()
	for _, s := range []string{secret, "Root-Password-1", "tok-123", "JBSWY3DPEHPK3PXP", "t0k3n-v4lue", "s1gv4lue", "pa55word", "abc.def"} {
		if strings.Contains(out, s) {
			t.Errorf("log holds %q:\n%s", s, out)
		}
	}
	lines, err := tflogtest.MultilineJSONDecode(&buf)
	if err != nil {
		t.Fatal(err)
	}
	var done, failed bool
	for _, l := range lines {
		if l["resource"] != "acquire_service" {
			t.Errorf("line without the resource field: %v", l)
		}
		switch l["@message"] {
		case "deployer_create done":
			_, timed := l[logDuration].(float64)
			done = timed && l["@level"] == "info" && l[logStepKey] == "deployer_create" && l[logService] == "ident" && l[logPlatform] == "aws"
		case "set_up failed":
			failed = l["@level"] == "error" && l[logError] == "refused"
		}
	}
	if !done || !failed {
		t.Errorf("step lines missing (done %v, failed %v): %v", done, failed, lines)
	}
	if got := redactURL("s3://u:p@bucket/pre?region=x&token=y#f"); got != "s3://bucket/pre" {
		t.Errorf("redactURL: %s", got)
	}
}

// TestAccProviderLogs runs a cloud service's create and destroy (the fake
// cloud of TestAccServiceOnCloudPlatform, beside a registry on the local
// host) with TF_LOG=TRACE into a file: its deployment steps are logged
// with their structured fields, and no secret the test knows (service
// secrets, passwords, the host token, the admin's enrolment) is anywhere
// in the file, engine and provider lines alike.
func TestAccProviderLogs(t *testing.T) {
	if os.Getenv("TF_ACC") == "" {
		forEachEngine(t, func(*testing.T) {})
		return
	}
	onEngine(t, engines(t)[0], func(t *testing.T) {
		logFile := filepath.Join(t.TempDir(), "tf.log")
		t.Setenv("TF_LOG", "TRACE")
		t.Setenv("TF_LOG_PATH", logFile)     // the provider's lines
		t.Setenv("TF_ACC_LOG_PATH", logFile) // and the engine's
		h := startAdminHost(t)
		t.Setenv(EnvSecretSeed, "test-seed-for-cloud-secrets")
		fake := newFakeDeployer(t, h.env.Clock.Now)
		saved := newDeployer
		newDeployer = func(context.Context, cloudBlock) (deployer.Deployer, error) { return fake, nil }
		t.Cleanup(func() { newDeployer = saved })
		secrets := func() []string {
			return append(append(fake.secretValues(), "Root-Password-1", testHostToken), withEnrolment()()...)
		}
		resource.Test(t, resource.TestCase{
			ProtoV6ProviderFactories: testAccProviders,
			Steps: []resource.TestStep{{
				Config: cloudConfig(t, h.env.URL, "Root-Password-1", "1", testArtifact(t, "aws-lambda-arm64.zip")),
				Check: func(*terraform.State) error {
					return checkLog(logFile, secrets(), []logWant{
						{"create done", "resource=acquire_service", "service_name=ident", "platform=aws"},
						{"deployer_read done", "service_name=ident", "platform=aws", "step=deployer_read"},
						{"deployer_create done", "service_name=ident", "platform=aws", "bucket=ident-bucket"},
						{"aws start_function done", "service_name=ident", "step=aws_start_function", "bucket=ident-bucket"},
						{"resolve_artifact done", "service_name=ident"},
						{"open_service done", "service_name=ident"},
						{"set_up done", "service_name=ident", "first_admin=true"},
						{"service deployed", "service_name=ident", "url=http"},
						{"host_deploy done", "service_name=registry", "platform=local", "kind=registry"},
					})
				},
			}},
		})
		if err := checkLog(logFile, secrets(), []logWant{
			{"deployer_delete done", "service_name=ident", "platform=aws", "delete_data=false"},
			{"host_remove done", "service_name=registry"},
		}); err != nil {
			t.Error(err)
		}
	})
}

// logWant is one expected log line: its message, then fields as
// key=value (each must be on the same line, every line giving duration_ms
// unless it is a plain message).
type logWant []string

// checkLog reads the log file: each want is on some line, and no secret
// is on any line, however encoded (leaked). Failures name a secret by its
// position, never by its value.
func checkLog(file string, secrets []string, wants []logWant) error {
	if len(secrets) == 0 {
		return errors.New("checkLog: no secret to look for")
	}
	b, err := os.ReadFile(file) //nolint:gosec // the test's own file
	if err != nil {
		return err
	}
	found := make([]bool, len(wants))
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 1<<20), 16<<20)
	n := 0
	for sc.Scan() {
		line := sc.Text()
		n++
		if i := leaked([]byte(line), secrets, 0); i >= 0 {
			return fmt.Errorf("log line %d holds secret #%d", n, i)
		}
		for i, w := range wants {
			if found[i] || !strings.Contains(line, w[0]) {
				continue
			}
			ok := strings.Contains(w[0], " done") == strings.Contains(line, "duration_ms=")
			for _, f := range w[1:] {
				ok = ok && strings.Contains(line, f)
			}
			found[i] = ok
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	for i, w := range wants {
		if !found[i] {
			return fmt.Errorf("no log line %q with %v among %d lines", w[0], w[1:], n)
		}
	}
	return nil
}
