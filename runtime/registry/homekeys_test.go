package registry_test

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

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

// countingTransport counts the requests sent to each URL.
type countingTransport struct {
	base http.RoundTripper
	mu   sync.Mutex
	n    map[string]int
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.mu.Lock()
	c.n[r.URL.String()]++
	c.mu.Unlock()
	return c.base.RoundTrip(r)
}

func (c *countingTransport) count(u string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[u]
}

// Callers that miss together share one lookup; keys past
// HomeKeysRefreshAhead are answered at once while one background lookup
// replaces them; and no keys are answered past HomeKeysTTL without a
// lookup: a service re-keyed behind its registry's back is refused.
func TestHomeKeysRefreshAheadAndSharedLookups(t *testing.T) {
	a, b := newRegion(t), newRegion(t)
	ctx := context.Background()
	peer(t, a, b)
	if err := a.storSvc.SetUID(ctx, a.storUID, a.regURL); err != nil {
		t.Fatal(err)
	}
	c := call.NewClient(&call.MemoryPins{})
	ct := &countingTransport{base: c.HTTP.Transport, n: map[string]int{}}
	c.HTTP.Transport = ct
	if _, err := c.ServiceKeys(ctx, b.regURL); err != nil { // so that each lookup is one request
		t.Fatal(err)
	}
	ct.n = map[string]int{}
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	hk := &registry.HomeKeys{Client: c, Clock: clock, RegistryURL: func(context.Context) (string, error) { return b.regURL, nil }}
	storURL := a.url + "/storage"

	const callers = 8
	got := make([]*call.TrustedKeys, callers)
	errs := make([]error, callers)
	var wg sync.WaitGroup
	for i := range callers {
		wg.Go(func() { got[i], errs[i] = hk.Keys(ctx, storURL, false) })
	}
	wg.Wait()
	for i := range callers {
		if errs[i] != nil || got[i] == nil || got[i].UID != a.storUID {
			t.Fatalf("caller %d: %+v %v", i, got[i], errs[i])
		}
	}
	if n, m := ct.count(b.regURL), ct.count(storURL); n != 1 || m != 1 {
		t.Fatalf("%d callers missing together made %d registry lookups and %d key fetches, want 1 and 1", callers, n, m)
	}

	// Past the refresh-ahead age: answered from the cache, and one lookup
	// (only one, however many calls) replaces the keys in the background.
	advance(registry.HomeKeysRefreshAhead + time.Second)
	for range 3 {
		if k, err := hk.Keys(ctx, storURL, false); err != nil || k.UID != a.storUID {
			t.Fatalf("keys past refresh-ahead: %+v %v", k, err)
		}
	}
	deadline := time.Now().Add(20 * time.Second)
	for ct.count(b.regURL) < 2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := ct.count(b.regURL); n != 2 {
		t.Fatalf("registry lookups after the refresh-ahead age: %d, want 2", n)
	}
	// The replaced keys count from their own lookup: the first lookup is
	// now past HomeKeysTTL, and no new lookup is needed.
	advance(registry.HomeKeysRefreshAhead - 2*time.Second)
	if _, err := hk.Keys(ctx, storURL, false); err != nil {
		t.Fatalf("refreshed keys: %v", err)
	}
	if n := ct.count(b.regURL); n != 2 {
		t.Fatalf("registry lookups: %d, want still 2", n)
	}

	// The service is re-keyed at its URL behind its registry's back. Past
	// HomeKeysTTL nothing cached is answered: the lookup is refused.
	other, err := service.New(ctx, service.Config{Kind: "storage", URL: storURL, Bucket: openBucket(t), Secret: peerSecret + "-other"})
	if err != nil {
		t.Fatal(err)
	}
	if err := other.SetUID(ctx, a.storUID, a.regURL); err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/registry", a.regSvc)
	mux.Handle("/storage", other)
	a.swap(mux)
	// Past HomeKeysTTL the cached keys are not answered: the use waits for
	// a lookup (which our registry may answer from its own cache, as
	// before), and a refresh past every cache is refused.
	advance(registry.HomeKeysTTL)
	if _, err := hk.Keys(ctx, storURL, false); err != nil {
		t.Fatalf("keys past the TTL: %v", err)
	}
	if n := ct.count(b.regURL); n != 3 {
		t.Fatalf("registry lookups past the TTL: %d, want 3 (one made while the caller waited)", n)
	}
	advance(registry.HomeKeysMinRefresh)
	_, err = hk.Keys(ctx, storURL, true)
	wantClass(t, err, registry.ErrNotVouched)
}
