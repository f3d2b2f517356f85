package deploy

import (
	"context"
	"testing"

	"github.com/openacquire/acquire/adapters/deployer/steptest"
)

// The deployer reports each step of a create and a delete
// (deployer.Step: the provider logs them through tflog) with its
// duration, and none carries the secret.
func TestStepsReported(t *testing.T) {
	r := newRig(t)
	ctx, rec := steptest.New(context.Background())
	if _, err := r.d.Create(ctx, testSpec(t)); err != nil {
		t.Fatal(err)
	}
	if err := r.d.Delete(ctx, "acq-identity", true); err != nil {
		t.Fatal(err)
	}
	rec.Check(t, []string{"check_vault", "ensure_containers", "set_secret", "put_logs", "put_app", "grant", "put_settings",
		"publish", "revoke", "delete_app", "delete_logs", "delete_secret", "delete_blobs"}, []string{testSecret})
}
