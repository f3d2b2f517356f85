package compute_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/openacquire/acquire/runtime/call"
	"github.com/openacquire/acquire/runtime/compute"
)

// The admin Go API registers as register_cluster does, the running service
// accepts the cluster's agents at once, and refuses them within
// ClusterCacheFor of a removal.
func TestClusterAdminGoAPI(t *testing.T) {
	ctx := context.Background()
	f := setup(t)
	b := f.env.Host.Compute.Service().Bucket()
	k, err := compute.GenerateClusterKey("lab")
	if err != nil {
		t.Fatal(err)
	}
	now := f.env.Clock.Now()
	cl, err := compute.RegisterCluster(ctx, b, "lab", k.PublicKey(), now)
	if err != nil || cl.PublicKey != k.PublicKey() || !cl.Registered.Equal(now.UTC().Truncate(time.Millisecond)) {
		t.Fatalf("register: %+v, %v", cl, err)
	}
	if again, err := compute.RegisterCluster(ctx, b, "lab", k.PublicKey(), now.Add(time.Hour)); err != nil || !again.Registered.Equal(cl.Registered) {
		t.Fatalf("the same key again must answer the record: %+v, %v", again, err)
	}
	other, _ := compute.GenerateClusterKey("lab")
	if _, err := compute.RegisterCluster(ctx, b, "lab", other.PublicKey(), now); !errors.Is(err, call.ErrExists) {
		t.Fatalf("another key for a registered name: %v", err)
	}
	if _, err := compute.RegisterCluster(ctx, b, "Lab!", k.PublicKey(), now); !errors.Is(err, call.ErrBadArguments) {
		t.Fatalf("bad name: %v", err)
	}
	if _, err := compute.RegisterCluster(ctx, b, "lab2", "not-a-key", now); !errors.Is(err, call.ErrBadArguments) {
		t.Fatalf("bad key: %v", err)
	}
	agent := &compute.AgentClient{C: f.env.Client, URL: f.cc.URL, Key: k, Agent: "a1"}
	if _, err := agent.Claim(ctx); err != nil {
		t.Fatalf("the service refuses a cluster registered through the Go API: %v", err)
	}
	if err := compute.RemoveCluster(ctx, b, "lab"); err != nil {
		t.Fatal(err)
	}
	if _, err := compute.GetCluster(ctx, b, "lab"); !errors.Is(err, compute.ErrUnknownCluster) {
		t.Fatalf("after remove: %v", err)
	}
	if err := compute.RemoveCluster(ctx, b, "lab"); err != nil {
		t.Fatalf("removing a removed cluster: %v", err)
	}
	// Registered again with a new key: the new key works at once (the
	// stale cached key is read afresh), the old one no longer.
	if _, err := compute.RegisterCluster(ctx, b, "lab", other.PublicKey(), now); err != nil {
		t.Fatal(err)
	}
	renewed := &compute.AgentClient{C: f.env.Client, URL: f.cc.URL, Key: other, Agent: "a1"}
	if _, err := renewed.Claim(ctx); err != nil {
		t.Fatalf("the new key right after re-registration: %v", err)
	}
	if _, err := agent.Claim(ctx); !errors.Is(err, compute.ErrClusterAuth) {
		t.Fatalf("the old key after re-registration: %v, want ClusterAuthError", err)
	}
	if err := compute.RemoveCluster(ctx, b, "lab"); err != nil {
		t.Fatal(err)
	}
	f.env.Clock.Advance(compute.ClusterCacheFor + time.Second)
	if _, err := renewed.Claim(ctx); !errors.Is(err, compute.ErrUnknownCluster) {
		t.Fatalf("a removed cluster's agent after ClusterCacheFor: %v, want UnknownClusterError", err)
	}
}
