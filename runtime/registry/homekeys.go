package registry

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/openacquire/acquire/runtime/call"
	"github.com/openacquire/acquire/runtime/crypto"
)

// HomeKeys finds the keys of services another service deals with in their
// own name (an accounting service's settlement peers and trusted
// services) as their home registries vouch for them, asked through this
// region's registry: a UID of another region is forwarded to its home
// registry, reached with the key pinned when the regions peered, which
// checks the service's keys against the certificate it pinned at
// registration. So a service's keys are never taken on its own word (nor
// on a peer region's word about a third region's service).
//
// A service named by URL is asked its UID (its public_keys say it); the
// UID names the home region, whose registry must hold that UID at that
// very URL. A lie about the UID is refused there: another region's
// registry does not hold the URL, ours asks only the UID's home. The UID
// a URL answered first is kept for the process: a URL that later claims
// another UID is refused (KeyNotVouchedError) until a restart.
type HomeKeys struct {
	// Client calls this region's registry (its key pinned by URL: the
	// region's own registry is the root of trust).
	Client *call.Client
	// RegistryURL is this region's registry: for a service, the one it
	// registered with ("" and no error: registered with none).
	RegistryURL func(ctx context.Context) (string, error)
	Clock       func() time.Time

	mu      sync.Mutex
	entries map[string]*homeEntry // by canonical URL
	flights map[string]*homeFlight
}

// Bounds of the HomeKeys cache.
const (
	// HomeKeysTTL is how long checked keys are used before the registry
	// is asked again (a service removed or re-keyed at its home is seen
	// within it).
	HomeKeysTTL = time.Minute
	// HomeKeysRefreshAhead: keys older than this are still used (until
	// HomeKeysTTL), and the first use starts one background lookup that
	// replaces them, so calls under steady traffic never wait for a
	// cross-region lookup (measured: 3-4 round trips to the home region,
	// docs/design/federation.md) while no key is used past HomeKeysTTL.
	HomeKeysRefreshAhead = HomeKeysTTL / 2
	// homeLookupTimeout bounds one lookup shared by the callers waiting
	// for it (each still waits no longer than its own context).
	homeLookupTimeout = 10 * time.Second
	// HomeKeysMinRefresh is how soon after a lookup a refresh (a
	// certificate the answer lacks) asks again: a stream of calls signed
	// with unknown certificates cannot become a stream of cross-region
	// lookups.
	HomeKeysMinRefresh = 2 * time.Second
	// MaxHomeKeys bounds the services kept.
	MaxHomeKeys = 1024
)

// ErrNotVouched: the keys a service presents are not the ones its home
// registry vouches for (unregistered, another UID at that URL, keys that
// do not chain from the registry's pin).
var ErrNotVouched = call.NewClass("KeyNotVouchedError")

type homeEntry struct {
	uid     string // kept once known: the URL's UID never changes
	keys    *call.TrustedKeys
	fetched time.Time
}

// homeFlight is one lookup of a URL's keys in progress: callers that
// miss the cache together wait for it instead of each asking the home
// region (16 clients at the expiry were 16 cross-region lookups).
type homeFlight struct {
	done chan struct{}
	keys *call.TrustedKeys
	err  error
}

func (h *HomeKeys) now() time.Time {
	if h.Clock != nil {
		return h.Clock()
	}
	return time.Now()
}

// Resolve is the URL of the service uid names, as its home registry
// holds it.
func (h *HomeKeys) Resolve(ctx context.Context, uid string) (string, error) {
	e, err := h.lookup(ctx, uid, false)
	if err != nil {
		return "", err
	}
	keys, err := checkEntry(e, uid, e.URL)
	if err != nil {
		return "", err
	}
	// The service at that URL must say it is uid: a registry can only
	// vouch for services of its own region, but a peer registry could
	// name any URL in its answer (another region's service, as its own).
	claimed, err := h.claimedUID(ctx, e.URL)
	if err != nil {
		return "", err
	}
	if claimed != uid {
		return "", call.Errorf(ErrNotVouched, "the registry of region %s answered %s for %s, but the service there is %s: a registry vouches only for its own region's services",
			RegionOf(uid), trunc(e.URL), trunc(uid), trunc(claimed))
	}
	h.keep(e.URL, uid, keys)
	return e.URL, nil
}

// Keys are the keys of the service at rawURL, as its home registry vouches
// for them. refresh asks past the cache (at most once per
// HomeKeysMinRefresh). Keys older than HomeKeysRefreshAhead are answered
// while a background lookup replaces them; callers that miss the cache
// at once share one lookup.
func (h *HomeKeys) Keys(ctx context.Context, rawURL string, refresh bool) (*call.TrustedKeys, error) {
	u, err := CanonicalURL(rawURL)
	if err != nil {
		return nil, err
	}
	now := h.now()
	h.mu.Lock()
	e := h.entries[u]
	var uid string
	if e != nil {
		uid = e.uid
		age := now.Sub(e.fetched)
		if e.keys != nil && age >= 0 && age < HomeKeysTTL && (!refresh || age < HomeKeysMinRefresh) {
			if !refresh && age >= HomeKeysRefreshAhead {
				h.startFlight(u, uid, true) // nobody waits for it
			}
			h.mu.Unlock()
			return e.keys, nil
		}
	}
	if refresh {
		// Asked past the cache after a signature failure: its own lookup,
		// never one that started before the failure.
		h.mu.Unlock()
		return h.fetch(ctx, u, uid, true)
	}
	f := h.startFlight(u, uid, false)
	h.mu.Unlock()
	select {
	case <-f.done:
		return f.keys, f.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// startFlight starts the lookup of u's keys unless one is in progress,
// and returns it. h.mu is held. The lookup runs on its own context, so a
// caller that gives up does not fail the others, and its answer still
// fills the cache. A refresh ahead (fresh) asks past the registries'
// caches too, so the keys it brings are new, not a cached copy as old as
// the ones they replace; a miss takes what the registry answers, as
// before (a cached copy while the home region is unreachable).
func (h *HomeKeys) startFlight(u, uid string, fresh bool) *homeFlight {
	if f := h.flights[u]; f != nil {
		return f
	}
	if h.flights == nil {
		h.flights = map[string]*homeFlight{}
	}
	f := &homeFlight{done: make(chan struct{})}
	h.flights[u] = f
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), homeLookupTimeout)
		defer cancel()
		f.keys, f.err = h.fetch(ctx, u, uid, fresh)
		h.mu.Lock()
		delete(h.flights, u)
		h.mu.Unlock()
		close(f.done)
	}()
	return f
}

