package registry_test

import (
	"context"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/openacquire/acquire/runtime/call"
	"github.com/openacquire/acquire/runtime/crypto"
	"github.com/openacquire/acquire/runtime/registry"
	"github.com/openacquire/acquire/runtime/service"
	"github.com/openacquire/acquire/runtime/store"
)

// region is a registry and one storage service behind a loopback server
// whose handler a test can swap (a registry replaced at its URL).
type region struct {
	url     string // base
	regURL  string
	reg     *registry.Registry
	regSvc  *service.Service
	storSvc *service.Service
	storUID string
	bucket  *store.Bucket
	client  *call.Client
	srv     *http.Server
	mu      sync.Mutex
	h       http.Handler
}

func (g *region) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	g.mu.Lock()
	h := g.h
	g.mu.Unlock()
	h.ServeHTTP(w, r)
}

func (g *region) swap(h http.Handler) {
	g.mu.Lock()
	g.h = h
	g.mu.Unlock()
}

// newRegion starts a region: a registry at /registry and a storage
// service at /storage registered with it.
func newRegion(t *testing.T) *region {
	t.Helper()
	ctx := context.Background()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g := &region{url: "http://" + ln.Addr().String(), client: call.NewClient(&call.MemoryPins{})}
	g.regURL = g.url + "/registry"
	mux := http.NewServeMux()
	g.h = mux
	g.srv = &http.Server{Handler: g, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = g.srv.Serve(ln) }()
	t.Cleanup(func() { _ = g.srv.Close() })
	g.bucket = openBucket(t)
	if g.regSvc, err = service.New(ctx, service.Config{Kind: registry.Kind, URL: g.regURL, Bucket: g.bucket, Secret: peerSecret}); err != nil {
		t.Fatal(err)
	}
	mux.Handle("/registry", g.regSvc)
	if g.reg, err = registry.New(ctx, g.regSvc, g.client); err != nil {
		t.Fatal(err)
	}
	if g.storSvc, err = service.New(ctx, service.Config{Kind: "storage", URL: g.url + "/storage", Bucket: openBucket(t), Secret: peerSecret}); err != nil {
		t.Fatal(err)
	}
	mux.Handle("/storage", g.storSvc)
	rec, err := g.rc().Register(ctx, g.url+"/storage", "storage")
	if err != nil {
		t.Fatal(err)
	}
	g.storUID = rec.UID
	return g
}

func openBucket(t *testing.T) *store.Bucket {
	t.Helper()
	b, err := store.Open(context.Background(), "mem://peer-test-"+service.NewID())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return b
}

func (g *region) rc() *registry.Client { return &registry.Client{C: g.client, URL: g.regURL} }

// peer makes a and b active peers, each admin adding the other.
func peer(t *testing.T, a, b *region) {
	t.Helper()
	ctx := context.Background()
	p, err := a.reg.AddPeer(ctx, b.regURL, "b")
	if err != nil {
		t.Fatal(err)
	}
	if p.State != registry.PeerPending {
		t.Fatalf("after one side added: %s, want pending", p.State)
	}
	if p, err = b.reg.AddPeer(ctx, a.regURL, "a"); err != nil {
		t.Fatal(err)
	}
	if p.State != registry.PeerActive {
		t.Fatalf("after both sides added: %s, want active", p.State)
	}
	wantState(t, a, b.reg.Region(), registry.PeerActive)
}

