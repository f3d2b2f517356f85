package registry_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/openacquire/acquire/runtime/call"
	"github.com/openacquire/acquire/runtime/host/hosttest"
	"github.com/openacquire/acquire/runtime/identity"
	"github.com/openacquire/acquire/runtime/registry"
	"github.com/openacquire/acquire/runtime/service"
	"github.com/openacquire/acquire/runtime/store"
)

type fixture struct {
	env   *hosttest.Env
	rc    *registry.Client
	idURL string
	idSvc *service.Service
	idUID string
}

func setup(t *testing.T) *fixture {
	t.Helper()
	env := hosttest.Start(t, hosttest.Options{})
	f := &fixture{env: env, rc: &registry.Client{C: env.Client, URL: env.Host.ServiceURL(registry.Kind)},
		idURL: env.Host.ServiceURL(identity.Kind), idSvc: env.Host.Service(identity.Kind)}
	info, err := f.idSvc.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if info.UID == "" || info.RegistryURL != f.rc.URL {
		t.Fatalf("identity was not registered at start: %+v", info)
	}
	f.idUID = info.UID
	return f
}

func wantClass(t *testing.T, err error, class *call.Error) {
	t.Helper()
	var ce *call.Error
	if !errors.As(err, &ce) || ce.Class != class.Class {
		t.Fatalf("want %s, got %T %v", class.Class, err, err)
	}
}

// checkIdentityEntry checks a lookup answer against the identity service itself.
func (f *fixture) checkIdentityEntry(t *testing.T, e *registry.Entry) {
	t.Helper()
	if e.Kind != identity.Kind || e.UID != f.idUID || e.URL != f.idURL {
		t.Fatalf("entry %+v, want kind identity, uid %s, url %s", e.Record, f.idUID, f.idURL)
	}
	if e.Keys == nil || e.Keys.Kind != identity.Kind || e.Keys.UID != f.idUID || e.Keys.URL != f.idURL {
		t.Fatalf("entry keys %+v", e.Keys)
	}
	trusted, err := e.Keys.Verify(e.PinnedCert)
	if err != nil {
		t.Fatalf("entry keys do not verify from the registry's pin: %v", err)
	}
	own, err := f.idSvc.PublicKeys(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	newest := own.Generations[len(own.Generations)-1]
	if trusted.Newest != newest.CertFingerprint || trusted.Key.Fingerprint() != newest.KeyFingerprint || e.PinnedCert != newest.CertFingerprint {
		t.Fatalf("registry vouches for certificate %s (pin %s), identity's newest is %s", trusted.Newest, e.PinnedCert, newest.CertFingerprint)
	}
}

func TestLookupIdentity(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	byURL, err := f.rc.Lookup(ctx, registry.LookupArgs{URL: f.idURL})
	if err != nil {
		t.Fatal(err)
	}
	f.checkIdentityEntry(t, byURL)
	byUID, err := f.rc.Lookup(ctx, registry.LookupArgs{UID: f.idUID})
	if err != nil {
		t.Fatal(err)
	}
	f.checkIdentityEntry(t, byUID)
	// Another spelling of the same URL finds the same service.
	alt := strings.Replace(f.idURL, "http://", "HTTP://", 1) + "/"
	byAlt, err := f.rc.Lookup(ctx, registry.LookupArgs{URL: alt})
	if err != nil {
		t.Fatal(err)
	}
	f.checkIdentityEntry(t, byAlt)

	// The keys the registry vouches for are the ones that work: a client
	// that trusts the registry can call identity with them.
	trusted, err := byUID.Keys.Verify(byUID.PinnedCert)
	if err != nil {
		t.Fatal(err)
	}
	var keys call.PublicKeys
	if err := f.env.Client.CallWithKeys(ctx, f.idURL, trusted, "public_keys", struct{}{}, &keys); err != nil {
		t.Fatalf("calling identity with the registry's keys: %v", err)
	}
}

func TestLookupRefusals(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	for _, a := range []registry.LookupArgs{
		{UID: "iden-0000000000000000"},
		{UID: "../registry/services/x"},
		{URL: "http://127.0.0.1:1/nothing"},
	} {
		_, err := f.rc.Lookup(ctx, a)
		wantClass(t, err, call.ErrNotFound)
	}
	_, err := f.rc.Lookup(ctx, registry.LookupArgs{})
	wantClass(t, err, call.ErrBadArguments)
	_, err = f.rc.Lookup(ctx, registry.LookupArgs{URL: "ftp://x"})
	wantClass(t, err, call.ErrBadArguments)
}

func TestListServices(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	list, err := f.rc.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	regInfo, err := f.env.Host.Service(registry.Kind).Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]registry.Record{
		registry.Kind: {UID: regInfo.UID, Kind: registry.Kind, URL: f.rc.URL},
		identity.Kind: {UID: f.idUID, Kind: identity.Kind, URL: f.idURL},
	}
	if len(list.Services) != len(want) {
		t.Fatalf("list_services has %d services, want %d: %+v", len(list.Services), len(want), list.Services)
	}
	for _, r := range list.Services {
		w, ok := want[r.Kind]
		if !ok || r.UID != w.UID || r.URL != w.URL || r.PinnedCert == "" {
			t.Fatalf("listed %+v, want %+v", r, w)
		}
		delete(want, r.Kind)
	}
}