// fetch looks u's keys up through its home registry and keeps them.
func (h *HomeKeys) fetch(ctx context.Context, u, uid string, fresh bool) (*call.TrustedKeys, error) {
	var err error
	if uid == "" {
		if uid, err = h.claimedUID(ctx, u); err != nil {
			return nil, err
		}
	}
	ent, err := h.lookup(ctx, uid, fresh)
	if err != nil {
		return nil, vouchError(u, uid, err)
	}
	keys, err := checkEntry(ent, uid, u)
	if err != nil {
		return nil, err
	}
	h.keep(u, uid, keys)
	return keys, nil
}

// Certs adapts Keys to auth.ServiceCerts.
func (h *HomeKeys) Certs(ctx context.Context, url string, refresh bool) ([]*crypto.PublicKey, error) {
	k, err := h.Keys(ctx, url, refresh)
	if err != nil {
		return nil, err
	}
	return k.Certs, nil
}

// claimedUID asks the service at u its UID: only a claim, checked by the
// lookup that follows.
func (h *HomeKeys) claimedUID(ctx context.Context, u string) (string, error) {
	var pk call.PublicKeys
	if err := h.Client.CallClear(ctx, u, "public_keys", struct{}{}, &pk); err != nil {
		return "", err
	}
	if pk.UID == "" || pk.URL != u {
		return "", call.Errorf(ErrNotVouched, "%s is registered with no registry (it names no UID), so no registry vouches for its keys", trunc(u))
	}
	if m := uidPattern.FindStringSubmatch(pk.UID); m == nil {
		return "", call.Errorf(ErrNotVouched, "%s names a malformed UID %q", trunc(u), trunc(pk.UID))
	}
	return pk.UID, nil
}

func (h *HomeKeys) lookup(ctx context.Context, uid string, fresh bool) (*Entry, error) {
	reg, err := h.RegistryURL(ctx)
	if err != nil {
		return nil, err
	}
	if reg == "" {
		return nil, call.Errorf(ErrNotVouched, "this service is registered with no registry, so it cannot check %s's keys through a registry", trunc(uid))
	}
	return (&Client{C: h.Client, URL: reg}).Lookup(ctx, LookupArgs{UID: uid, Fresh: fresh})
}

// checkEntry takes the registry's answer only for the UID asked, at the
// URL expected, with keys that chain from the pinned certificate.
func checkEntry(e *Entry, uid, u string) (*call.TrustedKeys, error) {
	if e.UID != uid || e.URL != u || e.Keys == nil || e.Keys.UID != uid || e.Keys.URL != u || e.Keys.Kind != e.Kind {
		return nil, call.Errorf(ErrNotVouched, "the registry holds %s at %s, not the service at %s", trunc(uid), trunc(e.URL), trunc(u))
	}
	keys, err := e.Keys.Verify(e.PinnedCert)
	if err != nil {
		return nil, call.Errorf(ErrNotVouched, "the keys of %s (%s) do not chain from the certificate its home registry pinned: %s", trunc(u), uid, errText(err))
	}
	return keys, nil
}

// keep remembers checked keys; a URL keeps its first UID.
func (h *HomeKeys) keep(u, uid string, keys *call.TrustedKeys) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.entries == nil {
		h.entries = map[string]*homeEntry{}
	}
	if e := h.entries[u]; e != nil && e.uid != uid {
		return // the URL's first UID stands (Keys never asks another)
	}
	if len(h.entries) >= MaxHomeKeys {
		now := h.now()
		for k, e := range h.entries {
			if now.Sub(e.fetched) > HomeKeysTTL {
				delete(h.entries, k)
			}
		}
		if len(h.entries) >= MaxHomeKeys {
			h.entries = map[string]*homeEntry{}
		}
	}
	h.entries[u] = &homeEntry{uid: uid, keys: keys, fetched: h.now()}
}

// vouchError names the service in a failed lookup, keeping its class; a
// home registry that no longer finds the service's keys chained from its
// pin says so with a signature error, which is a key not vouched for.
func vouchError(u, uid string, err error) error {
	var ce *call.Error
	if !errors.As(err, &ce) {
		return err
	}
	class := ce
	if ce.Class == call.ErrSignature.Class || ce.Class == call.ErrNotFound.Class {
		class = ErrNotVouched
	}
	return call.Errorf(class, "the keys of %s (%s) are not vouched for by its home registry: %s", trunc(u), trunc(uid), errText(err))
}