func wantState(t *testing.T, g *region, peerRegion, state string) {
	t.Helper()
	l, err := g.rc().Peers(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range l.Peers {
		if p.Region == peerRegion {
			if p.State != state {
				t.Fatalf("peer %s is %s, want %s", peerRegion, p.State, state)
			}
			return
		}
	}
	if state != "" {
		t.Fatalf("peer %s not listed, want %s", peerRegion, state)
	}
}

func TestUIDsNameTheirRegion(t *testing.T) {
	a := newRegion(t)
	if registry.RegionOf(a.storUID) != a.reg.Region() {
		t.Fatalf("UID %s names region %q, want %s", a.storUID, registry.RegionOf(a.storUID), a.reg.Region())
	}
	info, err := a.regSvc.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if registry.RegionOf(info.UID) != a.reg.Region() {
		t.Fatalf("the registry's own UID %s does not name its region %s", info.UID, a.reg.Region())
	}
	// UIDs made before federation stay readable: no region, home is the registry asked.
	for _, old := range []string{"iden-0123456789abcdef", "stor-0123456789abcdef", "x", ""} {
		if got := registry.RegionOf(old); got != "" {
			t.Fatalf("RegionOf(%q) = %q, want none", old, got)
		}
	}
	if got := registry.RegionOf("regi-0123456789abcdef"); got != "0123456789abcdef" {
		t.Fatalf("a registry's old UID names its region: got %q", got)
	}
}

func TestPeersAnswerEachOthersLookups(t *testing.T) {
	a, b := newRegion(t), newRegion(t)
	ctx := context.Background()
	peer(t, a, b)
	// b's clients find a's storage through b, with the keys a pinned.
	e, err := b.rc().Lookup(ctx, registry.LookupArgs{UID: a.storUID})
	if err != nil {
		t.Fatal(err)
	}
	own, err := a.storSvc.PublicKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := e.Keys.Verify(e.PinnedCert)
	if err != nil || e.URL != a.url+"/storage" || keys.Newest != own.Generations[len(own.Generations)-1].CertFingerprint {
		t.Fatalf("entry %+v, err %v", e.Record, err)
	}
	// And the other way; a's registry itself is found by its UID too.
	if _, err := a.rc().Lookup(ctx, registry.LookupArgs{UID: b.storUID}); err != nil {
		t.Fatal(err)
	}
	info, _ := a.regSvc.Info(ctx)
	if e, err := b.rc().Lookup(ctx, registry.LookupArgs{UID: info.UID}); err != nil || e.URL != a.regURL {
		t.Fatalf("a's registry through b: %+v %v", e, err)
	}
	// A UID of a's region a does not hold is not found, through b.
	_, err = b.rc().Lookup(ctx, registry.LookupArgs{UID: "stor-0000000000000000@" + a.reg.Region()})
	wantClass(t, err, call.ErrNotFound)
}

func TestLookupsNeedActivePeering(t *testing.T) {
	a, b, d := newRegion(t), newRegion(t), newRegion(t)
	ctx := context.Background()
	// d is no peer of b: its UIDs are not looked up.
	_, err := b.rc().Lookup(ctx, registry.LookupArgs{UID: d.storUID})
	wantClass(t, err, registry.ErrNotPeered)
	// Only a's admin added b: pending at a, offered at b, nothing forwarded.
	if _, err := a.reg.AddPeer(ctx, b.regURL, ""); err != nil {
		t.Fatal(err)
	}
	wantState(t, a, b.reg.Region(), registry.PeerPending)
	wantState(t, b, a.reg.Region(), registry.PeerOffered)
	_, err = a.rc().Lookup(ctx, registry.LookupArgs{UID: b.storUID})
	wantClass(t, err, registry.ErrNotPeered)
	_, err = b.rc().Lookup(ctx, registry.LookupArgs{UID: a.storUID})
	wantClass(t, err, registry.ErrNotPeered)

	// An unpeered registry asking a peer lookup in its own name is refused.
	cred, err := d.regSvc.Authorise(ctx, a.regURL, "peer_lookup:"+a.storUID)
	if err != nil {
		t.Fatal(err)
	}
	err = d.client.Call(ctx, a.regURL, "peer_lookup", &registry.PeerLookupArgs{UID: a.storUID, Credentials: cred}, nil)
	wantClass(t, err, registry.ErrNotPeered)
}

func TestRemovedPeeringStopsLookupsBothWays(t *testing.T) {
	a, b := newRegion(t), newRegion(t)
	ctx := context.Background()
	peer(t, a, b)
	if _, err := b.rc().Lookup(ctx, registry.LookupArgs{UID: a.storUID}); err != nil { // cached at b now
		t.Fatal(err)
	}
	if _, err := a.reg.RemovePeer(ctx, b.reg.Region()); err != nil {
		t.Fatal(err)
	}
	wantState(t, a, b.reg.Region(), "")
	wantState(t, b, a.reg.Region(), registry.PeerPending) // b's admin still wants it; a does not
	_, err := b.rc().Lookup(ctx, registry.LookupArgs{UID: a.storUID})
	wantClass(t, err, registry.ErrNotPeered)
	_, err = a.rc().Lookup(ctx, registry.LookupArgs{UID: b.storUID})
	wantClass(t, err, registry.ErrNotPeered)
	// Removing again changes nothing; adding again peers again.
	if _, err := a.reg.RemovePeer(ctx, b.reg.Region()); err != nil {
		t.Fatal(err)
	}
	if p, err := a.reg.AddPeer(ctx, b.regURL, ""); err != nil || p.State != registry.PeerActive {
		t.Fatalf("peering again: %+v %v", p, err)
	}
	if _, err := b.rc().Lookup(ctx, registry.LookupArgs{UID: a.storUID}); err != nil {
		t.Fatal(err)
	}
}

// signed is a peering record from g to to, signed by g.
func signed(t *testing.T, g *region, to *region, action string, at time.Time) registry.PeeringRecord {
	t.Helper()
	rec := registry.PeeringRecord{Action: action, FromRegion: g.reg.Region(), FromURL: g.regURL, ToRegion: to.reg.Region(),
		ToURL: to.regURL, Time: at.UTC().Format(time.RFC3339Nano)}
	_, sig, err := g.regSvc.Sign(context.Background(), func(fp string) []byte {
		rec.Fingerprint = fp
		return rec.Message()
	})
	if err != nil {
		t.Fatal(err)
	}
	rec.Signature = crypto.B64(sig)
	return rec
}

func offer(g, to *region, rec registry.PeeringRecord) error {
	return g.client.Call(context.Background(), to.regURL, "peer_offer", &registry.PeerOfferArgs{Record: rec}, nil)
}

func TestForgedAndReplayedPeeringRecordsAreRefused(t *testing.T) {
	a, b, c := newRegion(t), newRegion(t), newRegion(t)
	ctx := context.Background()
	if _, err := b.reg.AddPeer(ctx, a.regURL, ""); err != nil { // b wants a: a's record would activate it
		t.Fatal(err)
	}
	now := time.Now()
	good := signed(t, a, b, "peer", now)

	// c cannot speak for a: its own key signs a record naming a.
	forged := signed(t, c, b, "peer", now)
	forged.FromRegion, forged.FromURL = a.reg.Region(), a.regURL
	wantClass(t, offer(c, b, forged), registry.ErrPeering)
	// Nor name itself as region a at its own URL (its UID says otherwise).
	claim := signed(t, c, b, "peer", now)
	claim.FromRegion = a.reg.Region()
	wantClass(t, offer(c, b, claim), registry.ErrPeering)
	// A record changed after signing, or for another registry, is refused.
	tampered := good
	tampered.Action = "unpeer"
	wantClass(t, offer(c, b, tampered), registry.ErrPeering)
	wantClass(t, offer(a, c, good), registry.ErrPeering)
	// A stale one is refused.
	wantClass(t, offer(a, b, signed(t, a, b, "peer", now.Add(-time.Hour))), registry.ErrPeeringReplay)
	wantState(t, b, a.reg.Region(), registry.PeerPending)

	// The genuine record activates the peering once; its replay is refused,
	// and so is an older unpeer captured earlier.
	oldUnpeer := signed(t, a, b, "unpeer", now.Add(-time.Second))
	if err := offer(a, b, good); err != nil {
		t.Fatal(err)
	}
	wantState(t, b, a.reg.Region(), registry.PeerActive)
	wantClass(t, offer(c, b, good), registry.ErrPeeringReplay)
	wantClass(t, offer(c, b, oldUnpeer), registry.ErrPeeringReplay)
	wantState(t, b, a.reg.Region(), registry.PeerActive)
}

// liar serves lookups for c with c's own keys (same store and secret),
// answering what it likes.
func liar(t *testing.T, c *region, answer func(uid string) *registry.Entry) {
	t.Helper()
	svc, err := service.New(context.Background(), service.Config{Kind: registry.Kind, URL: c.regURL, Bucket: c.bucket, Secret: peerSecret})
	if err != nil {
		t.Fatal(err)
	}
	service.Handle(svc, "peer_lookup", service.Options{}, func(_ context.Context, a *registry.PeerLookupArgs) (*registry.Entry, error) {
		return answer(a.UID), nil
	})
	mux := http.NewServeMux()
	mux.Handle("/registry", svc)
	c.swap(mux)
}

func TestAPeerCannotLieAboutServices(t *testing.T) {
	a, b, c := newRegion(t), newRegion(t), newRegion(t)
	ctx := context.Background()
	peer(t, a, b)
	peer(t, c, b)
	aEntry, err := a.rc().Lookup(ctx, registry.LookupArgs{UID: a.storUID})
	if err != nil {
		t.Fatal(err)
	}
	cEntry, err := c.rc().Lookup(ctx, registry.LookupArgs{UID: c.storUID})
	if err != nil {
		t.Fatal(err)
	}
	// c turns hostile: asked about its own storage, it answers a's storage
	// under either UID, or its own storage's record with a's keys.
	lie := func(uid string) *registry.Entry {
		e := *aEntry
		switch uid {
		case c.storUID:
			e.UID = c.storUID
			keys := *e.Keys
			keys.UID = c.storUID
			e.Keys = &keys
			e.URL, e.PinnedCert = cEntry.URL, cEntry.PinnedCert
			keys.URL = cEntry.URL
		}
		return &e
	}
	liar(t, c, lie)
	_, err = b.rc().Lookup(ctx, registry.LookupArgs{UID: c.storUID})
	wantClass(t, err, registry.ErrPeerAnswer)
	_, err = b.rc().Lookup(ctx, registry.LookupArgs{UID: "stor-0123456789abcdef@" + c.reg.Region()})
	wantClass(t, err, registry.ErrPeerAnswer)
	// a's services are asked of a, never of c: b still finds the truth.
	e, err := b.rc().Lookup(ctx, registry.LookupArgs{UID: a.storUID})
	if err != nil || e.URL != aEntry.URL || e.PinnedCert != aEntry.PinnedCert {
		t.Fatalf("a's storage through b while c lies: %+v %v", e, err)
	}
}

func TestPinnedPeerKeyChangeIsRefused(t *testing.T) {
	a, b := newRegion(t), newRegion(t)
	ctx := context.Background()
	peer(t, a, b)
	// Another registry, with keys of its own, answers at a's URL.
	ctx2 := context.Background()
	svc, err := service.New(ctx2, service.Config{Kind: registry.Kind, URL: a.regURL, Bucket: openBucket(t), Secret: peerSecret + "-other"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := registry.New(ctx2, svc, a.client); err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/registry", svc)
	a.swap(mux)
	_, err = b.rc().Lookup(ctx, registry.LookupArgs{UID: a.storUID})
	wantClass(t, err, registry.ErrPeerKeyChanged)
	// Its admin re-adding b does not make b take the new key either.
	_, err = b.reg.AddPeer(ctx, a.regURL, "")
	wantClass(t, err, registry.ErrPeering) // a new registry: another region at the URL peered as a's
}

func TestUnreachableRegionFailsFastAndTyped(t *testing.T) {
	a, b := newRegion(t), newRegion(t)
	ctx := context.Background()
	peer(t, a, b)
	_ = a.srv.Close()
	start := time.Now()
	_, err := b.rc().Lookup(ctx, registry.LookupArgs{UID: a.storUID})
	wantClass(t, err, registry.ErrRegionUnreachable)
	if d := time.Since(start); d > time.Minute { // bound, not a timing: the peer timeout is 5 s
		t.Fatalf("took %s", d)
	}
	// b's own services still resolve.
	if _, err := b.rc().Lookup(ctx, registry.LookupArgs{UID: b.storUID}); err != nil {
		t.Fatal(err)
	}
	// Bad input changes nothing.
	_, err = b.reg.RemovePeer(ctx, "../x")
	wantClass(t, err, call.ErrBadArguments)
	_, err = b.reg.AddPeer(ctx, b.regURL, "")
	wantClass(t, err, registry.ErrPeering)
	_, err = b.reg.AddPeer(ctx, "http://127.0.0.1:1/registry", "")
	wantClass(t, err, registry.ErrRegionUnreachable)
}

const peerSecret = "Peer-Test-Service-Secret-1"