func TestRegisterAnotherKindIsChallengeError(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	// An identity service on another host, not yet registered here.
	other := hosttest.Start(t, hosttest.Options{Kinds: []string{identity.Kind}})
	otherURL := other.Host.ServiceURL(identity.Kind)
	_, err := f.rc.Register(ctx, otherURL, "accounting")
	wantClass(t, err, registry.ErrChallenge)
	if _, err := f.rc.Lookup(ctx, registry.LookupArgs{URL: otherURL}); !errors.Is(err, call.ErrNotFound) {
		t.Fatalf("a refused registration left a record: %v", err)
	}

	// Registered as what it is, it gets its own UID.
	rec, err := f.rc.Register(ctx, otherURL, identity.Kind)
	if err != nil {
		t.Fatal(err)
	}
	if rec.Kind != identity.Kind || rec.URL != otherURL || rec.UID == "" || rec.UID == f.idUID {
		t.Fatalf("registered %+v", rec)
	}

	// A service already registered cannot be registered again as another
	// kind either (called without the client's idempotency key, which
	// would only say the key was reused).
	var got registry.Record
	err = f.env.Client.Call(ctx, f.rc.URL, "register_service", &registry.RegisterArgs{URL: f.idURL, Kind: registry.Kind}, &got)
	wantClass(t, err, registry.ErrChallenge)
}

func TestRegisterUnreachableIsChallengeError(t *testing.T) {
	f := setup(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + ln.Addr().String() + "/identity"
	_ = ln.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err = f.rc.Register(ctx, dead, identity.Kind)
	wantClass(t, err, registry.ErrChallenge)
	if _, err := f.rc.Lookup(ctx, registry.LookupArgs{URL: dead}); !errors.Is(err, call.ErrNotFound) {
		t.Fatalf("an unreachable service was recorded: %v", err)
	}
}

func TestRegisterMalformedURLIsBadArguments(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	for _, u := range []string{
		"ftp://x",
		"http://x/?q=1",
		"http://x/path#fragment",
		"http://user:pw@x/",
		"http:///no-host",
		"no scheme at all",
		"",
		"http://x/" + strings.Repeat("a", registry.MaxURLBytes),
	} {
		_, err := f.rc.Register(ctx, u, identity.Kind)
		wantClass(t, err, call.ErrBadArguments)
	}
}

func TestReRegisterGivesSameUID(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	// Through the client, as the host does at start: its idempotency key
	// gives back the first answer.
	rec, err := f.rc.Register(ctx, f.idURL, identity.Kind)
	if err != nil {
		t.Fatal(err)
	}
	if rec.UID != f.idUID {
		t.Fatalf("re-registration gave UID %s, first was %s", rec.UID, f.idUID)
	}
	// Without an idempotency key, and with another spelling of the URL: the
	// registry finds the record and checks the service still holds its keys.
	for _, u := range []string{f.idURL, f.idURL + "/", strings.Replace(f.idURL, "http://", "HTTP://", 1)} {
		var got registry.Record
		if err := f.env.Client.Call(ctx, f.rc.URL, "register_service", &registry.RegisterArgs{URL: u, Kind: identity.Kind}, &got); err != nil {
			t.Fatalf("%s: %v", u, err)
		}
		if got.UID != f.idUID || got.URL != f.idURL {
			t.Fatalf("%s re-registered as %+v, want UID %s", u, got, f.idUID)
		}
	}
	list, err := f.rc.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Services) != 2 {
		t.Fatalf("re-registration added records: %+v", list.Services)
	}
}

