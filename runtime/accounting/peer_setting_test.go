package accounting_test

import (
	"context"
	"errors"
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
)

// The settlement_peers setting (as the admin API, the provider and a
// function's environment read it, host.ApplySettings) names a peer by
// UID: resolved through its home registry, it settles; a service at that
// URL with keys of its own is refused KeyNotVouchedError naming the URL;
// a well-formed UID its home registry never issued is never a peer.
func TestSettlementPeerUIDFromTheSetting(t *testing.T) {
	ctx := context.Background()
	lnEU, lnUS := listen(t), listen(t)
	kinds := []string{registry.Kind, accounting.Kind}
	eu := hosttest.Start(t, hosttest.Options{Kinds: kinds, Listener: lnEU, SettlementPeers: []string{accURL(lnUS)}})
	euSvc := eu.Host.Service(accounting.Kind)
	info, err := euSvc.Info(ctx)
	if err != nil || registry.RegionOf(info.UID) == "" {
		t.Fatalf("eu's accounting UID %q (%v)", info.UID, err)
	}
	unknown := "acco-00000000000000ff@" + eu.Host.Registry.Region()
	var cfg host.Config
	if err := host.ApplySettings(&cfg, map[string]string{host.SettlementPeersSetting: info.UID + ", " + unknown}); err != nil {
		t.Fatal(err)
	}
	us := hosttest.Start(t, hosttest.Options{Kinds: kinds, Listener: lnUS, SettlementPeers: cfg.SettlementPeers})
	peerRegistries(t, eu, us)
	euAcc, usAcc := accURL(lnEU), accURL(lnUS)

	credit := func(from *service.Service, id string) error {
		r := settlement.CreditRequest{ID: id, To: "acct-nobody", Amount: amt("1"), CreditBy: us.Clock.Now().Add(time.Minute)}
		var ans settlement.CreditAnswer
		return service.SignedCall(ctx, us.Client, usAcc, from, "settle_credit", accounting.SettleCreditResource(&r),
			func(cr auth.Credentials) any { return &accounting.SettleCreditArgs{Credentials: cr, CreditRequest: r} }, &ans, false)
	}
	if err := credit(euSvc, "xt-uid-1"); err != nil {
		t.Fatalf("eu's accounting, named by UID in the setting: %v", err)
	}
	ps, err := us.Host.Accounting.SettlementPositions(ctx)
	if err != nil || len(ps.Positions) != 1 || ps.Positions[0].Peer != euAcc {
		t.Fatalf("us settles with %+v (%v), want eu's accounting only", ps, err)
	}
	// Abuse: a service at the URL the UID resolves to, with keys of its own.
	wantRefused(t, credit(sameURLService(t, euAcc, us.Clock.Now), "xt-uid-2"), accounting.ErrPeerKey, euAcc)
	// Abuse: the UID nobody was issued resolves to nothing, typed.
	hk := &registry.HomeKeys{Client: us.Client, Clock: us.Clock.Now,
		RegistryURL: func(context.Context) (string, error) { return us.Host.ServiceURL(registry.Kind), nil }}
	if _, err := hk.Resolve(ctx, unknown); !errors.Is(err, call.ErrNotFound) {
		t.Fatalf("an unissued UID resolved: %v", err)
	}
}
