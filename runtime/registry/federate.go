package registry

import (
	"context"
	"sync"
	"time"

	"github.com/openacquire/acquire/runtime/auth"
	"github.com/openacquire/acquire/runtime/call"
	"github.com/openacquire/acquire/runtime/crypto"
)

// Cache of lookups answered by peers: bounded in size and age, so a
// registry under a stream of distinct UIDs neither grows nor serves a
// moved service for long.
const (
	PeerCacheMax = 1024
	PeerCacheTTL = time.Minute
)

// PeerLookupArgs is a forwarded lookup: a peer registry asks the home
// registry of uid, in its own name.
type PeerLookupArgs struct {
	UID         string                     `json:"uid"`
	Credentials *auth.ServiceAuthorisation `json:"credentials"`
}

func peerLookupResource(uid string) string { return "peer_lookup:" + uid }

// isRemote says whether a UID's home is another region.
func (r *Registry) isRemote(uid string) bool {
	region := RegionOf(uid)
	return region != "" && region != r.region
}

// remoteLookup answers a lookup for another region's service by asking
// that region's registry, an active peer, reached with the keys pinned
// when it was peered. Its answer is taken only for the UID asked, of its
// own region, with keys that chain from the certificate it pinned for the
// service: a peer cannot vouch for another region's services, and no
// registry's word is taken for keys it did not check itself.
//
// fresh skips the cache. It adds no new way to make this registry call a
// peer: a lookup of a UID never answered (or no longer cached) does so too.
func (r *Registry) remoteLookup(ctx context.Context, uid string, fresh bool) (*Entry, error) {
	region := RegionOf(uid)
	p, err := r.peer(ctx, region)
	if err != nil {
		return nil, err
	}
	if p == nil || p.State != PeerActive {
		r.peers.forget(region)
		return nil, call.Errorf(ErrNotPeered, "region %s (of %s) is not peered with this registry", region, uid)
	}
	if e := r.peers.get(uid, r.svc.Now()); e != nil && !fresh {
		return e, nil
	}
	ctx, cancel := context.WithTimeout(ctx, peerCallTimeout)
	defer cancel()
	keys, err := r.peerKeys(ctx, p)
	if err != nil {
		return nil, err
	}
	cred, err := r.svc.Authorise(ctx, p.URL, peerLookupResource(uid))
	if err != nil {
		return nil, err
	}
	var e Entry
	if err := r.client.CallWithKeys(ctx, p.URL, keys, "peer_lookup", &PeerLookupArgs{UID: uid, Credentials: cred}, &e); err != nil {
		return nil, peerCallError(p.URL, err)
	}
	if err := checkPeerEntry(&e, uid, region); err != nil {
		return nil, err
	}
	r.peers.put(region, &e, r.svc.Now())
	return &e, nil
}

// checkPeerEntry refuses a peer's answer it may not give.
func checkPeerEntry(e *Entry, uid, region string) error {
	if e.UID != uid || RegionOf(e.UID) != region {
		return call.Errorf(ErrPeerAnswer, "the registry of region %s answered for %q when asked for %s", region, trunc(e.UID), uid)
	}
	if e.Keys == nil || e.Keys.UID != uid || e.Keys.URL != e.URL || e.Keys.Kind != e.Kind {
		return call.Errorf(ErrPeerAnswer, "the registry of region %s answered keys of another service for %s", region, uid)
	}
	if _, err := CanonicalURL(e.URL); err != nil {
		return call.Errorf(ErrPeerAnswer, "the registry of region %s answered a malformed URL for %s", region, uid)
	}
	if _, err := e.Keys.Verify(e.PinnedCert); err != nil {
		return call.Errorf(ErrPeerAnswer, "the keys answered for %s do not chain from the certificate its registry pinned: %s", uid, errText(err))
	}
	return nil
}

// handlePeerLookup answers an active peer's forwarded lookup of one of
// this region's services. Others (an unpeered or removed registry) are
// refused: they ask their own registry, which asks us as a peer.
func (r *Registry) handlePeerLookup(ctx context.Context, a *PeerLookupArgs) (*Entry, error) {
	if a.Credentials == nil {
		return nil, call.Errorf(auth.ErrAuthorisation, "a peer lookup carries the asking registry's credentials")
	}
	p, err := r.activePeer(ctx, a.Credentials.ServiceURL)
	if err != nil {
		return nil, err
	}
	if p == nil {
		return nil, call.Errorf(ErrNotPeered, "registry %s is not an active peer of this registry", trunc(a.Credentials.ServiceURL))
	}
	v := &auth.ServiceVerifier{Audience: r.svc.URL(), Clock: r.svc.Clock(),
		Certs: func(ctx context.Context, _ string, _ bool) ([]*crypto.PublicKey, error) {
			keys, err := r.peerKeys(ctx, p)
			if err != nil {
				return nil, err
			}
			return keys.Certs, nil
		}}
	if _, err := v.Verify(ctx, a.Credentials, peerLookupResource(a.UID)); err != nil {
		return nil, err
	}
	if RegionOf(a.UID) != r.region {
		return nil, call.Errorf(call.ErrNotFound, "%q is not a UID of this region (%s): lookups are not passed on", trunc(a.UID), r.region)
	}
	return r.localLookup(ctx, a.UID)
}

func (r *Registry) localLookup(ctx context.Context, uid string) (*Entry, error) {
	rec, err := r.byUID(ctx, uid)
	if err != nil {
		return nil, err
	}
	keys, err := r.refresh(ctx, rec)
	if err != nil {
		return nil, err
	}
	return &Entry{Record: *rec, Keys: keys}, nil
}

// peerCache holds peers' answers in memory.
type peerCache struct {
	mu      sync.Mutex
	entries map[string]cachedEntry
}

type cachedEntry struct {
	e       *Entry
	region  string
	fetched time.Time
}

func newPeerCache() *peerCache { return &peerCache{entries: map[string]cachedEntry{}} }

func (c *peerCache) get(uid string, now time.Time) *Entry {
	c.mu.Lock()
	defer c.mu.Unlock()
	ce, ok := c.entries[uid]
	if !ok || now.Sub(ce.fetched) > PeerCacheTTL || now.Before(ce.fetched) {
		delete(c.entries, uid)
		return nil
	}
	return ce.e
}

func (c *peerCache) put(region string, e *Entry, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) >= PeerCacheMax {
		for k, ce := range c.entries { // drop the expired first; if none, start again
			if now.Sub(ce.fetched) > PeerCacheTTL {
				delete(c.entries, k)
			}
		}
		if len(c.entries) >= PeerCacheMax {
			c.entries = map[string]cachedEntry{}
		}
	}
	c.entries[e.UID] = cachedEntry{e: e, region: region, fetched: now}
}

// forget drops what a region answered (its peering changed).
func (c *peerCache) forget(region string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, ce := range c.entries {
		if ce.region == region {
			delete(c.entries, k)
		}
	}
}
