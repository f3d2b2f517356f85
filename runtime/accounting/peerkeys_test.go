package accounting_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/openacquire/acquire/runtime/accounting"
	"github.com/openacquire/acquire/runtime/auth"
	"github.com/openacquire/acquire/runtime/call"
	"github.com/openacquire/acquire/runtime/host"
	"github.com/openacquire/acquire/runtime/host/hosttest"
	"github.com/openacquire/acquire/runtime/registry"
	"github.com/openacquire/acquire/runtime/service"
	"github.com/openacquire/acquire/runtime/settlement"
	"github.com/openacquire/acquire/runtime/store"
)

// wantRefused checks a typed refusal whose message names who was refused.
func wantRefused(t *testing.T, err error, class *call.Error, names string) {
	t.Helper()
	if !errors.Is(err, class) || !strings.Contains(err.Error(), names) {
		t.Fatalf("want %s naming %s, got %v", class.Class, names, err)
	}
}

// Settlement peers' keys are checked through their home registries, never
// taken on the peer's word: three regions, eu and us peered, x not (yet).
func TestSettlementPeerKeysThroughHomeRegistry(t *testing.T) {
	ctx := context.Background()
	lnEU, lnUS, lnX := listen(t), listen(t), listen(t)
	kinds := []string{registry.Kind, accounting.Kind}
	eu := hosttest.Start(t, hosttest.Options{Kinds: kinds, Listener: lnEU, SettlementPeers: []string{accURL(lnUS)}})
	x := hosttest.Start(t, hosttest.Options{Kinds: kinds, Listener: lnX, SettlementPeers: []string{accURL(lnUS)}})
	// x's registry will claim eu's accounting service as its own under
	// this UID (a peer registry lying about another region's service).
	fakeUID := "acco-00000000000000ff@" + x.Host.Registry.Region()
	us := hosttest.Start(t, hosttest.Options{Kinds: kinds, Listener: lnUS,
		SettlementPeers: []string{accURL(lnEU), accURL(lnX), fakeUID}})
	peerRegistries(t, eu, us)
	euAcc, usAcc, xAcc := accURL(lnEU), accURL(lnUS), accURL(lnX)
	euSvc := eu.Host.Service(accounting.Kind)

	credit := func(from *service.Service, id string) error {
		r := settlement.CreditRequest{ID: id, To: "acct-nobody", Amount: amt("1"), CreditBy: us.Clock.Now().Add(time.Minute)}
		var ans settlement.CreditAnswer
		return service.SignedCall(ctx, us.Client, usAcc, from, "settle_credit", accounting.SettleCreditResource(&r),
			func(cr auth.Credentials) any { return &accounting.SettleCreditArgs{Credentials: cr, CreditRequest: r} }, &ans, false)
	}
	// The real peer, vouched for by eu's registry: accepted.
	if err := credit(euSvc, "xt-keys-1"); err != nil {
		t.Fatalf("eu's accounting, vouched for: %v", err)
	}

	// A peer presenting a key other than its registry's record: a service
	// at eu's accounting URL with keys of its own.
	impostor := sameURLService(t, euAcc, us.Clock.Now)
	wantRefused(t, credit(impostor, "xt-keys-2"), accounting.ErrPeerKey, euAcc)

	// A peer whose region is not peered with ours: refused, named.
	wantRefused(t, credit(x.Host.Service(accounting.Kind), "xt-keys-3"), registry.ErrNotPeered, xAcc)

	// A peered registry lying about another region's service: x's
	// registry holds eu's accounting URL (and keys) under a UID of x.
	// Our registry takes the answer (the keys chain); the service at that
	// URL says it is another UID, so the settlement peer is not resolved.
	peerRegistries(t, x, us)
	euRec := registryRecord(t, eu, euAcc)
	lie := euRec
	lie.UID = fakeUID
	if _, err := x.Host.Service(registry.Kind).Bucket().PutJSON(ctx, "registry/services/"+store.EncodeName(fakeUID), lie); err != nil {
		t.Fatal(err)
	}
	hk := &registry.HomeKeys{Client: us.Client, Clock: us.Clock.Now,
		RegistryURL: func(context.Context) (string, error) { return us.Host.ServiceURL(registry.Kind), nil }}
	_, err := hk.Resolve(ctx, fakeUID)
	wantRefused(t, err, registry.ErrNotVouched, fakeUID)
	advance(time.Minute, eu, us, x) // past the wait before an unresolved peer UID is asked again
	ps, err := us.Host.Accounting.SettlementPositions(ctx)
	if err != nil || len(ps.Positions) != 2 || ps.Positions[0].Peer == ps.Positions[1].Peer {
		t.Fatalf("us settles with %+v (%v), want eu's and x's accounting only", ps, err)
	}
	// x, peered now and named by URL, is vouched for by its own registry.
	if err := credit(x.Host.Service(accounting.Kind), "xt-keys-4"); err != nil {
		t.Fatalf("x's accounting once peered: %v", err)
	}

	// eu's accounting rotates its key (a new weekly generation, endorsed
	// by the old): seen through eu's registry, accepted.
	week := service.KeyPeriod + time.Hour
	advance(week, eu, us, x)
	if err := credit(euSvc, "xt-keys-5"); err != nil {
		t.Fatalf("after eu's accounting rotated its key: %v", err)
	}
	// Its keys changed at the peer only: every generation replaced by one
	// nobody endorsed. eu's registry no longer vouches for them: refused,
	// however often it is tried.
	b := euSvc.Bucket()
	keys, err := b.ListAll(ctx, "service/keys/", 100)
	if err != nil || len(keys) == 0 {
		t.Fatalf("eu's keys: %v", err)
	}
	for _, k := range keys {
		if err := b.Delete(ctx, k.Key); err != nil {
			t.Fatal(err)
		}
	}
	advance(week, eu, us, x)
	for i := range 2 {
		advance(registry.HomeKeysMinRefresh, eu, us, x)
		wantRefused(t, credit(euSvc, "xt-keys-6"+string(rune('a'+i))), accounting.ErrPeerKey, euAcc)
	}
}

