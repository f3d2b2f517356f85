package host_test

import (
	"context"
	"errors"
	"testing"

	"github.com/openacquire/acquire/runtime/host"
	"github.com/openacquire/acquire/runtime/registry"
)

// Two hosts' admins peer their deployed registries over the admin API;
// then a service of one is found through the other, until unpeered.
func TestAdminAPIPeersRegistries(t *testing.T) {
	ctx := context.Background()
	eu, us := startAdminHost(t, "mem://peers-eu-"+t.Name(), ""), startAdminHost(t, "mem://peers-us-"+t.Name(), "")
	euReg := eu.deploy(t, "regy", host.Spec{Kind: registry.Kind})
	usReg := us.deploy(t, "regy", host.Spec{Kind: registry.Kind})
	euID := eu.deploy(t, "ident", host.Spec{Kind: "identity", RegistryURL: euReg.URL})
	if registry.RegionOf(euID.UID) != registry.RegionOf(euReg.UID) || registry.RegionOf(euID.UID) == "" {
		t.Fatalf("identity UID %s does not name its registry's region (%s)", euID.UID, euReg.UID)
	}
	if _, err := eu.admin.AddPeer(ctx, "regy", usReg.URL, "us"); err != nil {
		t.Fatal(err)
	}
	p, err := us.admin.AddPeer(ctx, "regy", euReg.URL, "eu")
	if err != nil || p.State != registry.PeerActive || p.Label != "eu" {
		t.Fatalf("us adds eu: %+v %v", p, err)
	}
	l, err := eu.admin.Peers(ctx, "regy")
	if err != nil || len(l.Peers) != 1 || l.Peers[0].State != registry.PeerActive || l.Peers[0].URL != usReg.URL ||
		l.Region != registry.RegionOf(euReg.UID) {
		t.Fatalf("eu's peers: %+v %v", l, err)
	}
	usRC := &registry.Client{C: us.client, URL: usReg.URL}
	e, err := usRC.Lookup(ctx, registry.LookupArgs{UID: euID.UID})
	if err != nil || e.URL != euID.URL {
		t.Fatalf("eu's identity through us: %+v %v", e, err)
	}
	if _, err := us.admin.RemovePeer(ctx, "regy", l.Region); err != nil {
		t.Fatal(err)
	}
	_, err = usRC.Lookup(ctx, registry.LookupArgs{UID: euID.UID})
	if !errors.Is(err, registry.ErrNotPeered) {
		t.Fatalf("after unpeering: %v", err)
	}
	// Only registries peer; a wrong name or token changes nothing.
	if _, err := eu.admin.AddPeer(ctx, "ident", usReg.URL, ""); !errors.Is(err, host.ErrSpec) {
		t.Fatalf("peering an identity service: %v", err)
	}
	if _, err := eu.admin.Peers(ctx, "nothing"); !errors.Is(err, host.ErrNoDeployment) {
		t.Fatalf("peers of nothing: %v", err)
	}
	bad := &host.AdminClient{URL: eu.url, Token: "wrong-token-0123456789"}
	if _, err := bad.AddPeer(ctx, "regy", usReg.URL, ""); !errors.Is(err, host.ErrAdminToken) {
		t.Fatalf("wrong token: %v", err)
	}
}
