package provider

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
)

// maxDecodeDepth bounds how many layers of base64 and JSON the scan opens
// (the framework's private state is JSON of base64 inside base64).
const maxDecodeDepth = 6

// checkNoSecretInState: no secret the test knows is in state: not in an
// attribute, and not anywhere in the state files the harness keeps on
// disk (under TF_ACC_TEMP_DIR, which forEachEngine sets), private data
// included, however deep it is encoded. Failures name the secret by its
// position, never by its value.
func checkNoSecretInState(secrets ...string) resource.TestCheckFunc {
	return checkNoSecretsInState(func() []string { return secrets })
}

// checkNoSecretsInState is checkNoSecretInState for secrets known only
// when the step runs (e.g. those a fake deployer was given).
func checkNoSecretsInState(secrets func() []string) resource.TestCheckFunc {
	return func(s *terraform.State) error {
		known := secrets()
		if len(known) == 0 {
			return errors.New("checkNoSecretInState: no secret to look for")
		}
		for name, r := range s.RootModule().Resources {
			for k, v := range r.Primary.Attributes {
				if i := leaked([]byte(v), known, 0); i >= 0 {
					return fmt.Errorf("%s.%s holds secret #%d", name, k, i)
				}
			}
		}
		return scanStateFiles(known)
	}
}

// scanStateFiles reads every state file (and backup) under
// TF_ACC_TEMP_DIR; finding none fails, so the scan is never vacuous.
func scanStateFiles(secrets []string) error {
	root := os.Getenv("TF_ACC_TEMP_DIR")
	if root == "" {
		return errors.New("TF_ACC_TEMP_DIR is unset: run the test through forEachEngine, which puts the state files where they are scanned")
	}
	files := 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.Contains(d.Name(), ".tfstate") {
			return err
		}
		b, err := os.ReadFile(path) //nolint:gosec // the harness's own file
		if err != nil {
			return err
		}
		files++
		if i := leaked(b, secrets, 0); i >= 0 {
			return fmt.Errorf("state file %s holds secret #%d", path, i)
		}
		return nil
	})
	if err == nil && files == 0 {
		err = fmt.Errorf("no state file under %s", root)
	}
	return err
}

// leaked answers the index of a secret found in b: in its bytes, or in
// any string of it (JSON) or any decoding of it (base64), down to
// maxDecodeDepth layers; -1 if none.
func leaked(b []byte, secrets []string, depth int) int {
	for i, s := range secrets {
		if bytes.Contains(b, []byte(s)) {
			return i
		}
	}
	if depth >= maxDecodeDepth {
		return -1
	}
	var v any
	if json.Unmarshal(b, &v) == nil {
		return leakedIn(v, secrets, depth)
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if d, err := enc.DecodeString(strings.TrimSpace(string(b))); err == nil && len(d) > 0 {
			if i := leaked(d, secrets, depth+1); i >= 0 {
				return i
			}
		}
	}
	return -1
}

// leakedIn walks a decoded JSON value's strings (keys too).
func leakedIn(v any, secrets []string, depth int) int {
	switch v := v.(type) {
	case string:
		return leaked([]byte(v), secrets, depth+1)
	case []any:
		for _, e := range v {
			if i := leakedIn(e, secrets, depth); i >= 0 {
				return i
			}
		}
	case map[string]any:
		for k, e := range v {
			if i := leaked([]byte(k), secrets, depth+1); i >= 0 {
				return i
			}
			if i := leakedIn(e, secrets, depth); i >= 0 {
				return i
			}
		}
	}
	return -1
}

// scanEveryApply adds check to every step that applies a configuration
// (not plan-only, not expected to fail), so no step that deploys a service
// goes unscanned, and to every import step the same scan of the state
// files on disk (an import writes state too).
func scanEveryApply(steps []resource.TestStep, check resource.TestCheckFunc) []resource.TestStep {
	for i, st := range steps {
		if st.ImportState && st.ExpectError == nil {
			prev := st.ImportStateCheck
			steps[i].ImportStateCheck = func(is []*terraform.InstanceState) error {
				if prev != nil {
					if err := prev(is); err != nil {
						return err
					}
				}
				return check(&terraform.State{Modules: []*terraform.ModuleState{{Path: []string{"root"}, Resources: map[string]*terraform.ResourceState{}}}})
			}
			continue
		}
		if st.Config == "" || st.PlanOnly || st.ExpectError != nil {
			continue
		}
		if st.Check == nil {
			steps[i].Check = check
		} else {
			steps[i].Check = resource.ComposeTestCheckFunc(st.Check, check)
		}
	}
	return steps
}

// TestLeakedFindsEncodedSecrets: the scan finds a secret however a state
// file holds it: plain, in an attribute, or in an instance's private data
// as the framework writes it (base64 of JSON whose values are base64 of
// the provider's JSON), as earlier versions kept a cloud service's secret.
func TestLeakedFindsEncodedSecrets(t *testing.T) {
	const secret = "0123456789abcdef0123456789abcdef01234567"
	b64 := base64.StdEncoding.EncodeToString
	inner, _ := json.Marshal(map[string]string{"secret": secret})
	private, _ := json.Marshal(map[string][]byte{"service_secret": inner})
	state, _ := json.Marshal(map[string]any{"resources": []any{map[string]any{"instances": []any{
		map[string]any{"attributes": map[string]string{"url": "https://x"}, "private": b64(private)}}}}})
	if i := leaked(state, []string{"other", secret}, 0); i != 1 {
		t.Fatalf("secret in private data: found #%d, want #1", i)
	}
	if i := leaked([]byte(`{"a":"`+secret+`"}`), []string{secret}, 0); i != 0 {
		t.Fatalf("plain secret: %d", i)
	}
	ref, _ := json.Marshal(map[string][]byte{"service_secret_ref": []byte(`{"secret_ref":"arn:aws:secretsmanager:us-east-1:1:secret:acquire/x"}`)})
	clean, _ := json.Marshal(map[string]any{"private": b64(ref)})
	if i := leaked(clean, []string{secret}, 0); i != -1 {
		t.Fatalf("a reference only: found #%d", i)
	}
}

// recordedPrivate is a private state that records what is set.
type recordedPrivate map[string][]byte

func (p recordedPrivate) SetKey(_ context.Context, key string, value []byte) diag.Diagnostics {
	if len(value) == 0 {
		delete(p, key)
	} else {
		p[key] = value
	}
	return nil
}

// TestKeepSecretRefDropsTheSecret: what a create, refresh or update leaves
// in private state is the secret's reference; a secret an earlier version
// kept there is removed (the next plan cleans an old state).
func TestKeepSecretRefDropsTheSecret(t *testing.T) {
	const secret = "0123456789abcdef0123456789abcdef01234567"
	priv := recordedPrivate{legacyPrivateSecret: []byte(`{"secret":"` + secret + `"}`)}
	c := &cloudPlatform{secret: secret, secretRef: "arn:aws:secretsmanager:us-east-1:1:secret:acquire/ident/service-secret"}
	if d := keepSecretRef(context.Background(), priv, c); d.HasError() {
		t.Fatal(d)
	}
	b, _ := json.Marshal(priv)
	if i := leaked(b, []string{secret}, 0); i >= 0 || len(priv) != 1 || !strings.Contains(string(priv[privateSecretRef]), c.secretRef) {
		t.Fatalf("private state after keepSecretRef: %s", b)
	}
}
