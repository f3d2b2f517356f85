package registry_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/openacquire/acquire/runtime/call"
	"github.com/openacquire/acquire/runtime/registry"
	"github.com/openacquire/acquire/runtime/service"
)

// HomeKeys takes a service's keys only as its home registry vouches for
// them: found by URL through a peer region, cached, and refused once the
// service's keys change at its URL behind its registry's back; a Fresh
// lookup goes past the peer cache to the home registry.
func TestHomeKeysFollowTheHomeRegistry(t *testing.T) {
	a, b := newRegion(t), newRegion(t)
	ctx := context.Background()
	peer(t, a, b)
	if err := a.storSvc.SetUID(ctx, a.storUID, a.regURL); err != nil { // as a host does on registering
		t.Fatal(err)
	}
	hk := &registry.HomeKeys{Client: b.client, RegistryURL: func(context.Context) (string, error) { return b.regURL, nil }}
	storURL := a.url + "/storage"
	keys, err := hk.Keys(ctx, storURL, false)
	if err != nil || keys.UID != a.storUID || keys.Kind != "storage" {
		t.Fatalf("a's storage through b: %+v %v", keys, err)
	}
	if u, err := hk.Resolve(ctx, a.storUID); err != nil || u != storURL {
		t.Fatalf("resolve: %q %v", u, err)
	}

	// Another storage service, with keys of its own, answers at the URL
	// (and says it is the same UID).
	svc, err := service.New(ctx, service.Config{Kind: "storage", URL: storURL, Bucket: openBucket(t), Secret: peerSecret + "-other"})
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.SetUID(ctx, a.storUID, a.regURL); err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/registry", a.regSvc)
	mux.Handle("/storage", svc)
	a.swap(mux)
	// b's registry still answers from its cache; a fresh lookup asks a,
	// which no longer vouches for the keys at the URL.
	if _, err := b.rc().Lookup(ctx, registry.LookupArgs{UID: a.storUID}); err != nil {
		t.Fatalf("cached lookup: %v", err)
	}
	_, err = b.rc().Lookup(ctx, registry.LookupArgs{UID: a.storUID, Fresh: true})
	wantClass(t, err, call.ErrSignature)
	// HomeKeys: the checked keys stand until refreshed; refreshed, refused.
	if _, err := hk.Keys(ctx, storURL, false); err != nil {
		t.Fatalf("cached keys: %v", err)
	}
	fresh := &registry.HomeKeys{Client: b.client, RegistryURL: hk.RegistryURL}
	_, err = fresh.Keys(ctx, storURL, true)
	wantClass(t, err, registry.ErrNotVouched)

	// A service registered nowhere, and a service with no registry.
	_, err = fresh.Keys(ctx, b.url+"/nowhere", false)
	if err == nil {
		t.Fatal("keys of nothing")
	}
	none := &registry.HomeKeys{Client: b.client, RegistryURL: func(context.Context) (string, error) { return "", nil }}
	_, err = none.Keys(ctx, b.url+"/storage", false)
	wantClass(t, err, registry.ErrNotVouched)
}
