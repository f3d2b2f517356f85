package host_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openacquire/acquire/runtime/accounting"
	"github.com/openacquire/acquire/runtime/call"
	"github.com/openacquire/acquire/runtime/compute"
	"github.com/openacquire/acquire/runtime/crypto"
	"github.com/openacquire/acquire/runtime/host"
	"github.com/openacquire/acquire/runtime/identity"
	"github.com/openacquire/acquire/runtime/ledger"
)

const secret = "Function-Host-Secret-3"

func TestConfigFromEnv(t *testing.T) {
	env := map[string]string{host.EnvStoreURL: "mem://x", host.EnvSecret: secret, host.EnvServices: " identity, accounting ,"}
	_, err := host.ConfigFromEnv(func(k string) string { return env[k] })
	if err == nil || !strings.Contains(err.Error(), host.EnvPublicURL) || strings.Contains(err.Error(), secret) {
		t.Fatalf("missing public URL: %v", err)
	}
	env[host.EnvPublicURL] = "https://fn.example/"
	env[host.EnvAccountingURL] = "https://acct.example/accounting"
	env[host.EnvAccessURL] = "https://acc.example/access"
	cfg, err := host.ConfigFromEnv(func(k string) string { return env[k] })
	if err != nil || cfg.PublicURL != "https://fn.example" || len(cfg.Kinds) != 2 || cfg.Kinds[1] != "accounting" ||
		cfg.AccountingURL != "https://acct.example/accounting" || cfg.AccessURL != "https://acc.example/access" {
		t.Fatalf("config %+v, %v", cfg, err)
	}
	if cfg.JobLease != 0 {
		t.Fatalf("job lease %v without %s", cfg.JobLease, host.EnvJobLeaseS)
	}
	env[host.EnvJobLeaseS] = "5"
	if cfg, err = host.ConfigFromEnv(func(k string) string { return env[k] }); err != nil || cfg.JobLease != 5*time.Second {
		t.Fatalf("job lease %v, %v", cfg.JobLease, err)
	}
	for _, bad := range []string{"1", "3601", "ten", "-5"} {
		env[host.EnvJobLeaseS] = bad
		if _, err = host.ConfigFromEnv(func(k string) string { return env[k] }); err == nil || !strings.Contains(err.Error(), host.EnvJobLeaseS) {
			t.Fatalf("job lease %q: %v", bad, err)
		}
	}
	delete(env, host.EnvJobLeaseS)
	env[host.EnvSessionLifeS] = "600"
	if cfg, err = host.ConfigFromEnv(func(k string) string { return env[k] }); err != nil || cfg.SessionLife != 10*time.Minute {
		t.Fatalf("session life %v, %v", cfg.SessionLife, err)
	}
	for _, bad := range []string{"59", "86401", "1h"} {
		env[host.EnvSessionLifeS] = bad
		if _, err = host.ConfigFromEnv(func(k string) string { return env[k] }); err == nil || !strings.Contains(err.Error(), host.EnvSessionLifeS) {
			t.Fatalf("session life %q: %v", bad, err)
		}
	}
	delete(env, host.EnvSessionLifeS)
	// Passes Acquire's passphrase rule, fails the strength rule; the
	// refusal does not show it.
	env[host.EnvSecret] = "Sh0rt-Secret"
	_, err = host.ConfigFromEnv(func(k string) string { return env[k] })
	if !errors.Is(err, crypto.ErrWeakSecret) || strings.Contains(err.Error(), "Sh0rt-Secret") {
		t.Fatalf("weak secret: %v", err)
	}
}

type clock struct {
	mu sync.Mutex
	d  time.Duration
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return time.Now().Add(c.d) }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.d += d
	c.mu.Unlock()
}

