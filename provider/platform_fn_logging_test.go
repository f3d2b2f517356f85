package provider

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
)

// TestAccProviderLogsOnFn: the real Fn deployer's own steps (push the
// image, the app, the function, the triggers; on destroy the function and
// the app) reach the provider's log through deployer.Step as fn_<step>
// lines with duration_ms, and no line holds a service secret or the store
// key that pass_env put into the functions' Fn configuration. Against the
// simulated Fn API; nothing here ran on a real Fn server.
func TestAccProviderLogsOnFn(t *testing.T) {
	if os.Getenv("TF_ACC") == "" {
		forEachEngine(t, func(*testing.T) {})
		return
	}
	onEngine(t, engines(t)[0], func(t *testing.T) {
		logFile := filepath.Join(t.TempDir(), "tf.log")
		t.Setenv("TF_LOG", "TRACE")
		t.Setenv("TF_LOG_PATH", logFile)
		t.Setenv("TF_ACC_LOG_PATH", logFile)
		r := newFnRig(t)
		var known []string // the secrets, kept for after the destroy (which removes the functions holding them)
		resource.Test(t, resource.TestCase{
			ProtoV6ProviderFactories: testAccProviders,
			Steps: []resource.TestStep{{
				Config: r.config(256, ""),
				Check: func(*terraform.State) error {
					if known = r.secrets(); len(known) != 3 {
						return fmt.Errorf("%d secrets known, want the store key and two service secrets", len(known))
					}
					return checkLog(logFile, known, []logWant{
						{"fn check_artifact done", "service_name=fn-identity", "step=fn_check_artifact", "platform=fn"},
						{"fn push_image done", "service_name=fn-identity", "step=fn_push_image", "repository=" + r.registry + "/fn-identity"},
						{"fn ensure_app done", "service_name=fn-registry", "step=fn_ensure_app", "app=fn-registry"},
						{"fn ensure_function done", "service_name=fn-identity", "step=fn_ensure_function", "image=" + r.registry + "/fn-identity@sha256:"},
						{"fn ensure_triggers done", "service_name=fn-identity", "step=fn_ensure_triggers", "kinds=identity"},
						{"deployer_create done", "service_name=fn-identity", "platform=fn"},
					})
				},
			}},
		})
		if err := checkLog(logFile, known, []logWant{
			{"fn delete_function done", "service_name=fn-identity", "step=fn_delete_function", "function=acquire"},
			{"fn delete_app done", "service_name=fn-registry", "step=fn_delete_app"},
		}); err != nil {
			t.Error(err)
		}
	})
}
