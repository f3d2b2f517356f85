// Package identity is the identity service: users with a password and a
// TOTP authenticator, login sessions with their own keys, authorisations
// signed by those keys, lockout, recovery codes and an audit log.
package identity

import (
	"context"
	"fmt"
	"regexp"
	"runtime"
	"sync"
	"time"

	"github.com/openacquire/acquire/runtime/auth"
	"github.com/openacquire/acquire/runtime/call"
	"github.com/openacquire/acquire/runtime/crypto"
	"github.com/openacquire/acquire/runtime/service"
	"github.com/openacquire/acquire/runtime/store"
)

// Kind is the service kind this package serves.
const Kind = "identity"

// Limits and policy, in one place.
const (
	MinPasswordBytes  = 8
	MaxPasswordBytes  = crypto.MaxPasswordBytes
	RecoveryCodeCount = 10
	LoginRequestTTL   = 10 * time.Minute
	SessionTTL        = 24 * time.Hour // a session's life by default, and at most (a cheque's life relies on it)
	MinSessionLife    = time.Minute    // the least a session lives: long enough for a command or two
	MaxSessionsListed = 1000
	MaxDevices        = 20
	MaxAuditListed    = 1000
	updateAttempts    = 20
	maxPasswordChecks = 8 // concurrent argon2id hashes per instance, at most: each holds 19 MiB
)

var usernamePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{2,63}$`)

// Error classes of the identity service.
var (
	ErrUnknownUser  = call.NewClass("UnknownUserError")
	ErrPassword     = call.NewClass("PasswordError")
	ErrOTP          = call.NewClass("OTPError")
	ErrOTPReused    = call.NewClass("OTPReusedError")
	ErrLocked       = call.NewClass("AccountLockedError")
	ErrWeakPassword = call.NewClass("WeakPasswordError")
	ErrUsername     = call.NewClass("UsernameError")
	ErrSession      = call.NewClass("SessionError")
)

// Identity is the identity service on top of the function framework.
type Identity struct {
	svc      *service.Service
	b        *store.Bucket
	params   crypto.PasswordParams
	hashSlot chan struct{}
	life     time.Duration // of a session
	client   *call.Client  // tells relying services that a session ended
	relying  []string

	decoyOnce sync.Once
	decoy     string // see decoyHash
}

// Options tune an identity service; zero values take the defaults.
type Options struct {
	Password crypto.PasswordParams
	// SessionLife is how long an approved session lasts (0: SessionTTL);
	// within CheckSessionLife's bounds.
	SessionLife time.Duration
	// Relying lists the services (URLs) told through Client, before a
	// logout or revocation answers, that the session ended: their
	// fast-path channels of it end at once (docs/design/fastpath.md).
	// At most MaxRelying; the rest are not told.
	Relying []string
	Client  *call.Client
}

// CheckSessionLife says whether d is a session life this service accepts.
func CheckSessionLife(d time.Duration) error {
	if d < MinSessionLife || d > SessionTTL {
		return fmt.Errorf("the session life must be %d to %d s", int(MinSessionLife/time.Second), int(SessionTTL/time.Second))
	}
	return nil
}

// New registers the identity functions on a service.
func New(svc *service.Service, opts Options) *Identity {
	if opts.Password == (crypto.PasswordParams{}) {
		opts.Password = crypto.DefaultPasswordParams
	}
	if opts.SessionLife == 0 {
		opts.SessionLife = SessionTTL
	}
	id := &Identity{svc: svc, b: svc.Bucket(), params: opts.Password, hashSlot: make(chan struct{}, passwordChecks()), life: opts.SessionLife,
		client: opts.Client, relying: opts.Relying[:min(len(opts.Relying), MaxRelying)]}
	id.register()
	return id
}

func (id *Identity) register() {
	s := id.svc
	service.Handle(s, "register", service.Options{Idempotent: true}, id.handleRegister)
	service.Handle(s, "request_login", service.Options{}, id.handleRequestLogin)
	service.Handle(s, "approve_login", service.Options{}, id.handleApproveLogin)
	service.Handle(s, "session_info", service.Options{}, id.handleSessionInfo)
	service.Handle(s, "whoami", service.Options{}, id.handleWhoami)
	service.Handle(s, "logout", service.Options{Idempotent: true}, id.handleLogout)
	service.Handle(s, "list_sessions", service.Options{}, id.handleListSessions)
	service.Handle(s, "revoke_session", service.Options{Idempotent: true}, id.handleRevokeSession)
	service.Handle(s, "verify_authorisation", service.Options{}, id.handleVerify)
	service.Handle(s, "admin_unlock", service.Options{}, id.handleAdminUnlock)
	service.Handle(s, "admin_audit", service.Options{}, id.handleAdminAudit)
}

// Service returns the framework service this identity runs on.
func (id *Identity) Service() *service.Service { return id.svc }

func (id *Identity) now() time.Time { return id.svc.Now().UTC() }

// passwordChecks is one hash per core: argon2id is memory-hard, so more
// hashes at once than cores only thrash the caches and hold more memory.
func passwordChecks() int { return min(max(runtime.NumCPU(), 1), maxPasswordChecks) }

// hashPassword bounds concurrent argon2id work so a burst of logins cannot
// exhaust memory; waiting callers queue rather than fail.
func (id *Identity) verifyPassword(ctx context.Context, encoded, password string) (bool, error) {
	select {
	case id.hashSlot <- struct{}{}:
	case <-ctx.Done():
		return false, ctx.Err()
	}
	defer func() { <-id.hashSlot }()
	return crypto.VerifyPassword(encoded, password)
}

func (id *Identity) hashPassword(ctx context.Context, password string) (string, error) {
	select {
	case id.hashSlot <- struct{}{}:
	case <-ctx.Done():
		return "", ctx.Err()
	}
	defer func() { <-id.hashSlot }()
	return crypto.HashPassword(password, id.params)
}

// verifier checks authorisations against this service's own store: no
// cache, so a logout takes effect at once here.
func (id *Identity) authorise(ctx context.Context, a *auth.Authorisation, resource string) (*sessionRecord, error) {
	return id.authoriseFor(ctx, a, id.svc.URL(), resource)
}

// authoriseFor checks an authorisation made for the service audience.
func (id *Identity) authoriseFor(ctx context.Context, a *auth.Authorisation, audience, resource string) (*sessionRecord, error) {
	if a == nil {
		return nil, call.Errorf(auth.ErrAuthorisation, "no authorisation given")
	}
	if a.IdentityURL != id.svc.URL() {
		return nil, call.Errorf(auth.ErrAuthorisation, "authorisation names identity service %q, not this one", a.IdentityURL)
	}
	rec, _, err := id.getSession(ctx, a.SessionUID)
	if err != nil {
		return nil, err
	}
	if st := rec.status(id.now()); st != statusApproved {
		return nil, call.Errorf(auth.ErrSessionClosed, "session %s is %s", a.SessionUID, st)
	}
	if rec.UserUID != a.UserUID {
		return nil, call.Errorf(auth.ErrAuthorisation, "session belongs to another user")
	}
	cert, err := crypto.ParsePublicPEM([]byte(rec.CertPublic))
	if err != nil {
		return nil, err
	}
	if err := a.Check(cert, audience, resource, id.now(), auth.DefaultMaxAge); err != nil {
		return nil, err
	}
	return rec, nil
}
