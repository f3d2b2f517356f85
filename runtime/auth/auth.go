// Package auth holds authorisations: short-lived statements "user U, in
// session S of identity service I, authorises resource R at service A at
// time T",
// signed with the session's certificate, and the verifier any service uses
// to check them.
package auth

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/openacquire/acquire/runtime/call"
	"github.com/openacquire/acquire/runtime/crypto"
)

// Limits on authorisations.
const (
	DefaultMaxAge       = 5 * time.Minute
	DefaultStaleness    = 30 * time.Second
	MaxResourceBytes    = 1024
	maxCachedSessions   = 100_000
	futureSkewTolerance = time.Minute
)

// Error classes an authorisation check answers with.
var (
	ErrAuthorisation = call.NewClass("AuthorisationError")
	ErrExpired       = call.NewClass("AuthorisationExpiredError")
	ErrSessionClosed = call.NewClass("SessionClosedError")
	// ErrAudience means an authorisation was made for another service: one
	// service cannot replay what a user signed for it to another deployment.
	ErrAudience = call.NewClass("AuthorisationAudienceError")
	// ErrIdentityNotTrusted means the authorisation names an identity
	// service that is not on the verifier's trust list (a region's own, or
	// a peer region's it was told to trust).
	ErrIdentityNotTrusted = call.NewClass("IdentityNotTrustedError")
)

// Authorisation is what a client attaches to a call that acts for a user.
type Authorisation struct {
	UserUID     string `json:"user_uid"`
	SessionUID  string `json:"session_uid"`
	IdentityURL string `json:"identity_url"`
	Audience    string `json:"audience"` // URL of the service it is for
	Resource    string `json:"resource"`
	Time        string `json:"time"`
	Signature   string `json:"signature"`
	// Channel, instead of a signature, names the fast-path channel the call
	// carrying this authorisation arrived on (docs/design/fastpath.md): it is
	// accepted only on that channel, whose AEAD tag proves the session.
	Channel string `json:"channel,omitempty"`
}

// Message is the exact text the session certificate signs. v2 added the
// audience; a v1 signature (no audience) verifies against nothing.
func (a *Authorisation) Message() []byte {
	return []byte(strings.Join([]string{"acquire-authorisation-v2", a.IdentityURL, a.UserUID, a.SessionUID,
		a.Audience, a.Resource, a.Time}, "\n"))
}

// Sign makes an authorisation for resource at the service audience with a
// session's certificate.
func Sign(cert *crypto.PrivateKey, identityURL, userUID, sessionUID, audience, resource string, now time.Time) (*Authorisation, error) {
	a := &Authorisation{UserUID: userUID, SessionUID: sessionUID, IdentityURL: identityURL, Audience: audience,
		Resource: resource, Time: now.UTC().Format(time.RFC3339Nano)}
	sig, err := cert.Sign(a.Message())
	if err != nil {
		return nil, err
	}
	a.Signature = crypto.B64(sig)
	return a, nil
}

// Check verifies the signature, the audience (the URL of the service
// checking), the resource and the age against a known session certificate.
// It changes nothing.
func (a *Authorisation) Check(cert *crypto.PublicKey, audience, resource string, now time.Time, maxAge time.Duration) error {
	if a == nil {
		return call.Errorf(ErrAuthorisation, "no authorisation given")
	}
	if err := checkAudience(a.Audience, audience); err != nil {
		return err
	}
	if err := checkFresh(a.Resource, a.Time, resource, now, maxAge); err != nil {
		return err
	}
	if cert == nil {
		// An approved session without a certificate can vouch for nothing.
		return call.Errorf(ErrAuthorisation, "session has no certificate")
	}
	sig, err := crypto.UnB64(a.Signature)
	if err != nil || cert.Verify(a.Message(), sig) != nil {
		return call.Errorf(ErrAuthorisation, "authorisation signature does not verify")
	}
	return nil
}

// checkAudience refuses an authorisation made for another service. A
// verifier that knows no audience of its own accepts none, rather than all.
func checkAudience(got, want string) error {
	if want == "" {
		return call.Errorf(ErrAudience, "this verifier names no audience, so it accepts no authorisation")
	}
	if got != want {
		return call.Errorf(ErrAudience, "authorisation is for service %q, not %q", trunc(got), trunc(want))
	}
	return nil
}

