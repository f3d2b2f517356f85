package accounting

// Whose word a service's keys are taken on. The services that act here
// in their own name (settlement peers; trusted services cashing cheques
// and invoicing) sign with their certificates; which certificates are
// theirs is decided here, in one place, for every such service.

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/openacquire/acquire/runtime/call"
	"github.com/openacquire/acquire/runtime/crypto"
	"github.com/openacquire/acquire/runtime/registry"
	"github.com/openacquire/acquire/runtime/settlement"
)

// PeerKeys finds the keys of a service that acts here in its own name.
// The default (Options.PeerKeys nil) is registry.HomeKeys over the
// registry this service registered with: keys as the service's home
// registry vouches for them. PinnedByURL is the explicit other choice.
type PeerKeys interface {
	// Keys are the keys of the service at url; refresh asks past any
	// cache (it may have rotated).
	Keys(ctx context.Context, url string, refresh bool) (*call.TrustedKeys, error)
	// Resolve is the URL of the service a UID names.
	Resolve(ctx context.Context, uid string) (string, error)
}

// PinnedByURL takes a service's keys from what its URL publishes, pinned
// on first use and then followed only through endorsements: no registry
// is asked. It is for deployments without a registry peering (one host,
// tests), and must be chosen explicitly (acquire host
// --settlement-peer-keys pinned-by-url): settlement peers are then named
// by URL only.
func PinnedByURL(c *call.Client) PeerKeys { return pinnedByURL{c} }

type pinnedByURL struct{ c *call.Client }

func (p pinnedByURL) Keys(ctx context.Context, url string, refresh bool) (*call.TrustedKeys, error) {
	if refresh {
		p.c.Forget(url)
	}
	return p.c.ServiceKeys(ctx, url)
}

func (p pinnedByURL) Resolve(_ context.Context, uid string) (string, error) {
	return "", call.Errorf(call.ErrBadArguments, "%s is a UID: only a registry resolves one, and this service pins keys by URL", clip(uid))
}

// ErrPeerKey: a settlement peer or trusted service presented keys its
// home registry does not vouch for (or is no accounting service).
var ErrPeerKey = registry.ErrNotVouched

// openKeys sets the keys source: the configured one, else the home
// registries' through this service's own registry.
func (a *Accounting) openKeys(o Options) {
	if o.PeerKeys != nil {
		a.keys = o.PeerKeys
		_, a.pinnedKeys = o.PeerKeys.(pinnedByURL)
		return
	}
	a.keys = &registry.HomeKeys{Client: o.Client, Clock: a.svc.Clock(), RegistryURL: a.registryURL}
	a.fallback = pinnedByURL{o.Client}
}

// registryURL is the registry this service registered with, read from
// its own record (written at registration), kept once known.
func (a *Accounting) registryURL(ctx context.Context) (string, error) {
	a.regMu.Lock()
	defer a.regMu.Unlock()
	if a.reg != "" || (!a.regRead.IsZero() && a.svc.Now().Sub(a.regRead) < 10*time.Second) {
		return a.reg, nil
	}
	info, err := a.svc.Info(ctx)
	if err != nil {
		return "", err
	}
	a.reg, a.regRead = info.RegistryURL, a.svc.Now()
	return a.reg, nil
}

// serviceCerts are the certificates of a trusted service. Through the
// registry when this service has one; a service registered with no
// registry (a host running none: federation cannot reach it) keeps the
// pre-federation rule, keys pinned by URL, and says so in its log once.
func (a *Accounting) serviceCerts(ctx context.Context, url string, refresh bool) ([]*crypto.PublicKey, error) {
	keys := a.keys
	if a.fallback != nil {
		reg, err := a.registryURL(ctx)
		if err != nil {
			return nil, err
		}
		if reg == "" {
			a.warnOnce.Do(func() {
				a.svc.Logger().Warn("registered with no registry: trusted services' keys are pinned by URL, settlement peers are refused")
			})
			keys = a.fallback
		}
	}
	k, err := keys.Keys(ctx, url, refresh)
	if err != nil {
		return nil, err
	}
	return k.Certs, nil
}

