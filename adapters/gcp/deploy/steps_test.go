package deploy_test

import (
	"context"
	"testing"

	"github.com/openacquire/acquire/adapters/deployer/steptest"
)

// The deployer reports each step of a create, an update and a delete
// (deployer.Step: the provider logs them through tflog) with its
// duration, and none carries the secret.
func TestStepsReported(t *testing.T) {
	e := newEnv(t, nil)
	ctx, rec := steptest.New(context.Background())
	if _, err := e.d.Create(ctx, e.spec()); err != nil {
		t.Fatal(err)
	}
	if _, err := e.d.Update(ctx, e.spec()); err != nil {
		t.Fatal(err)
	}
	if err := e.d.Delete(ctx, svcName, true); err != nil {
		t.Fatal(err)
	}
	rec.Check(t, []string{"get_service", "ensure_bucket", "grant_bucket", "push_image", "ensure_secret", "create_service",
		"update_service", "make_public", "ensure_logs", "delete_service", "delete_secret", "delete_logs", "delete_bucket"},
		[]string{secret})
}
