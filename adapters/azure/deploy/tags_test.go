package deploy

import (
	"context"
	"errors"
	"maps"
	"net/http"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"

	"github.com/openacquire/acquire/adapters/deployer"
)

// Tags reads the app's tags back through ARM (the SDK's fake WebApps
// server answers the GET as ARM would), the deployer's own left out: a
// tag changed, added or removed out of band is seen; a gone app is
// ErrNotFound.
func TestTagsAreReadBackFromTheApp(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	s := testSpec(t)
	s.Function.Tags = map[string]string{"owner": "platform", "team": "ledger"}
	s.Function.PublicURL = "https://id.example.org"
	if _, err := r.d.Create(ctx, s); err != nil {
		t.Fatalf("Create: %v (refused: %v)", err, r.cloud.refused)
	}
	got, err := r.d.Tags(ctx, "acq-identity")
	if err != nil || !maps.Equal(got, s.Function.Tags) {
		t.Fatalf("Tags = %v, %v; want %v", got, err, s.Function.Tags)
	}
	if n := len(r.cloud.find(http.MethodGet, "/sites/acq-identity")); n == 0 {
		t.Error("Tags did not read the app through ARM")
	}
	r.cloud.mu.Lock()
	st := r.cloud.sites["acq-identity"]
	st.Tags = maps.Clone(st.Tags)
	st.Tags["team"] = to.Ptr("changed-by-hand")
	st.Tags["cost-centre"] = to.Ptr("42")
	delete(st.Tags, "owner")
	r.cloud.sites["acq-identity"] = st
	r.cloud.mu.Unlock()
	got, err = r.d.Tags(ctx, "acq-identity")
	if want := map[string]string{"team": "changed-by-hand", "cost-centre": "42"}; err != nil || !maps.Equal(got, want) {
		t.Errorf("Tags after a change out of band = %v, %v; want %v", got, err, want)
	}
	if _, err := r.d.Update(ctx, s); err != nil {
		t.Fatal(err)
	}
	if got, err = r.d.Tags(ctx, "acq-identity"); err != nil || !maps.Equal(got, s.Function.Tags) {
		t.Errorf("Tags after Update = %v, %v; want the configured %v", got, err, s.Function.Tags)
	}
	r.cloud.mu.Lock()
	delete(r.cloud.sites, "acq-identity")
	r.cloud.mu.Unlock()
	if _, err := r.d.Tags(ctx, "acq-identity"); !errors.Is(err, deployer.ErrNotFound) {
		t.Errorf("Tags of a gone app = %v, want ErrNotFound", err)
	}
	var se *SpecError
	if _, err := r.d.Tags(ctx, "Bad/Name"); !errors.As(err, &se) {
		t.Errorf("Tags of a bad name = %v, want a SpecError", err)
	}
}

// A caller's tag under one of the deployer's own keys (any case: ARM
// compares names without case) is refused before anything is made: it
// could not be read back as configured.
func TestOwnTagKeysAreRefused(t *testing.T) {
	for _, k := range []string{tagVault, strings.ToUpper(tagKinds), tagVersion, tagPublicURL} {
		var se *SpecError
		if err := CheckTag(k, "x"); !errors.As(err, &se) || !strings.Contains(se.Reason, "set by the deployer") {
			t.Errorf("CheckTag(%s) = %v", k, err)
		}
	}
	r := newRig(t)
	s := testSpec(t)
	s.Function.Tags = map[string]string{tagContainer: "elsewhere"}
	if _, err := r.d.Create(context.Background(), s); err == nil {
		t.Fatal("Create with a tag on the deployer's own key succeeded")
	}
	if n := len(r.cloud.find(http.MethodPut, "")); n != 0 {
		t.Errorf("%d PUTs before the tag was refused", n)
	}
}