// advance moves every host's clock by d together (signatures stay fresh
// across them) and makes each service's key generation for the new time
// now, so no call below waits for RSA key generation.
func advance(d time.Duration, envs ...*hosttest.Env) {
	for _, e := range envs {
		e.Clock.Advance(d)
	}
	for _, e := range envs {
		for _, k := range []string{registry.Kind, accounting.Kind} {
			_, _ = e.Host.Service(k).PublicKeys(context.Background())
		}
	}
}

// sameURLService is a service at url with keys of its own (another bucket).
func sameURLService(t *testing.T, url string, now func() time.Time) *service.Service {
	t.Helper()
	s, err := service.New(context.Background(), service.Config{Kind: accounting.Kind, URL: url, Bucket: openMem(t),
		Secret: "Impostor-Service-Secret-1", Clock: now})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// registryRecord is the record a host's registry holds for url.
func registryRecord(t *testing.T, e *hosttest.Env, url string) registry.Record {
	t.Helper()
	ent, err := (&registry.Client{C: e.Client, URL: e.Host.ServiceURL(registry.Kind)}).Lookup(context.Background(), registry.LookupArgs{URL: url})
	if err != nil {
		t.Fatal(err)
	}
	return ent.Record
}

// Without a registry, settlement peers are refused unless keys pinned by
// URL were chosen explicitly; a UID cannot be a peer then.
func TestSettlementPeerKeysNeedARegistryOrAnExplicitChoice(t *testing.T) {
	ctx := context.Background()
	only := []string{accounting.Kind}
	pair := func(pinned bool) (a, b *hosttest.Env) {
		lnA, lnB := listen(t), listen(t)
		a = hosttest.Start(t, hosttest.Options{Kinds: only, Listener: lnA, SettlementPeers: []string{accURL(lnB)}, SettlementKeysPinnedByURL: pinned})
		b = hosttest.Start(t, hosttest.Options{Kinds: only, Listener: lnB, SettlementPeers: []string{accURL(lnA)}, SettlementKeysPinnedByURL: pinned})
		return a, b
	}
	credit := func(to, from *hosttest.Env) error {
		r := settlement.CreditRequest{ID: "xt-noreg", To: "acct-nobody", Amount: amt("1"), CreditBy: to.Clock.Now().Add(time.Minute)}
		var ans settlement.CreditAnswer
		return service.SignedCall(ctx, to.Client, to.Host.ServiceURL(accounting.Kind), from.Host.Service(accounting.Kind), "settle_credit",
			accounting.SettleCreditResource(&r), func(cr auth.Credentials) any { return &accounting.SettleCreditArgs{Credentials: cr, CreditRequest: r} }, &ans, false)
	}
	a, b := pair(false)
	wantRefused(t, credit(a, b), registry.ErrNotVouched, b.Host.ServiceURL(accounting.Kind))
	a, b = pair(true)
	if err := credit(a, b); err != nil {
		t.Fatalf("keys pinned by URL, chosen: %v", err)
	}
	_, err := host.New(ctx, host.Config{Kinds: only, StoreURL: "mem://pinned-uid-" + service.NewID(), PublicURL: "http://127.0.0.1:1",
		Secret: hosttest.Secret, SettlementPeers: []string{"acco-0000000000000001@00000000000000aa"}, SettlementKeysPinnedByURL: true})
	if err == nil || !strings.Contains(err.Error(), "UID") {
		t.Fatalf("a UID peer with keys pinned by URL: %v", err)
	}
}

// The sweep warms the settlement peers' keys: none before the regions
// peer (the lookup is refused; nothing else changes), each peer's once
// they have, so the first transfer does not wait for the lookups.
func TestWarmPeerKeys(t *testing.T) {
	ctx := context.Background()
	lnEU, lnUS := listen(t), listen(t)
	kinds := []string{registry.Kind, accounting.Kind}
	eu := hosttest.Start(t, hosttest.Options{Kinds: kinds, Listener: lnEU, SettlementPeers: []string{accURL(lnUS)}})
	us := hosttest.Start(t, hosttest.Options{Kinds: kinds, Listener: lnUS, SettlementPeers: []string{accURL(lnEU)}})
	if n := eu.Host.Accounting.WarmPeerKeys(ctx); n != 0 {
		t.Fatalf("warmed %d peers' keys before the regions peered", n)
	}
	peerRegistries(t, eu, us)
	if n, m := eu.Host.Accounting.WarmPeerKeys(ctx), us.Host.Accounting.WarmPeerKeys(ctx); n != 1 || m != 1 {
		t.Fatalf("warmed %d and %d peers' keys, want 1 each", n, m)
	}
	if _, err := eu.Host.Accounting.Expire(ctx); err != nil {
		t.Fatalf("the sweep with warm keys: %v", err)
	}
}
