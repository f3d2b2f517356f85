package auth_test

import (
	"context"
	"errors"
	"github.com/openacquire/acquire/runtime/clock"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/openacquire/acquire/runtime/auth"
	"github.com/openacquire/acquire/runtime/call"
	"github.com/openacquire/acquire/runtime/crypto"
)

const (
	audience = "https://svc.example.test/accounting"
	idURL    = "https://id.example.test/identity"
	userUID  = "user-alice"
	sessUID  = "sess-1"
	resource = "transfer 10.00 from acc-1 to acc-2"
)

var (
	keysOnce sync.Once
	keyA     *crypto.PrivateKey // alice's session certificate
	keyB     *crypto.PrivateKey // another session's certificate
	keysErr  error
)

func sessionKeys(t testing.TB) (*crypto.PrivateKey, *crypto.PrivateKey) {
	t.Helper()
	keysOnce.Do(func() {
		if keyA, keysErr = crypto.GenerateKey(); keysErr == nil {
			keyB, keysErr = crypto.GenerateKey()
		}
	})
	if keysErr != nil {
		t.Fatal(keysErr)
	}
	return keyA, keyB
}

// identityStub answers session lookups from a table and counts them.
type identityStub struct {
	mu       sync.Mutex
	sessions map[string]*auth.Session // by identity URL + "|" + session UID
	calls    atomic.Int64
	err      error
}

func (s *identityStub) set(identityURL string, sess *auth.Session) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sessions == nil {
		s.sessions = map[string]*auth.Session{}
	}
	cp := *sess
	s.sessions[identityURL+"|"+sess.SessionUID] = &cp
}

func (s *identityStub) setStatus(identityURL, session, status string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cp := *s.sessions[identityURL+"|"+session]
	cp.Status = status
	s.sessions[identityURL+"|"+session] = &cp
}

func (s *identityStub) lookup(_ context.Context, identityURL, session string) (*auth.Session, error) {
	s.calls.Add(1)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return nil, s.err
	}
	sess, ok := s.sessions[identityURL+"|"+session]
	if !ok {
		return nil, call.Errorf(call.ErrNotFound, "no session %s", session)
	}
	cp := *sess
	return &cp, nil
}

type fixture struct {
	clock *clock.Manual
	stub  *identityStub
	v     *auth.Verifier
	cert  *crypto.PrivateKey
	other *crypto.PrivateKey
}

func setup(t testing.TB) *fixture {
	t.Helper()
	a, b := sessionKeys(t)
	f := &fixture{clock: clock.NewManual(time.Date(2031, 3, 5, 12, 0, 0, 0, time.UTC)), stub: &identityStub{}, cert: a, other: b}
	f.stub.set(idURL, &auth.Session{SessionUID: sessUID, UserUID: userUID, Username: "alice", Status: "approved",
		CertPublic: string(a.Public().PEM())})
	f.v = &auth.Verifier{Lookup: f.stub.lookup, Clock: f.clock.Now, Audience: audience, Identities: auth.TrustedIdentities{idURL}}
	return f
}

