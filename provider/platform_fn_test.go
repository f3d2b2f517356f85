package provider

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"

	"github.com/openacquire/acquire/adapters/dist"
	"github.com/openacquire/acquire/adapters/fn/fnapitest"
	"github.com/openacquire/acquire/adapters/servertest"
	"github.com/openacquire/acquire/runtime/call"
	registrysvc "github.com/openacquire/acquire/runtime/registry"
)

// fnRig is an Fn server played at its API (adapters/fn/fnapitest, whose
// triggers run the entry point's handler in-process), an OCI registry, and
// a real S3 bucket (versitygw) for the services' state.
type fnRig struct {
	api      *fnapitest.Server
	registry string
	storeEnd string
	artifact string
}

func newFnRig(t *testing.T) *fnRig {
	t.Helper()
	ctx := context.Background()
	end := servertest.Start(t, servertest.Versitygw)
	// The provider (this process) and the functions it deploys reach the
	// bucket with these; the functions get them through pass_env.
	t.Setenv("AWS_ACCESS_KEY_ID", servertest.S3Access)
	t.Setenv("AWS_SECRET_ACCESS_KEY", servertest.S3Secret)
	t.Setenv("AWS_CONFIG_FILE", "/dev/null")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
	c := s3.New(s3.Options{Region: "us-east-1", BaseEndpoint: aws.String(end), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider(servertest.S3Access, servertest.S3Secret, "")})
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("fn-acc")}); err != nil {
		t.Fatal(err)
	}
	api := fnapitest.New()
	t.Cleanup(api.Close)
	api.RunFunctions(t)
	reg := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(reg.Close)
	var img bytes.Buffer
	if err := dist.OCIArchive(&img, "function", "amd64", []byte("stand-in binary: the triggers run the handler in-process")); err != nil {
		t.Fatal(err)
	}
	art := filepath.Join(t.TempDir(), "fn-amd64.tar")
	if err := os.WriteFile(art, img.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return &fnRig{api: api, registry: strings.TrimPrefix(reg.URL, "http://") + "/acquire", storeEnd: end, artifact: art}
}

func (r *fnRig) config(memory int, extra string) string {
	block := fmt.Sprintf(`
    fn {
      api_url   = %q
      registry  = %q
      artifact  = %q
      memory_mb = %d
      pass_env  = ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"]
      tags      = { team = "identity" }
      %s
    }`, r.api.URL, r.registry, r.artifact, memory, extra)
	store := fmt.Sprintf(`{ s3 = { bucket = "fn-acc", region = "us-east-1", endpoint = %q, path_style = true } }`, r.storeEnd)
	return providerBlock("") + fmt.Sprintf(`
resource "acquire_service" "registry" {
  name     = "fn-registry"
  kind     = "registry"
  platform {%s
  }
  store = %s
}

resource "acquire_service" "identity" {
  name     = "fn-identity"
  kind     = "identity"
  registry = acquire_service.registry.url
  platform {%s
  }
  store = %s
}
`, block, store, block, store)
}

// secrets are what the state must never hold: each service secret the
// deployer put in a function's configuration, and the store's key.
func (r *fnRig) secrets() []string {
	out := []string{servertest.S3Secret}
	for _, f := range r.api.Fns() {
		if s := f.Config["ACQUIRE_SERVICE_SECRET"]; s != "" {
			out = append(out, s)
		}
	}
	return out
}

