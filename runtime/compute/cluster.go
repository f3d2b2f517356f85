package compute

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"time"

	"github.com/openacquire/acquire/runtime/call"
	"github.com/openacquire/acquire/runtime/crypto"
	"github.com/openacquire/acquire/runtime/store"
)

// ClusterKey is a cluster's own signing key. Ed25519: a signature costs
// about 0.04 ms, against 1.6 ms for RSA-PSS, and agents sign every claim
// and heartbeat.
type ClusterKey struct {
	Name string
	Key  ed25519.PrivateKey
}

// GenerateClusterKey makes a new key for the cluster name.
func GenerateClusterKey(name string) (*ClusterKey, error) {
	if !clusterPattern.MatchString(name) {
		return nil, fmt.Errorf("compute: cluster name %q must match %s", name, clusterPattern)
	}
	_, k, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	return &ClusterKey{Name: name, Key: k}, nil
}

// PublicKey is the base64 public key registered with the service.
func (k *ClusterKey) PublicKey() string {
	return base64.StdEncoding.EncodeToString(k.Key.Public().(ed25519.PublicKey))
}

// MarshalPEM is the private key as PKCS#8 PEM (kept 0600 by its holder).
func (k *ClusterKey) MarshalPEM() ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(k.Key)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// ParseClusterKey reads a key written by MarshalPEM.
func ParseClusterKey(name string, pemBytes []byte) (*ClusterKey, error) {
	b, _ := pem.Decode(pemBytes)
	if b == nil || b.Type != "PRIVATE KEY" {
		return nil, errors.New("compute: the cluster key is not a PKCS#8 PEM private key")
	}
	k, err := x509.ParsePKCS8PrivateKey(b.Bytes)
	if err != nil {
		return nil, fmt.Errorf("compute: the cluster key: %w", err)
	}
	ek, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, errors.New("compute: the cluster key is not Ed25519")
	}
	return &ClusterKey{Name: name, Key: ek}, nil
}

// Sign makes the statement for agent asking resource of the service at
// serviceURL, at now.
func (k *ClusterKey) Sign(serviceURL, agent, resource string, now time.Time) ClusterAuth {
	at := now.UTC().Format(time.RFC3339Nano)
	sig := ed25519.Sign(k.Key, ClusterMessage(serviceURL, k.Name, agent, resource, at))
	return ClusterAuth{Cluster: k.Name, Agent: agent, Time: at, Signature: base64.StdEncoding.EncodeToString(sig)}
}

func decodePublicKey(s string) (ed25519.PublicKey, error) {
	raw, err := crypto.UnB64(s)
	if err != nil || len(raw) != ed25519.PublicKeySize {
		return nil, call.Errorf(call.ErrBadArguments, "the public key must be a base64 Ed25519 key of %d bytes", ed25519.PublicKeySize)
	}
	return ed25519.PublicKey(raw), nil
}

// handleRegisterCluster records a cluster's public key. Admins only. The
// same key again answers the record; another key for a registered name
// is AlreadyExistsError (a key is replaced by registering a new name).
func (c *Compute) handleRegisterCluster(ctx context.Context, args *RegisterClusterArgs) (*Cluster, error) {
	if !clusterPattern.MatchString(args.Name) {
		return nil, call.Errorf(call.ErrBadArguments, "cluster name %q must match %s", clip(args.Name), clusterPattern)
	}
	if _, err := decodePublicKey(args.PublicKey); err != nil {
		return nil, err
	}
	u, err := c.authoriseUser(ctx, args.Credentials, RegisterClusterResource(args.Name, args.PublicKey))
	if err != nil {
		return nil, err
	}
	if ok, err := c.svc.IsAdmin(ctx, u.IdentityURL, u.UserUID); err != nil {
		return nil, err
	} else if !ok {
		return nil, call.Errorf(call.ErrPermission, "only admins of the compute service may register clusters")
	}
	return registerCluster(ctx, c.b, args.Name, args.PublicKey, c.svc.Now())
}

