package deploy_test

import (
	"context"
	"testing"

	"github.com/openacquire/acquire/adapters/deployer/steptest"
	"github.com/openacquire/acquire/adapters/fn/deploy"
)

// The deployer reports each step of a create, an update and a delete
// (deployer.Step: the provider logs them through tflog) with its
// duration, and none carries the secret or a passed environment value
// (both are in the function's Fn configuration).
func TestStepsReported(t *testing.T) {
	r := newRig(t)
	ctx, rec := steptest.New(context.Background())
	s := r.spec()
	const storeKey = "Store-Secret-Key-For-Step-Test"
	s.Settings[deploy.SettingEnvPrefix+"AWS_SECRET_ACCESS_KEY"] = storeKey
	if _, err := r.d.Create(ctx, s); err != nil {
		t.Fatal(err)
	}
	if _, err := r.d.Update(ctx, s); err != nil {
		t.Fatal(err)
	}
	if err := r.d.Delete(ctx, s.Name, false); err != nil {
		t.Fatal(err)
	}
	rec.Check(t, []string{"check_artifact", "push_image", "ensure_app", "ensure_function", "ensure_triggers",
		"delete_function", "delete_app"}, []string{secret, storeKey})
}