// peerKeys are a settlement peer's keys: never pinned by URL unless that
// was chosen, and only an accounting service's.
func (a *Accounting) peerKeys(ctx context.Context, url string, refresh bool) (*call.TrustedKeys, error) {
	k, err := a.keys.Keys(ctx, url, refresh)
	if err != nil {
		return nil, err
	}
	if k.Kind != Kind {
		return nil, call.Errorf(ErrPeerKey, "settlement peer %s is a %q service, not an accounting service", clip(url), clip(k.Kind))
	}
	return k, nil
}

// WarmPeerKeys looks up the keys of every settlement peer that are not
// cached or are due for a refresh, and says how many peers' keys it has.
// A transfer that finds them missing waits for the lookups through the
// peer's home region, on both sides (measured: ~350 ms of the first
// transfer behind a 50 ms round trip, docs/design/federation.md); the
// host's sweep runs this, so only a transfer before the first sweep after
// a start or a peering pays them. Failures are left to the transfers that
// need the keys (each lookup is bounded by the settlement's peer timeout).
func (a *Accounting) WarmPeerKeys(ctx context.Context) int {
	ctx, cancel := context.WithTimeout(ctx, settlement.DefaultPeerTimeout)
	defer cancel()
	n := 0
	for _, u := range a.peers.urls(ctx) {
		if _, err := a.peerKeys(ctx, u, false); err != nil {
			a.svc.Logger().Debug("settlement peer's keys not warmed", "peer", u, "err", err)
			continue
		}
		n++
	}
	return n
}

func (a *Accounting) peerCerts(ctx context.Context, url string, refresh bool) ([]*crypto.PublicKey, error) {
	k, err := a.peerKeys(ctx, url, refresh)
	if err != nil {
		return nil, err
	}
	return k.Certs, nil
}

// peerSet is the settlement peers: named by URL, or by UID and resolved
// through the registry when first needed (the peer's region may be
// unpeered or down when this service starts).
type peerSet struct {
	a       *Accounting
	mu      sync.Mutex
	byURL   map[string]settlement.Peer
	pending map[string]time.Time // UID → when its resolution last failed
}

// peerResolveEvery bounds how often an unresolved UID is asked again.
const peerResolveEvery = 10 * time.Second

func (s *peerSet) get(u string) (settlement.Peer, bool) {
	s.mu.Lock()
	p, ok := s.byURL[u]
	n := len(s.pending)
	s.mu.Unlock()
	if ok || n == 0 {
		return p, ok
	}
	ctx, cancel := context.WithTimeout(context.Background(), settlement.DefaultPeerTimeout)
	defer cancel()
	s.resolve(ctx)
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok = s.byURL[u]
	return p, ok
}

func (s *peerSet) has(ctx context.Context, u string) bool {
	s.resolve(ctx)
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.byURL[u]
	return ok
}

func (s *peerSet) urls(ctx context.Context) []string {
	s.resolve(ctx)
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.byURL))
	for u := range s.byURL {
		out = append(out, u)
	}
	slices.Sort(out)
	return out
}

// resolve asks the registry for the UIDs not resolved yet, each at most
// once per peerResolveEvery.
func (s *peerSet) resolve(ctx context.Context) {
	now := s.a.svc.Now()
	s.mu.Lock()
	var due []string
	for uid, last := range s.pending {
		if last.IsZero() || now.Sub(last) >= peerResolveEvery || now.Before(last) {
			due = append(due, uid)
			s.pending[uid] = now
		}
	}
	s.mu.Unlock()
	for _, uid := range due {
		u, err := s.a.keys.Resolve(ctx, uid)
		if err == nil {
			_, err = s.a.peerKeys(ctx, u, false)
		}
		if err != nil {
			s.a.svc.Logger().Warn("settlement peer not resolved", "uid", uid, "err", err)
			continue
		}
		s.mu.Lock()
		if u != s.a.svc.URL() {
			s.byURL[u] = s.a.newPeer(u)
		}
		delete(s.pending, uid)
		s.mu.Unlock()
	}
}
