package access_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/openacquire/acquire/runtime/access"
	"github.com/openacquire/acquire/runtime/call"
	"github.com/openacquire/acquire/runtime/store"
)

// The admin Go API writes what set_resource would, and a user of the
// running service sees it at once (it reads the store on every call).
func TestAdminGoAPI(t *testing.T) {
	ctx := context.Background()
	f := setup(t)
	b := f.svc.Bucket()
	now := time.Date(2026, 1, 2, 3, 4, 5, 678_900_000, time.UTC)
	r := access.Resource{Name: "gpu-hour", Price: amt("1.5"), ServiceURL: "http://127.0.0.1:1/compute", Function: "run_job",
		Users:       []string{"u2@https://id.example/identity", "u1@https://id.example/identity", "u2@https://id.example/identity"},
		Description: "one GPU hour"}
	got, err := access.SetResource(ctx, b, r, now)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Users) != 2 || got.Users[0] != "u1@https://id.example/identity" || !got.Updated.Equal(now.Truncate(time.Millisecond)) {
		t.Fatalf("stored %+v: users sorted without repeats, time in ms", got)
	}
	cat, err := f.ac.ListResources(ctx, f.alice)
	if err != nil || len(cat.Resources) != 1 || cat.Resources[0].Price.String() != amt("1.5").String() {
		t.Fatalf("the service does not see the entry: %+v, %v", cat, err)
	}
	// Refused entries change nothing.
	bad := r
	bad.Price = amt("0")
	if _, err := access.SetResource(ctx, b, bad, now); !errors.Is(err, call.ErrBadArguments) {
		t.Fatalf("zero price: %v", err)
	}
	if back, err := access.GetResource(ctx, b, "gpu-hour"); err != nil || !back.Price.IsPositive() {
		t.Fatalf("a refused write changed the entry: %+v, %v", back, err)
	}
	if _, err := access.GetResource(ctx, b, "../x"); !errors.Is(err, call.ErrBadArguments) {
		t.Fatalf("malformed name: %v", err)
	}
	if err := access.RemoveResource(ctx, b, "gpu-hour"); err != nil {
		t.Fatal(err)
	}
	if _, err := access.GetResource(ctx, b, "gpu-hour"); !errors.Is(err, call.ErrNotFound) {
		t.Fatalf("after remove: %v", err)
	}
	if err := access.RemoveResource(ctx, b, "gpu-hour"); err != nil {
		t.Fatalf("removing a removed entry: %v", err)
	}
}

// The catalogue's size bound holds for the Go API too.
func TestAdminGoAPICatalogueFull(t *testing.T) {
	ctx := context.Background()
	b, err := store.Open(ctx, "mem://")
	if err != nil {
		t.Fatal(err)
	}
	r := access.Resource{Price: amt("1"), ServiceURL: "http://127.0.0.1:1/x", Function: "f"}
	for i := range access.MaxResources {
		r.Name = fmt.Sprintf("r%04d", i)
		if _, err := access.SetResource(ctx, b, r, time.Now()); err != nil {
			t.Fatalf("entry %d: %v", i, err)
		}
	}
	r.Name = "one-more"
	if _, err := access.SetResource(ctx, b, r, time.Now()); !errors.Is(err, access.ErrCatalogueFull) {
		t.Fatalf("over the bound: %v", err)
	}
	r.Name = "r0000" // replacing an existing entry is still allowed
	if _, err := access.SetResource(ctx, b, r, time.Now()); err != nil {
		t.Fatalf("replacing at the bound: %v", err)
	}
}