func (f *fixture) sign(t testing.TB, res string, at time.Time) *auth.Authorisation {
	t.Helper()
	a, err := auth.Sign(f.cert, idURL, userUID, sessUID, audience, res, at)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func wantClass(t testing.TB, err error, class *call.Error) {
	t.Helper()
	var ce *call.Error
	if !errors.As(err, &ce) || ce.Class != class.Class {
		t.Fatalf("want %s, got %T %v", class.Class, err, err)
	}
}

func TestValidAuthorisationVerifies(t *testing.T) {
	f := setup(t)
	s, err := f.v.Verify(context.Background(), f.sign(t, resource, f.clock.Now()), resource)
	if err != nil {
		t.Fatal(err)
	}
	if s.UserUID != userUID || s.SessionUID != sessUID || s.Username != "alice" {
		t.Fatalf("verified session %+v", s)
	}
	// Slightly old, or signed by a clock a little ahead, is fine.
	for _, off := range []time.Duration{-auth.DefaultMaxAge + time.Second, 30 * time.Second} {
		if _, err := f.v.Verify(context.Background(), f.sign(t, resource, f.clock.Now().Add(off)), resource); err != nil {
			t.Fatalf("signed %s from now: %v", off, err)
		}
	}
}

func TestRefusals(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name  string
		make  func(t *testing.T, f *fixture) (*auth.Authorisation, string)
		class *call.Error
	}{
		{"wrong resource", func(t *testing.T, f *fixture) (*auth.Authorisation, string) {
			return f.sign(t, resource, f.clock.Now()), "transfer 1000.00 from acc-1 to acc-3"
		}, auth.ErrAuthorisation},
		{"tampered signature", func(t *testing.T, f *fixture) (*auth.Authorisation, string) {
			a := f.sign(t, resource, f.clock.Now())
			sig, _ := crypto.UnB64(a.Signature)
			sig[len(sig)/2] ^= 0x01
			a.Signature = crypto.B64(sig)
			return a, resource
		}, auth.ErrAuthorisation},
		{"signature not base64", func(t *testing.T, f *fixture) (*auth.Authorisation, string) {
			a := f.sign(t, resource, f.clock.Now())
			a.Signature = "%%%"
			return a, resource
		}, auth.ErrAuthorisation},
		{"resource changed after signing", func(t *testing.T, f *fixture) (*auth.Authorisation, string) {
			a := f.sign(t, resource, f.clock.Now())
			a.Resource = "transfer 1000.00 from acc-1 to acc-3"
			return a, a.Resource
		}, auth.ErrAuthorisation},
		{"time changed after signing", func(t *testing.T, f *fixture) (*auth.Authorisation, string) {
			a := f.sign(t, resource, f.clock.Now().Add(-10*time.Minute))
			a.Time = f.clock.Now().Format(time.RFC3339Nano)
			return a, resource
		}, auth.ErrAuthorisation},
		{"signed by another key", func(t *testing.T, f *fixture) (*auth.Authorisation, string) {
			a, err := auth.Sign(f.other, idURL, userUID, sessUID, audience, resource, f.clock.Now())
			if err != nil {
				t.Fatal(err)
			}
			return a, resource
		}, auth.ErrAuthorisation},
		{"expired", func(t *testing.T, f *fixture) (*auth.Authorisation, string) {
			a := f.sign(t, resource, f.clock.Now())
			f.clock.Advance(auth.DefaultMaxAge + time.Second)
			return a, resource
		}, auth.ErrExpired},
		{"future dated", func(t *testing.T, f *fixture) (*auth.Authorisation, string) {
			return f.sign(t, resource, f.clock.Now().Add(2*time.Minute)), resource
		}, auth.ErrAuthorisation},
		{"bad time", func(t *testing.T, f *fixture) (*auth.Authorisation, string) {
			a := f.sign(t, resource, f.clock.Now())
			a.Time = "yesterday"
			return a, resource
		}, auth.ErrAuthorisation},
		{"other user's session", func(t *testing.T, f *fixture) (*auth.Authorisation, string) {
			// Signed with the session's own key, but claiming another user.
			a, err := auth.Sign(f.cert, idURL, "user-mallory", sessUID, audience, resource, f.clock.Now())
			if err != nil {
				t.Fatal(err)
			}
			return a, resource
		}, auth.ErrAuthorisation},
		{"unknown session", func(t *testing.T, f *fixture) (*auth.Authorisation, string) {
			a, err := auth.Sign(f.cert, idURL, userUID, "sess-unknown", audience, resource, f.clock.Now())
			if err != nil {
				t.Fatal(err)
			}
			return a, resource
		}, call.ErrNotFound},
		{"logged out", func(t *testing.T, f *fixture) (*auth.Authorisation, string) {
			f.stub.setStatus(idURL, sessUID, "logged_out")
			return f.sign(t, resource, f.clock.Now()), resource
		}, auth.ErrSessionClosed},
		{"pending", func(t *testing.T, f *fixture) (*auth.Authorisation, string) {
			f.stub.setStatus(idURL, sessUID, "pending")
			return f.sign(t, resource, f.clock.Now()), resource
		}, auth.ErrSessionClosed},
		{"approved without a certificate", func(t *testing.T, f *fixture) (*auth.Authorisation, string) {
			f.stub.set(idURL, &auth.Session{SessionUID: sessUID, UserUID: userUID, Status: "approved"})
			return f.sign(t, resource, f.clock.Now()), resource
		}, auth.ErrAuthorisation},
		{"malformed certificate", func(t *testing.T, f *fixture) (*auth.Authorisation, string) {
			f.stub.set(idURL, &auth.Session{SessionUID: sessUID, UserUID: userUID, Status: "approved", CertPublic: "not a key"})
			return f.sign(t, resource, f.clock.Now()), resource
		}, auth.ErrAuthorisation},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := setup(t)
			a, res := c.make(t, f)
			s, err := f.v.Verify(ctx, a, res)
			wantClass(t, err, c.class)
			if s != nil {
				t.Fatalf("a refused authorisation returned session %+v", s)
			}
		})
	}
	f := setup(t)
	_, err := f.v.Verify(ctx, nil, resource)
	wantClass(t, err, auth.ErrAuthorisation)
}