func TestLookupFollowsKeyRotation(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	first, err := f.rc.Lookup(ctx, registry.LookupArgs{UID: f.idUID})
	if err != nil {
		t.Fatal(err)
	}
	f.env.Clock.Advance(8 * 24 * time.Hour)
	after, err := f.rc.Lookup(ctx, registry.LookupArgs{UID: f.idUID})
	if err != nil {
		t.Fatal(err)
	}
	if len(after.Keys.Generations) != 2 || after.PinnedCert == first.PinnedCert {
		t.Fatalf("after a week: %d generations published, pin %s (was %s)", len(after.Keys.Generations), after.PinnedCert, first.PinnedCert)
	}
	// The new pin descends from the old one, and is the one now stored.
	trusted, err := after.Keys.Verify(first.PinnedCert)
	if err != nil || trusted.Newest != after.PinnedCert {
		t.Fatalf("new keys from the old pin: %v (newest %v)", err, trusted)
	}
	f.checkIdentityEntry(t, after)
	list, err := f.rc.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range list.Services {
		if r.UID == f.idUID && r.PinnedCert != after.PinnedCert {
			t.Fatalf("stored pin %s, want %s", r.PinnedCert, after.PinnedCert)
		}
	}
}

func TestCanonicalURL(t *testing.T) {
	for in, want := range map[string]string{
		"http://Example.COM/identity/": "http://example.com/identity",
		"HTTPS://h:8443/a/b":           "https://h:8443/a/b",
		"http://127.0.0.1:9/x//":       "http://127.0.0.1:9/x",
	} {
		got, err := registry.CanonicalURL(in)
		if err != nil || got != want {
			t.Errorf("CanonicalURL(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

// TestRegisterAfterUnreachable: a service that was down when it first
// tried to register can register once it is up.
func TestRegisterAfterUnreachable(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	u := "http://" + addr + "/storage"
	_, err = f.rc.Register(ctx, u, "storage")
	wantClass(t, err, registry.ErrChallenge)

	// Now a storage service comes up at that address.
	ln, err = net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("listening again on %s: %v", addr, err)
	}
	b, err := store.Open(ctx, "mem://registrytest-"+strings.ReplaceAll(addr, ":", "-"))
	if err != nil {
		t.Fatal(err)
	}
	svc, err := service.New(ctx, service.Config{Kind: "storage", URL: u, Bucket: b, Secret: "Registry-Test-Secret-7",
		Clock: f.env.Clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/storage", svc)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close(); _ = b.Close() })

	rec, err := f.rc.Register(ctx, u, "storage")
	if err != nil {
		t.Fatalf("registering once reachable: %v", err)
	}
	if rec.Kind != "storage" || rec.URL != u || rec.UID == "" {
		t.Fatalf("registered %+v", rec)
	}
	e, err := f.rc.Lookup(ctx, registry.LookupArgs{UID: rec.UID})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Keys.Verify(e.PinnedCert); err != nil || e.Kind != "storage" {
		t.Fatalf("lookup %+v: %v", e.Record, err)
	}
}

// TestListServicesPaged: more services than one page (MaxListed) are all
// listed by following Next, in UID order, each once; a page is never
// larger than asked, and bad page arguments are refused.
func TestListServicesPaged(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	b := f.env.Host.Service(registry.Kind).Bucket()
	const extra = registry.MaxListed + 200
	for i := range extra {
		rec := registry.Record{UID: fmt.Sprintf("test-%06d", i), Kind: "test", URL: fmt.Sprintf("http://127.0.0.1:1/s%d", i)}
		if _, err := b.PutJSON(ctx, "registry/services/"+rec.UID, &rec); err != nil {
			t.Fatal(err)
		}
	}
	list, err := f.rc.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Services) != extra+2 {
		t.Fatalf("listed %d services, want %d", len(list.Services), extra+2)
	}
	for i := 1; i < len(list.Services); i++ {
		if list.Services[i].UID <= list.Services[i-1].UID {
			t.Fatalf("out of order at %d: %s after %s", i, list.Services[i].UID, list.Services[i-1].UID)
		}
	}
	page, err := f.rc.ListPage(ctx, registry.ListArgs{PageSize: 7})
	if err != nil || len(page.Services) != 7 || page.Next == "" {
		t.Fatalf("page of 7: %d services, next %q, %v", len(page.Services), page.Next, err)
	}
	for _, a := range []registry.ListArgs{{PageSize: -1}, {PageSize: registry.MaxListed + 1}, {PageToken: "!!not-a-token"}} {
		_, err := f.rc.ListPage(ctx, a)
		wantClass(t, err, call.ErrBadArguments)
	}
}
