package deploy_test

import (
	"context"
	"testing"

	"github.com/openacquire/acquire/adapters/aws/deploy"
	"github.com/openacquire/acquire/adapters/deployer/steptest"
)

// The deployer reports each step of a create, an update and a delete
// (deployer.Step: the provider logs them through tflog) with its
// duration, and none carries the secret.
func TestStepsReported(t *testing.T) {
	e := setup(t, deploy.Options{})
	ctx, rec := steptest.New(context.Background())
	s := e.spec(t)
	if _, err := e.d.Create(ctx, s); err != nil {
		t.Fatal(err)
	}
	if _, err := e.d.Update(ctx, s); err != nil {
		t.Fatal(err)
	}
	if err := e.d.Delete(ctx, s.Name, true); err != nil {
		t.Fatal(err)
	}
	rec.Check(t, []string{"get_function", "ensure_bucket", "ensure_secret", "ensure_role", "create_function", "ensure_url",
		"update_config", "grant_public_invoke", "ensure_logs", "ensure_concurrency", "update_code",
		"delete_function", "delete_role", "delete_secret", "delete_bucket"}, []string{testSecret})
}
