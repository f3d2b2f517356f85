package identity

import (
	"context"
	"time"

	"github.com/openacquire/acquire/runtime/auth"
	"github.com/openacquire/acquire/runtime/call"
	"github.com/openacquire/acquire/runtime/crypto"
	"github.com/openacquire/acquire/runtime/service"
)

// Client is the typed client of an identity service.
type Client struct {
	C   *call.Client
	URL string
}

// Session is a logged-in session as the client holds it: the private
// halves never leave the client.
type Session struct {
	IdentityURL string
	SessionUID  string
	UserUID     string
	Username    string
	Expires     time.Time
	Key         *crypto.PrivateKey
	Cert        *crypto.PrivateKey
	// Fast, when set, carries this session's calls to services that speak
	// the fast path on channels (docs/design/fastpath.md); nil: every call
	// goes through the envelope. UseFastPath sets it.
	Fast *service.Channels
}

// UseFastPath turns the session fast path on for this session's calls.
// It pays one envelope call per service to open a channel, so it is for
// clients that make more than a call or two (not a one-shot command).
func (s *Session) UseFastPath() *Session {
	if s.Fast == nil {
		s.Fast = &service.Channels{}
	}
	return s
}

// ChannelBinding names the session as its channels are bound to it.
func (s *Session) ChannelBinding() (identityURL, userUID, sessionUID string) {
	return s.IdentityURL, s.UserUID, s.SessionUID
}

// FastChannels is the session's channels, or nil when the fast path is off.
func (s *Session) FastChannels() *service.Channels { return s.Fast }

// Authorise signs an authorisation for resource at the service audience
// (its URL) with the session certificate.
func (s *Session) Authorise(audience, resource string, now time.Time) (*auth.Authorisation, error) {
	return auth.Sign(s.Cert, s.IdentityURL, s.UserUID, s.SessionUID, audience, resource, now)
}

// Register creates a user. The call is idempotent, so a retry after a
// lost reply returns the same provisioning URI instead of failing.
func (c *Client) Register(ctx context.Context, username, password string) (*RegisterResult, error) {
	var out RegisterResult
	err := c.C.Call(ctx, c.URL, "register", &RegisterArgs{Username: username, Password: password}, &out,
		call.WithIdempotencyKey("register:"+service.NewID()))
	return &out, err
}

// LoginOptions choose the second factor and whether to remember the device.
type LoginOptions struct {
	OTP            string
	RecoveryCode   string
	DeviceUID      string
	RememberDevice bool
	DeviceLabel    string
	Label          string
}

// Login requests a session with fresh keys and approves it with the
// password and a second factor.
func (c *Client) Login(ctx context.Context, username, password string, o LoginOptions) (*Session, *ApproveLoginResult, error) {
	s, err := c.RequestLogin(ctx, username, o.Label)
	if err != nil {
		return nil, nil, err
	}
	res, err := c.Approve(ctx, s, password, o)
	if err != nil {
		return nil, nil, err
	}
	return s, res, nil
}

// RequestLogin makes the session's keys and opens a pending login.
func (c *Client) RequestLogin(ctx context.Context, username, label string) (*Session, error) {
	key, err := crypto.GenerateKey()
	if err != nil {
		return nil, err
	}
	cert, err := crypto.GenerateKey()
	if err != nil {
		return nil, err
	}
	var out RequestLoginResult
	err = c.C.Call(ctx, c.URL, "request_login", &RequestLoginArgs{Username: username,
		KeyPublic: string(key.Public().PEM()), CertPublic: string(cert.Public().PEM()), Label: label}, &out)
	if err != nil {
		return nil, err
	}
	return &Session{IdentityURL: c.URL, SessionUID: out.SessionUID, Username: username, Expires: out.Expires, Key: key, Cert: cert}, nil
}