func TestLookupErrorIsPassedOn(t *testing.T) {
	f := setup(t)
	f.stub.err = call.Errorf(call.ErrUnavailable, "identity is down")
	_, err := f.v.Verify(context.Background(), f.sign(t, resource, f.clock.Now()), resource)
	wantClass(t, err, call.ErrUnavailable)
	// A failed lookup is not cached: once identity answers, it verifies.
	f.stub.mu.Lock()
	f.stub.err = nil
	f.stub.mu.Unlock()
	if _, err := f.v.Verify(context.Background(), f.sign(t, resource, f.clock.Now()), resource); err != nil {
		t.Fatal(err)
	}
}

func TestStalenessBoundsLookups(t *testing.T) {
	f := setup(t)
	f.v.Staleness = 30 * time.Second
	ctx := context.Background()
	for i := range 50 {
		if _, err := f.v.Verify(ctx, f.sign(t, resource, f.clock.Now()), resource); err != nil {
			t.Fatalf("verification %d: %v", i, err)
		}
		f.clock.Advance(500 * time.Millisecond) // 25 s in all: within Staleness
	}
	if n := f.stub.calls.Load(); n != 1 {
		t.Fatalf("%d lookups for 50 verifications within Staleness, want 1", n)
	}

	// The user logs out. Until Staleness passes the cached answer stands;
	// after it, the next verification asks again and sees the logout.
	f.stub.setStatus(idURL, sessUID, "logged_out")
	if _, err := f.v.Verify(ctx, f.sign(t, resource, f.clock.Now()), resource); err != nil {
		t.Fatalf("within Staleness: %v", err)
	}
	f.clock.Advance(6 * time.Second) // 31 s since the lookup
	_, err := f.v.Verify(ctx, f.sign(t, resource, f.clock.Now()), resource)
	wantClass(t, err, auth.ErrSessionClosed)
	if n := f.stub.calls.Load(); n != 2 {
		t.Fatalf("%d lookups after Staleness passed, want 2", n)
	}
	// The closed state is cached too, for no longer than Staleness.
	for range 5 {
		_, err = f.v.Verify(ctx, f.sign(t, resource, f.clock.Now()), resource)
		wantClass(t, err, auth.ErrSessionClosed)
	}
	if n := f.stub.calls.Load(); n != 2 {
		t.Fatalf("%d lookups, want 2", n)
	}
}

func TestSessionsAreCachedSeparately(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	// The same session UID at two identity services is two sessions.
	const otherID = "https://other-id.example.test/identity"
	f.stub.set(otherID, &auth.Session{SessionUID: sessUID, UserUID: userUID, Status: "approved",
		CertPublic: string(f.other.Public().PEM())})
	f.v.Identities = append(f.v.Identities, otherID)
	if _, err := f.v.Verify(ctx, f.sign(t, resource, f.clock.Now()), resource); err != nil {
		t.Fatal(err)
	}
	// Alice's certificate does not speak for the other service's session.
	a, _ := auth.Sign(f.cert, otherID, userUID, sessUID, audience, resource, f.clock.Now())
	_, err := f.v.Verify(ctx, a, resource)
	wantClass(t, err, auth.ErrAuthorisation)
	b, _ := auth.Sign(f.other, otherID, userUID, sessUID, audience, resource, f.clock.Now())
	if _, err := f.v.Verify(ctx, b, resource); err != nil {
		t.Fatal(err)
	}
	if n := f.stub.calls.Load(); n != 2 {
		t.Fatalf("%d lookups for two sessions, want 2", n)
	}
}

func TestIdentitiesAllowList(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	const untrusted = "https://evil.example.test/identity"
	f.stub.set(untrusted, &auth.Session{SessionUID: sessUID, UserUID: userUID, Status: "approved",
		CertPublic: string(f.cert.Public().PEM())})
	a, _ := auth.Sign(f.cert, untrusted, userUID, sessUID, audience, resource, f.clock.Now())
	_, err := f.v.Verify(ctx, a, resource)
	wantClass(t, err, auth.ErrIdentityNotTrusted)
	if n := f.stub.calls.Load(); n != 0 {
		t.Fatalf("an untrusted identity service was asked (%d lookups)", n)
	}
	if _, err := f.v.Verify(ctx, f.sign(t, resource, f.clock.Now()), resource); err != nil {
		t.Fatalf("trusted identity: %v", err)
	}
}