// TestAccServiceOnFn deploys a registry and an identity service on Fn in
// HCL, through the real Fn deployer against a simulated Fn API: the
// identity registers with the registry through the registry's trigger, and
// both answer encrypted calls at their trigger URLs; a memory change
// updates in place; destroy removes apps, functions and triggers and keeps
// the data. Plan-time mistakes are refused naming the attribute. Nothing
// here ran on a real Fn server.
func TestAccServiceOnFn(t *testing.T) {
	forEachEngine(t, func(t *testing.T) {
		r := newFnRig(t)
		ctx := context.Background()
		resource.Test(t, resource.TestCase{
			ProtoV6ProviderFactories: testAccProviders,
			Steps: scanEveryApply([]resource.TestStep{
				{
					Config:      strings.Replace(r.config(256, ""), `"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"`, `"FN_FORMAT"`, 2),
					PlanOnly:    true,
					ExpectError: regexp.MustCompile(`platform.fn.pass_env\[0\]:\s+FN_FORMAT\s+is\s+set\s+by\s+the\s+deployer\s+or\s+by\s+Fn`),
				},
				{
					Config:      strings.Replace(r.config(256, ""), r.registry, "https://not-a-repository", 2),
					PlanOnly:    true,
					ExpectError: regexp.MustCompile(`(?s)registry.*an image repository`),
				},
				{
					Config:      r.config(20000, ""),
					PlanOnly:    true,
					ExpectError: regexp.MustCompile(`platform.fn.memory_mb:\s+20000\s+is\s+not\s+in\s+64\s+to\s+8192`),
				},
				{
					Config: r.config(256, ""),
					Check: resource.ComposeTestCheckFunc(
						resource.TestCheckResourceAttr("acquire_service.identity", "url", r.api.URL+"/t/fn-identity/identity"),
						func(s *terraform.State) error {
							attrs := s.RootModule().Resources["acquire_service.identity"].Primary.Attributes
							rc := &registrysvc.Client{C: call.NewClient(&call.MemoryPins{}), URL: r.api.URL + "/t/fn-registry/registry"}
							e, err := rc.Lookup(ctx, registrysvc.LookupArgs{URL: attrs["url"]})
							if err != nil || e.UID != attrs["uid"] || attrs["uid"] == "" {
								return fmt.Errorf("the registry on fn has %+v (%w), state uid %s", e, err, attrs["uid"])
							}
							for _, f := range r.api.Fns() {
								if f.Memory != 256 || f.Annotations["team"] != "identity" || f.Config["AWS_ACCESS_KEY_ID"] != servertest.S3Access {
									return fmt.Errorf("function %s: memory %d, annotations %v", f.Name, f.Memory, f.Annotations)
								}
								u, _ := url.Parse(f.Config["ACQUIRE_STORE_URL"])
								if u == nil || u.Host != "fn-acc" || u.Query().Get("endpoint") != r.storeEnd {
									return fmt.Errorf("store URL %q", f.Config["ACQUIRE_STORE_URL"])
								}
							}
							return nil
						},
					),
				},
				{ // import by an import {} block, the API URL escaped in the ID: the plan is empty
					Config: r.config(256, ""), ResourceName: "acquire_service.registry", ImportState: true,
					ImportStateKind: resource.ImportBlockWithID, ImportStateId: "fn/" + url.PathEscape(r.api.URL) + "/fn-registry",
				},
				{ // the same with the API URL from FN_API_URL, as the Fn CLI reads it
					PreConfig: func() { t.Setenv(EnvFnAPIURL, r.api.URL) },
					Config:    r.config(256, ""), ResourceName: "acquire_service.registry", ImportState: true,
					ImportStateKind: resource.ImportBlockWithID, ImportStateId: "fn/fn-registry",
				},
				{ // the identity imports too; only its registry, which the deployment does not hold, is then updated in place
					Config: r.config(256, ""), ResourceName: "acquire_service.identity", ImportState: true,
					ImportStateId: "fn/" + url.PathEscape(r.api.URL) + "/fn-identity", ImportStateVerify: true,
					ImportStateVerifyIgnore: []string{"registry"},
				},
				{
					Config: r.config(512, ""),
					ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction("acquire_service.identity", plancheck.ResourceActionUpdate),
					}},
					Check: func(*terraform.State) error {
						for _, f := range r.api.Fns() {
							if f.Memory != 512 {
								return fmt.Errorf("function %s still has %d MB", f.Name, f.Memory)
							}
						}
						return nil
					},
				},
			}, checkNoSecretsInState(r.secrets)),
			CheckDestroy: func(*terraform.State) error {
				if apps, fns, trs := r.api.Counts(); apps+fns+trs != 0 {
					return fmt.Errorf("destroy left %d apps, %d functions, %d triggers", apps, fns, trs)
				}
				c := s3.New(s3.Options{Region: "us-east-1", BaseEndpoint: aws.String(r.storeEnd), UsePathStyle: true,
					Credentials: credentials.NewStaticCredentialsProvider(servertest.S3Access, servertest.S3Secret, "")})
				out, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("fn-acc")})
				if err != nil || len(out.Contents) == 0 {
					return fmt.Errorf("destroy must keep the data (%w)", err)
				}
				return nil
			},
		})
	})
}