// registerCluster records a checked name and key on the compute service's
// bucket b: the same key again answers the record, another key for the
// name is AlreadyExistsError, and MaxClusters holds.
func registerCluster(ctx context.Context, b *store.Bucket, name, publicKey string, now time.Time) (*Cluster, error) {
	if old, err := readCluster(ctx, b, name); err == nil {
		if old.PublicKey != publicKey {
			return nil, call.Errorf(call.ErrExists, "cluster %s is registered with another key", name)
		}
		return old, nil
	} else if !errors.Is(err, ErrUnknownCluster) {
		return nil, err
	}
	items, err := b.ListAll(ctx, clustersPre, MaxClusters)
	if err != nil {
		return nil, err
	}
	if len(items) >= MaxClusters {
		return nil, call.Errorf(call.ErrBadArguments, "at most %d clusters may be registered", MaxClusters)
	}
	cl := &Cluster{Name: name, PublicKey: publicKey, Registered: now.UTC().Truncate(time.Millisecond)}
	if _, err := b.PutJSONIfAbsent(ctx, clusterKey(name), cl); errors.Is(err, store.ErrPrecondition) {
		return registerCluster(ctx, b, name, publicKey, now) // a concurrent registration: answer as for a repeat
	} else if err != nil {
		return nil, err
	}
	return cl, nil
}

func readCluster(ctx context.Context, b *store.Bucket, name string) (*Cluster, error) {
	var rec Cluster
	if _, err := b.GetJSON(ctx, clusterKey(name), &rec); errors.Is(err, store.ErrNotFound) {
		return nil, call.Errorf(ErrUnknownCluster, "no cluster %q is registered", clip(name))
	} else if err != nil {
		return nil, err
	}
	return &rec, nil
}

// cluster reads a registered cluster, cached for ClusterCacheFor: a
// record never changes, but the admin Go API may remove it, and a removed
// cluster's agents must be refused soon after.
func (c *Compute) cluster(ctx context.Context, name string) (*Cluster, error) {
	now := c.svc.Now()
	c.mu.Lock()
	cc, ok := c.clusters[name]
	c.mu.Unlock()
	if ok && now.Sub(cc.at) < ClusterCacheFor && !now.Before(cc.at) {
		return cc.cl, nil
	}
	rec, err := readCluster(ctx, c.b, name)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if _, cached := c.clusters[name]; cached || len(c.clusters) < MaxClusters {
		c.clusters[name] = cachedCluster{cl: rec, at: now}
	}
	c.mu.Unlock()
	return rec, nil
}

// verifyCluster checks an agent's statement for resource: a registered
// cluster's signature over this service's URL, the agent and the
// resource, dated within ClusterAuthMaxAge (and at most a minute ahead).
func (c *Compute) verifyCluster(ctx context.Context, a *ClusterAuth, resource string) error {
	if !clusterPattern.MatchString(a.Cluster) || !agentPattern.MatchString(a.Agent) {
		return call.Errorf(ErrClusterAuth, "malformed cluster or agent name")
	}
	t, err := time.Parse(time.RFC3339Nano, a.Time)
	if err != nil {
		return call.Errorf(ErrClusterAuth, "the statement's time is not RFC 3339")
	}
	if age := c.svc.Now().Sub(t); age > ClusterAuthMaxAge || age < -time.Minute {
		return call.Errorf(ErrClusterAuth, "the statement is dated %s from now (limit %s)", age.Round(time.Second), ClusterAuthMaxAge)
	}
	cl, err := c.cluster(ctx, a.Cluster)
	if err != nil {
		return err
	}
	sig, err := crypto.UnB64(a.Signature)
	if err != nil {
		return call.Errorf(ErrClusterAuth, "the cluster's signature is not base64")
	}
	msg := ClusterMessage(c.svc.URL(), a.Cluster, a.Agent, resource, a.Time)
	if ok, err := verifiedBy(cl, msg, sig); err != nil || ok {
		return err
	}
	// The cached registration may be stale: the admin Go API may have
	// removed the name and registered it again with a new key. One fresh
	// read, so a new key works at once.
	c.forget(a.Cluster)
	if fresh, err := c.cluster(ctx, a.Cluster); err != nil {
		return err
	} else if fresh.PublicKey != cl.PublicKey {
		if ok, err := verifiedBy(fresh, msg, sig); err != nil || ok {
			return err
		}
	}
	return call.Errorf(ErrClusterAuth, "the cluster's signature does not verify")
}

func verifiedBy(cl *Cluster, msg, sig []byte) (bool, error) {
	pub, err := decodePublicKey(cl.PublicKey)
	if err != nil {
		return false, err
	}
	return ed25519.Verify(pub, msg, sig), nil
}

func (c *Compute) forget(name string) {
	c.mu.Lock()
	delete(c.clusters, name)
	c.mu.Unlock()
}