// A function has no timer: its sweep rides on requests, so a provisional
// transfer past its receipt_by is released once requests keep coming.
func TestLazySweepsOnRequests(t *testing.T) {
	ctx := context.Background()
	clk := &clock{}
	fn := &host.Lazy{Config: host.Config{Kinds: []string{"identity", "accounting"}, StoreURL: "mem://lazy-" + t.Name(), Secret: secret},
		Clock: clk.Now}
	srv := httptest.NewServer(fn)
	defer srv.Close()
	defer fn.Close()
	fn.Config.PublicURL = srv.URL // set before the first request opens the host
	c := call.NewClient(&call.MemoryPins{})
	c.Clock = clk.Now
	alice, bob := login(t, c, clk, srv.URL, "alice"), login(t, c, clk, srv.URL, "bob")
	acc := &accounting.Client{C: c, URL: srv.URL + "/accounting"}
	makeAccountingAdmin(t, fn, alice) // only an admin grants an overdraft
	from, err := acc.CreateAccount(ctx, alice, "main", ledger.MustParse("100"))
	if err != nil {
		t.Fatal(err)
	}
	to, err := acc.CreateAccount(ctx, bob, "main", ledger.MustParse("0"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = acc.Transfer(ctx, alice, accounting.Transfer{ID: "p1", From: from.ID, To: to.ID, Amount: ledger.MustParse("10"),
		ReceiptBy: clk.Now().Add(time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	clk.Advance(2 * host.SweepInterval)
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, err := acc.Balance(ctx, alice, from.ID, time.Time{}) // each call is a request that may start a sweep
		if err != nil {
			t.Fatal(err)
		}
		if b.Liability.IsZero() && b.Balance.IsZero() {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("provisional transfer not released by the request-driven sweep: %+v", b)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// makeAccountingAdmin makes s's user an admin of fn's accounting service,
// as a deployment's admin setting does.
func makeAccountingAdmin(t *testing.T, fn *host.Lazy, s *identity.Session) {
	t.Helper()
	h, err := fn.HostForTest()
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Accounting.AddAdmin(context.Background(), s.IdentityURL, s.UserUID); err != nil {
		t.Fatal(err)
	}
}

func login(t *testing.T, c *call.Client, clk *clock, base, name string) *identity.Session {
	t.Helper()
	ctx := context.Background()
	id := &identity.Client{C: c, URL: base + "/identity"}
	reg, err := id.Register(ctx, name, "Correct horse 42")
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(reg.ProvisioningURI)
	code, err := crypto.TOTPCode(u.Query().Get("secret"), clk.Now())
	if err != nil {
		t.Fatal(err)
	}
	s, _, err := id.Login(ctx, name, "Correct horse 42", identity.LoginOptions{OTP: code})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// A host's JobLease reaches its compute service, within compute's bounds.
func TestJobLease(t *testing.T) {
	ctx := context.Background()
	for _, bad := range []time.Duration{time.Second, compute.MaxLease + time.Second} {
		h, err := host.New(ctx, host.Config{Kinds: host.Kinds, StoreURL: "mem://lease-bad-" + t.Name(), Secret: secret, JobLease: bad})
		if err == nil {
			h.Close()
			t.Fatalf("a lease of %v was taken", bad)
		}
	}
	h, err := host.New(ctx, host.Config{Kinds: host.Kinds, StoreURL: "mem://lease-" + t.Name(), Secret: secret, JobLease: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	if got := h.Compute.Lease(); got != 3*time.Second {
		t.Fatalf("compute lease %v", got)
	}
}

// A host's SessionLife is refused out of identity's bounds.
func TestSessionLifeBounds(t *testing.T) {
	ctx := context.Background()
	for _, bad := range []time.Duration{59 * time.Second, identity.SessionTTL + time.Second} {
		h, err := host.New(ctx, host.Config{Kinds: host.Kinds, StoreURL: "mem://life-bad-" + t.Name(), Secret: secret, SessionLife: bad})
		if err == nil {
			h.Close()
			t.Fatalf("a session life of %v was taken", bad)
		}
	}
}