// checkFresh checks an authorisation's resource and age.
func checkFresh(got, at, resource string, now time.Time, maxAge time.Duration) error {
	if got != resource {
		return call.Errorf(ErrAuthorisation, "authorisation is for %q, not %q", trunc(got), trunc(resource))
	}
	t, err := time.Parse(time.RFC3339Nano, at)
	if err != nil {
		return call.Errorf(ErrAuthorisation, "authorisation time is not RFC 3339")
	}
	if age := now.Sub(t); age > maxAge {
		return call.Errorf(ErrExpired, "authorisation is %s old (limit %s)", age.Round(time.Second), maxAge)
	} else if age < -futureSkewTolerance {
		return call.Errorf(ErrAuthorisation, "authorisation is dated %s in the future", (-age).Round(time.Second))
	}
	return nil
}

// Session is what an identity service says about a session.
type Session struct {
	SessionUID string `json:"session_uid"`
	UserUID    string `json:"user_uid"`
	Username   string `json:"username"`
	Status     string `json:"status"` // pending, approved, logged_out, revoked, expired, denied
	CertPublic string `json:"cert_public"`
	// Expires is when the session ends by itself (zero: not told); a
	// fast-path channel never outlives it.
	Expires time.Time `json:"expires,omitzero"`
}

// Lookup asks an identity service about a session.
type Lookup func(ctx context.Context, identityURL, sessionUID string) (*Session, error)

// Verifier checks authorisations for any service. Session certificates are
// cached for at most Staleness: a logout is seen by every verifier within
// that time, and no lookup is made for the calls in between.
type Verifier struct {
	Lookup     Lookup
	Clock      func() time.Time
	MaxAge     time.Duration
	Staleness  time.Duration
	Identities TrustedIdentities // identity services whose users act here; empty trusts none
	Audience   string            // this service's URL: authorisations for any other are refused

	mu    sync.Mutex
	cache map[string]cached
}

type cached struct {
	s       *Session
	cert    *crypto.PublicKey
	fetched time.Time
}

// Verify checks an authorisation for resource and returns the session it
// speaks for.
func (v *Verifier) Verify(ctx context.Context, a *Authorisation, resource string) (*Session, error) {
	if a == nil {
		return nil, call.Errorf(ErrAuthorisation, "no authorisation given")
	}
	// Before any lookup: an untrusted URL is never contacted, nor cached.
	if !v.Identities.Trusts(a.IdentityURL) {
		return nil, call.Errorf(ErrIdentityNotTrusted, "identity service %s is not trusted here (trusted: %s)", trunc(a.IdentityURL), v.Identities.describe())
	}
	if a.Channel != "" {
		return v.verifyChannel(ctx, a, resource)
	}
	c, err := v.session(ctx, a)
	if err != nil {
		return nil, err
	}
	if err := a.Check(c.cert, v.Audience, resource, v.now(), v.maxAge()); err != nil {
		return nil, err
	}
	return c.s, nil
}

func (v *Verifier) session(ctx context.Context, a *Authorisation) (cached, error) {
	key := a.IdentityURL + "\x00" + a.SessionUID
	now := v.now()
	v.mu.Lock()
	c, ok := v.cache[key]
	v.mu.Unlock()
	if !ok || now.Sub(c.fetched) > v.staleness() {
		var err error
		if c, err = v.fetch(ctx, a, now); err != nil {
			return cached{}, err
		}
		v.store(key, c)
	}
	if c.s.Status != "approved" {
		return cached{}, call.Errorf(ErrSessionClosed, "session %s is %s", a.SessionUID, c.s.Status)
	}
	if c.s.UserUID != a.UserUID {
		return cached{}, call.Errorf(ErrAuthorisation, "session belongs to another user")
	}
	return c, nil
}

func (v *Verifier) fetch(ctx context.Context, a *Authorisation, now time.Time) (cached, error) {
	s, err := v.Lookup(ctx, a.IdentityURL, a.SessionUID)
	if err != nil {
		return cached{}, err
	}
	var cert *crypto.PublicKey
	if s.CertPublic != "" {
		if cert, err = crypto.ParsePublicPEM([]byte(s.CertPublic)); err != nil {
			return cached{}, call.Errorf(ErrAuthorisation, "session certificate is malformed")
		}
	}
	return cached{s: s, cert: cert, fetched: now}, nil
}

func (v *Verifier) store(key string, c cached) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.cache == nil || len(v.cache) >= maxCachedSessions {
		v.cache = map[string]cached{} // bounded: start again rather than grow
	}
	v.cache[key] = c
}

func (v *Verifier) now() time.Time {
	if v.Clock == nil {
		return time.Now()
	}
	return v.Clock()
}

func (v *Verifier) maxAge() time.Duration {
	if v.MaxAge == 0 {
		return DefaultMaxAge
	}
	return v.MaxAge
}

func (v *Verifier) staleness() time.Duration {
	if v.Staleness == 0 {
		return DefaultStaleness
	}
	return v.Staleness
}

func trunc(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}