func TestCheckWithoutVerifier(t *testing.T) {
	f := setup(t)
	now := f.clock.Now()
	a := f.sign(t, resource, now)
	if err := a.Check(f.cert.Public(), audience, resource, now, time.Minute); err != nil {
		t.Fatal(err)
	}
	wantClass(t, a.Check(f.other.Public(), audience, resource, now, time.Minute), auth.ErrAuthorisation)
	wantClass(t, a.Check(f.cert.Public(), audience, resource, now.Add(2*time.Minute), time.Minute), auth.ErrExpired)
	wantClass(t, a.Check(nil, audience, resource, now, time.Minute), auth.ErrAuthorisation)
	var none *auth.Authorisation
	wantClass(t, none.Check(f.cert.Public(), audience, resource, now, time.Minute), auth.ErrAuthorisation)
}

func TestConcurrentVerify(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	a := f.sign(t, resource, f.clock.Now())
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for range 8 {
		wg.Go(func() {
			for range 8 {
				if _, err := f.v.Verify(ctx, a, resource); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	// Racing first verifications may each look up, but no more than once each.
	if n := f.stub.calls.Load(); n < 1 || n > 8 {
		t.Fatalf("%d lookups for 64 concurrent verifications", n)
	}
}

// BenchmarkVerifyWarm measures verifications with the session already
// cached: one RSA-PSS verify each. It reports the rate reached beside the
// bound, the rate of bare RSA verifies on this machine.
func BenchmarkVerifyWarm(b *testing.B) {
	f := setup(b)
	f.v.Staleness = time.Hour
	ctx := context.Background()
	a := f.sign(b, resource, f.clock.Now())
	if _, err := f.v.Verify(ctx, a, resource); err != nil {
		b.Fatal(err)
	}
	msg, sig := a.Message(), mustB64(b, a.Signature)
	const boundN = 300
	start := time.Now()
	for range boundN {
		if err := f.cert.Public().Verify(msg, sig); err != nil {
			b.Fatal(err)
		}
	}
	bound := boundN / time.Since(start).Seconds()

	for b.Loop() {
		if _, err := f.v.Verify(ctx, a, resource); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "verifications/s")
	b.ReportMetric(bound, "bound_rsa_verifies/s")
	if n := f.stub.calls.Load(); n != 1 {
		b.Fatalf("%d lookups with a warm cache, want 1", n)
	}
}

func mustB64(t testing.TB, s string) []byte {
	t.Helper()
	out, err := crypto.UnB64(s)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// An authorisation names its audience; a verifier for another service, or
// one that names none, refuses it with AuthorisationAudienceError.
func TestAuthorisationIsBoundToItsAudience(t *testing.T) {
	f := setup(t)
	a := f.sign(t, resource, f.clock.Now())
	if _, err := f.v.Verify(context.Background(), a, resource); err != nil {
		t.Fatal(err)
	}
	elsewhere := &auth.Verifier{Lookup: f.stub.lookup, Clock: f.clock.Now, Audience: audience + "-elsewhere", Identities: f.v.Identities}
	_, err := elsewhere.Verify(context.Background(), a, resource)
	wantClass(t, err, auth.ErrAudience)
	nowhere := &auth.Verifier{Lookup: f.stub.lookup, Clock: f.clock.Now, Identities: f.v.Identities}
	_, err = nowhere.Verify(context.Background(), a, resource)
	wantClass(t, err, auth.ErrAudience)
	moved := *a
	moved.Audience = audience + "-elsewhere"
	_, err = elsewhere.Verify(context.Background(), &moved, resource)
	wantClass(t, err, auth.ErrAuthorisation) // the audience is signed
}

// A verifier with no trust list trusts no identity service, and never
// contacts one: an authorisation naming a URL is no reason to fetch it.
func TestEmptyTrustListTrustsNoneAndFetchesNothing(t *testing.T) {
	var contacted atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		contacted.Add(1)
		w.WriteHeader(http.StatusTeapot)
	}))
	t.Cleanup(srv.Close)
	f := setup(t)
	c := call.NewClient(&call.MemoryPins{})
	for _, trusted := range []auth.TrustedIdentities{nil, {}, {idURL}} {
		v := &auth.Verifier{Lookup: func(ctx context.Context, identityURL, sessionUID string) (*auth.Session, error) {
			var out auth.Session
			return &out, c.Call(ctx, identityURL, "session_info", map[string]string{"session_uid": sessionUID}, &out)
		}, Clock: f.clock.Now, Audience: audience, Identities: trusted}
		a, _ := auth.Sign(f.cert, srv.URL+"/identity", userUID, sessUID, audience, resource, f.clock.Now())
		_, err := v.Verify(context.Background(), a, resource)
		wantClass(t, err, auth.ErrIdentityNotTrusted)
	}
	if n := contacted.Load(); n != 0 {
		t.Fatalf("the untrusted identity service was contacted %d times", n)
	}
}
