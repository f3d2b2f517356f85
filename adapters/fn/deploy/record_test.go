package deploy_test

import (
	"context"
	"errors"
	"maps"
	"strings"
	"testing"

	"github.com/openacquire/acquire/adapters/fn/deploy"
)

// Record settings and tags are kept in the function's annotations, as Fn
// keeps them (values at most 512 bytes of JSON), and read back; one
// dropped from the spec is removed (sent empty, which Fn's merge takes
// as a removal); an unchanged spec writes nothing.
func TestRecordAndTagsReadBack(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	s := r.spec()
	s.Settings[deploy.SettingRecordPrefix+"artifact"] = "/srv/dist/fn-amd64.tar"
	s.Settings[deploy.SettingRecordPrefix+"registry"] = "registry.example.com/acquire"
	s.Function.Tags = map[string]string{"team": "ledger", "env": "prod"}
	if _, err := r.d.Create(ctx, s); err != nil {
		t.Fatal(err)
	}
	rec, err := r.d.Record(ctx, "acq-id")
	if err != nil || !maps.Equal(rec, map[string]string{"artifact": "/srv/dist/fn-amd64.tar", "registry": "registry.example.com/acquire"}) {
		t.Errorf("Record = %v, %v", rec, err)
	}
	tags, err := r.d.Tags(ctx, "acq-id")
	if err != nil || !maps.Equal(tags, map[string]string{"team": "ledger", "env": "prod"}) {
		t.Errorf("Tags = %v, %v", tags, err)
	}
	delete(s.Settings, deploy.SettingRecordPrefix+"registry")
	s.Function.Tags = map[string]string{"team": "payments"}
	if _, err := r.d.Update(ctx, s); err != nil {
		t.Fatal(err)
	}
	if rec, _ := r.d.Record(ctx, "acq-id"); !maps.Equal(rec, map[string]string{"artifact": "/srv/dist/fn-amd64.tar"}) {
		t.Errorf("Record after update = %v", rec)
	}
	if tags, _ := r.d.Tags(ctx, "acq-id"); !maps.Equal(tags, map[string]string{"team": "payments"}) {
		t.Errorf("Tags after update = %v", tags)
	}
	before := len(r.api.Writes())
	if _, err := r.d.Update(ctx, s); err != nil {
		t.Fatal(err)
	}
	if w := r.api.Writes(); len(w) != before {
		t.Errorf("an unchanged update wrote %v", w[before:])
	}
	for key, v := range map[string]string{"Bad-Key": "x", "artifact": strings.Repeat("a", deploy.MaxRecordBytes+1), "leak": "x" + secret} {
		bad := r.spec()
		bad.Settings[deploy.SettingRecordPrefix+key] = v
		if _, err := r.d.Update(ctx, bad); !errors.Is(err, deploy.ErrInvalidSpec) || strings.Contains(err.Error(), secret) {
			t.Errorf("record %s: %v", key, err)
		}
	}
}