// Approve proves the user's identity for a pending session.
func (c *Client) Approve(ctx context.Context, s *Session, password string, o LoginOptions) (*ApproveLoginResult, error) {
	var out ApproveLoginResult
	err := c.C.Call(ctx, c.URL, "approve_login", &ApproveLoginArgs{SessionUID: s.SessionUID, Username: s.Username,
		Password: password, OTP: o.OTP, RecoveryCode: o.RecoveryCode, DeviceUID: o.DeviceUID,
		RememberDevice: o.RememberDevice, DeviceLabel: o.DeviceLabel}, &out)
	if err != nil {
		return nil, err
	}
	s.UserUID, s.Expires = out.UserUID, out.Expires
	return &out, nil
}

func (c *Client) authCall(ctx context.Context, s *Session, fn, resource string, args func(*auth.Authorisation) any, out any, idem bool) error {
	a, err := s.Authorise(c.URL, resource, c.C.Clock())
	if err != nil {
		return err
	}
	var opts []call.CallOption
	if idem {
		opts = append(opts, call.WithIdempotencyKey(fn+":"+service.NewID()))
	}
	return c.C.Call(ctx, c.URL, fn, args(a), out, opts...)
}

func justAuth(a *auth.Authorisation) any { return &AuthArgs{Authorisation: a} }

// Whoami describes the session.
func (c *Client) Whoami(ctx context.Context, s *Session) (*WhoamiResult, error) {
	var out WhoamiResult
	return &out, c.authCall(ctx, s, "whoami", "whoami", justAuth, &out, false)
}

// Logout ends the session.
func (c *Client) Logout(ctx context.Context, s *Session) (*SessionInfo, error) {
	var out SessionInfo
	return &out, c.authCall(ctx, s, "logout", "logout", justAuth, &out, true)
}

// Sessions lists the user's sessions.
func (c *Client) Sessions(ctx context.Context, s *Session) (*SessionList, error) {
	var out SessionList
	return &out, c.authCall(ctx, s, "list_sessions", "list_sessions", justAuth, &out, false)
}

// Revoke ends another of the user's sessions.
func (c *Client) Revoke(ctx context.Context, s *Session, sessionUID string) (*SessionInfo, error) {
	var out SessionInfo
	return &out, c.authCall(ctx, s, "revoke_session", RevokeResource(sessionUID), func(a *auth.Authorisation) any {
		return &RevokeArgs{Authorisation: a, SessionUID: sessionUID}
	}, &out, true)
}

// SessionInfo fetches the public view of a session.
func (c *Client) SessionInfo(ctx context.Context, sessionUID string) (*SessionInfo, error) {
	var out SessionInfo
	return &out, c.C.Call(ctx, c.URL, "session_info", &SessionInfoArgs{SessionUID: sessionUID}, &out)
}

// Audit reads the audit log (admins only).
func (c *Client) Audit(ctx context.Context, s *Session, limit int) (*AuditLog, error) {
	var out AuditLog
	return &out, c.authCall(ctx, s, "admin_audit", "admin_audit", func(a *auth.Authorisation) any {
		return &AuditArgs{Authorisation: a, Limit: limit}
	}, &out, false)
}

// Unlock clears a user's lockout (admins only).
func (c *Client) Unlock(ctx context.Context, s *Session, username string) error {
	return c.authCall(ctx, s, "admin_unlock", "admin_unlock "+username, func(a *auth.Authorisation) any {
		return &UnlockArgs{Authorisation: a, Username: username}
	}, nil, false)
}

// Lookup returns an auth.Lookup that asks identity services through c, for
// services that verify authorisations with an auth.Verifier.
func Lookup(c *call.Client) auth.Lookup {
	return func(ctx context.Context, identityURL, sessionUID string) (*auth.Session, error) {
		var out SessionInfo
		if err := c.Call(ctx, identityURL, "session_info", &SessionInfoArgs{SessionUID: sessionUID}, &out); err != nil {
			return nil, err
		}
		out.Session.Expires = out.Expires
		return &out.Session, nil
	}
}

// Credentials signs a user authorisation for resource at audience (auth.Signer).
func (s *Session) Credentials(_ context.Context, audience, resource string, now time.Time) (auth.Credentials, error) {
	a, err := s.Authorise(audience, resource, now)
	return auth.Credentials{Authorisation: a}, err
}
