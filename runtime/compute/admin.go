package compute

import (
	"context"
	"errors"
	"time"

	"github.com/openacquire/acquire/runtime/call"
	"github.com/openacquire/acquire/runtime/store"
)

// The admin Go API: cluster registrations read and written straight on a
// compute service's store, by a platform that holds the store (the
// Terraform provider's acquire_cluster; see access.SetResource for the
// same choice). The rules are register_cluster's: a checked name and key,
// a name keeps its key, at most MaxClusters. A running service sees a new
// registration at once and a removal within ClusterCacheFor.

// ClusterCacheFor bounds how long a running service trusts its cached copy
// of a cluster registration: the delay before a removal takes effect.
const ClusterCacheFor = 30 * time.Second

type cachedCluster struct {
	cl *Cluster
	at time.Time
}

// ClusterNamePattern is what a cluster name must match, for callers that
// check a configuration before sending it.
var ClusterNamePattern = clusterPattern

// RegisterCluster registers a cluster's base64 Ed25519 public key on the
// compute service's bucket b, stamped with now.
func RegisterCluster(ctx context.Context, b *store.Bucket, name, publicKey string, now time.Time) (*Cluster, error) {
	if !clusterPattern.MatchString(name) {
		return nil, call.Errorf(call.ErrBadArguments, "cluster name %q must match %s", clip(name), clusterPattern)
	}
	if _, err := decodePublicKey(publicKey); err != nil {
		return nil, err
	}
	return registerCluster(ctx, b, name, publicKey, now)
}

// GetCluster reads a registration; ErrUnknownCluster when there is none.
func GetCluster(ctx context.Context, b *store.Bucket, name string) (*Cluster, error) {
	if !clusterPattern.MatchString(name) {
		return nil, call.Errorf(call.ErrBadArguments, "cluster name %q must match %s", clip(name), clusterPattern)
	}
	return readCluster(ctx, b, name)
}

// RemoveCluster deletes a registration; one already gone is not an error.
// Its agents are refused once running instances' caches expire; jobs
// queued for it are never claimed, and the service's sweep fails (and so
// refunds) each once it can no longer end before its payment hold ends.
func RemoveCluster(ctx context.Context, b *store.Bucket, name string) error {
	if !clusterPattern.MatchString(name) {
		return call.Errorf(call.ErrBadArguments, "cluster name %q must match %s", clip(name), clusterPattern)
	}
	if err := b.Delete(ctx, clusterKey(name)); err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	return nil
}
