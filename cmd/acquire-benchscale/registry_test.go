package main

import (
	"context"
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/openacquire/acquire/runtime/host"
	"github.com/openacquire/acquire/runtime/host/hosttest"
	"github.com/openacquire/acquire/runtime/registry"
	"github.com/openacquire/acquire/runtime/store"
)

// TestRegistryBuildMatchesService: the registry data set the bench builds
// has the keys and objects a real registry writes, and a real registry
// serves it: a host started on the built file store lists every built
// service (following its pages) with the records the bench's timed read
// returns, and the records and URL index it wrote itself for its own
// services have the same layout and fields as the built ones.
func TestRegistryBuildMatchesService(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	const n = 40
	// The bench writes where a host keeps its registry's objects.
	sub, err := host.SubStoreURL("file://"+dir, registry.Kind)
	if err != nil {
		t.Fatal(err)
	}
	rb, err := store.Open(ctx, sub)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{b: rb, root: dir, aux: map[string]any{}}
	if err := buildRegistry(ctx, e, 0, n/2); err != nil {
		t.Fatal(err)
	}
	if err := buildRegistry(ctx, e, n/2, n); err != nil { // grown, as the command does
		t.Fatal(err)
	}
	built, err := listServices(ctx, e.b, "", 1000, n)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.b.Close(); err != nil {
		t.Fatal(err)
	}

	env := hosttest.Start(t, hosttest.Options{StoreURL: "file://" + dir})
	rc := &registry.Client{C: env.Client, URL: env.Host.ServiceURL(registry.Kind)}
	b := env.Host.Service(registry.Kind).Bucket()
	var served []registry.Record
	for token := ""; ; {
		p, err := rc.ListPage(ctx, registry.ListArgs{PageToken: token, PageSize: 7})
		if err != nil {
			t.Fatal(err)
		}
		served = append(served, p.Services...)
		if token = p.Next; token == "" {
			break
		}
	}
	byUID := map[string]registry.Record{}
	for _, r := range served {
		byUID[r.UID] = r
	}
	if len(served) != n+2 || len(byUID) != n+2 { // the host registered the registry and identity
		t.Fatalf("registry lists %d services (%d distinct), want %d built + 2 of its own", len(served), len(byUID), n)
	}
	for _, r := range built {
		if got, ok := byUID[r.UID]; !ok || !got.Registered.Equal(r.Registered) || got.URL != r.URL || got.Kind != r.Kind || got.PinnedCert != r.PinnedCert {
			t.Fatalf("built %+v, the registry serves %+v", r, got)
		}
		if registry.RegionOf(r.UID) != benchRegion {
			t.Fatalf("UID %s names no region", r.UID)
		}
	}

	// Layout: for every record, the service's own and the built, the
	// record's key and the URL index's key and body are the same functions
	// of the record, and the record's stored fields are the same set.
	var own, bench []string
	for _, r := range served {
		fields := recordLayout(ctx, t, b, r)
		if strings.HasPrefix(r.UID, "stor-") && registry.RegionOf(r.UID) == benchRegion {
			bench = fields
		} else {
			own = fields
		}
	}
	if own == nil || bench == nil || !slices.Equal(own, bench) {
		t.Fatalf("stored record fields: the registry's own %v, the bench's %v", own, bench)
	}
}

// recordLayout checks that r is stored under registry/services/<uid> and
// indexed under registry/by-url/<url> as {"uid": uid}, and returns the
// stored record's field names.
func recordLayout(ctx context.Context, t *testing.T, b *store.Bucket, r registry.Record) []string {
	t.Helper()
	var idx map[string]string
	if _, err := b.GetJSON(ctx, registryByURL+store.EncodeName(r.URL), &idx); err != nil || len(idx) != 1 || idx["uid"] != r.UID {
		t.Fatalf("URL index of %s: %v, %v", r.URL, idx, err)
	}
	raw, _, err := b.Get(ctx, registryRecords+store.EncodeName(r.UID))
	if err != nil {
		t.Fatalf("record of %s: %v", r.UID, err)
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		t.Fatal(err)
	}
	return slices.Sorted(maps.Keys(fields))
}
