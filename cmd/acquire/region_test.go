package main

import (
	"context"
	"strings"
	"testing"

	"github.com/openacquire/acquire/runtime/accounting"
	"github.com/openacquire/acquire/runtime/host/hosttest"
	"github.com/openacquire/acquire/runtime/identity"
	"github.com/openacquire/acquire/runtime/registry"
)

// Two regions' admins peer them with the CLI; a user of one then finds the
// other's services by UID, and the refusals have their exit codes.
func TestRegionCommands(t *testing.T) {
	const token = "region-test-admin-token-0123456789"
	eu := hosttest.Start(t, hosttest.Options{AdminToken: token})
	us := hosttest.Start(t, hosttest.Options{AdminToken: token})
	c := newCLI(t)
	c.url = eu.Host.ServiceURL(identity.Kind)
	c.env[envHostToken] = token
	euReg, usReg := eu.Host.ServiceURL(registry.Kind), us.Host.ServiceURL(registry.Kind)

	p := c.mustJSON("", "region", "peer", usReg, "--label", "us", "--host", eu.URL)
	if p["state"] != registry.PeerPending || p["region"] != us.Host.Registry.Region() {
		t.Fatalf("eu adds us: %v", p)
	}
	if p = c.mustJSON("", "region", "peer", euReg, "--label", "eu", "--host", us.URL); p["state"] != registry.PeerActive {
		t.Fatalf("us adds eu: %v", p)
	}
	l := c.mustJSON("", "region", "list")
	peers, _ := l["peers"].([]any)
	if l["region"] != eu.Host.Registry.Region() || len(peers) != 1 || peers[0].(map[string]any)["state"] != registry.PeerActive {
		t.Fatalf("eu's regions: %v", l)
	}
	if r := c.run("", "region", "list"); r.code != 0 || !strings.Contains(r.stdout, us.Host.Registry.Region()+"  active  us") {
		t.Fatalf("text list: %+v", r)
	}
	info, err := us.Host.Service(identity.Kind).Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if r := c.run("", "region", "lookup", info.UID, "--url"); r.code != 0 || strings.TrimSpace(r.stdout) != us.Host.ServiceURL(identity.Kind) {
		t.Fatalf("lookup through eu: %+v", r)
	}
	e := c.mustJSON("", "region", "lookup", info.UID)
	if e["region"] != us.Host.Registry.Region() || e["kind"] != identity.Kind {
		t.Fatalf("lookup JSON: %v", e)
	}
	c.wantError(exitNotFound, "NotPeeredError", "", "region", "lookup", "stor-0123456789abcdef@0000000000000000")
	c.wantError(exitUsage, classUsage, "", "region", "unpeer", "../x", "--host", eu.URL)
	c.env[envHostToken] = ""
	c.wantError(exitUsage, classUsage, "", "region", "peer", usReg, "--host", eu.URL)
	c.env[envHostToken] = token

	if r := c.run("", "region", "unpeer", us.Host.Registry.Region(), "--host", eu.URL); r.code != 0 {
		t.Fatalf("unpeer: %+v", r)
	}
	c.wantError(exitNotFound, "NotPeeredError", "", "region", "lookup", info.UID)
}

// --to-service takes an accounting service's UID, resolved through the
// registry to its URL; a UID of another kind is refused.
func TestToServiceByUID(t *testing.T) {
	env := hosttest.Start(t, hosttest.Options{Kinds: []string{registry.Kind, identity.Kind, accounting.Kind}})
	ctx := context.Background()
	accInfo, err := env.Host.Service(accounting.Kind).Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	idInfo, err := env.Host.Service(identity.Kind).Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	a := &accountingSession{c: &accounting.Client{C: env.Client, URL: env.Host.ServiceURL(accounting.Kind)},
		s: &identity.Session{IdentityURL: env.Host.ServiceURL(identity.Kind)}}
	if u, err := resolveService(ctx, a, accInfo.UID); err != nil || u != env.Host.ServiceURL(accounting.Kind) {
		t.Fatalf("accounting by UID %s: %q %v", accInfo.UID, u, err)
	}
	if _, err := resolveService(ctx, a, idInfo.UID); err == nil || !strings.Contains(err.Error(), "not an accounting service") {
		t.Fatalf("identity's UID as --to-service: %v", err)
	}
	if _, err := resolveService(ctx, a, "accounting"); err == nil {
		t.Fatal("a bare word as --to-service was taken")
	}
	if u, err := resolveService(ctx, a, "https://x.example/accounting/"); err != nil || u != "https://x.example/accounting" {
		t.Fatalf("a URL: %q %v", u, err)
	}
}
