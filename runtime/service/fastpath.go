package service

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"time"

	"github.com/openacquire/acquire/runtime/auth"
	"github.com/openacquire/acquire/runtime/call"
	"github.com/openacquire/acquire/runtime/channel"
	"github.com/openacquire/acquire/runtime/store"
)

// endedPrefix holds one marker per ended session of a trusted identity
// service, read by every fast-path call (docs/design/fastpath.md, State).
const endedPrefix = "fastpath/ended/"

// FastPath is what a service needs to speak the session fast path.
type FastPath struct {
	// Verify checks a user's authorisation as the service's own handlers
	// do (an auth.Verifier's Verify): it admits the channel's opening.
	Verify func(ctx context.Context, a *auth.Authorisation, resource string) (*auth.Session, error)
	// Identities may tell this service that their sessions ended.
	Identities auth.TrustedIdentities
	// Certs gives an identity service's pinned certificates, to check its
	// fastpath_end calls (auth.ServiceCertsFrom).
	Certs auth.ServiceCerts
}

type fastPath struct {
	cfg FastPath
	srv *channel.Server
}

// EnableFastPath makes the service accept fast-path channels: it registers
// fastpath_open and fastpath_end and answers fast-path frames.
func (s *Service) EnableFastPath(cfg FastPath) error {
	if cfg.Verify == nil || cfg.Certs == nil {
		return errors.New("service: the fast path needs a verifier and an identity certificate source")
	}
	srv, err := channel.NewServer(s.cfg.URL)
	if err != nil {
		return err
	}
	s.fast = &fastPath{cfg: cfg, srv: srv}
	Handle(s, "fastpath_open", Options{}, s.handleFastOpen)
	Handle(s, "fastpath_end", Options{}, s.handleFastEnd)
	return nil
}

// OpenArgs asks for a channel: the client's X25519 half, and the session's
// authorisation naming it (channel.OpenResource).
type OpenArgs struct {
	Credentials  auth.Credentials `json:"credentials"`
	ClientPublic string           `json:"client_public"`
}

// OpenResult is the service's half of a channel and the sealed ticket.
type OpenResult struct {
	ServicePublic string    `json:"service_public"`
	Channel       string    `json:"channel"`
	Ticket        string    `json:"ticket"`
	Audience      string    `json:"audience"`
	Expires       time.Time `json:"expires"`
}

func (s *Service) handleFastOpen(ctx context.Context, a *OpenArgs) (*OpenResult, error) {
	au := a.Credentials.Authorisation
	switch {
	case au == nil || a.Credentials.Service != nil:
		return nil, call.Errorf(auth.ErrAuthorisation, "a channel is opened for a user's session only")
	case au.Channel != "" || auth.ChannelFrom(ctx) != nil:
		return nil, call.Errorf(auth.ErrAuthorisation, "a channel is opened through the envelope with a signed authorisation")
	}
	pub, err := base64.StdEncoding.Strict().DecodeString(a.ClientPublic)
	if err != nil {
		return nil, call.Errorf(call.ErrBadArguments, "client_public is not base64")
	}
	sess, err := s.fast.cfg.Verify(ctx, au, channel.OpenResource(a.ClientPublic))
	if err != nil {
		return nil, err
	}
	if err := s.sessionLive(ctx, au.IdentityURL, au.SessionUID); err != nil {
		return nil, err
	}
	b := channel.Binding{IdentityURL: au.IdentityURL, UserUID: sess.UserUID, SessionUID: au.SessionUID, Expires: sess.Expires}
	spub, ticket, b, err := s.fast.srv.Open(pub, b, s.cfg.Clock())
	if err != nil {
		return nil, err
	}
	return &OpenResult{ServicePublic: base64.StdEncoding.EncodeToString(spub), Channel: b.ID.String(),
		Ticket: base64.StdEncoding.EncodeToString(ticket), Audience: b.Audience, Expires: b.Expires}, nil
}

// EndArgs is an identity service telling this one that a session ended.
type EndArgs struct {
	Service     *auth.ServiceAuthorisation `json:"service_authorisation"`
	IdentityURL string                     `json:"identity_url"`
	SessionUID  string                     `json:"session_uid"`
}

func (s *Service) handleFastEnd(ctx context.Context, a *EndArgs) (*struct{}, error) {
	if !s.fast.cfg.Identities.Trusts(a.IdentityURL) {
		return nil, call.Errorf(auth.ErrServiceNotTrusted, "identity service %q is not trusted here", clip(a.IdentityURL, 80))
	}
	v := &auth.ServiceVerifier{Certs: s.fast.cfg.Certs, Services: map[string]bool{a.IdentityURL: true},
		Audience: s.cfg.URL, Clock: s.cfg.Clock}
	if _, err := v.Verify(ctx, a.Service, channel.EndResource(a.IdentityURL, a.SessionUID)); err != nil {
		return nil, err
	}
	return &struct{}{}, s.EndSession(ctx, a.IdentityURL, a.SessionUID)
}

// EndSession records that a session ended: every later fast-path call of
// its channels here is refused, and no channel opens for it.
func (s *Service) EndSession(ctx context.Context, identityURL, sessionUID string) error {
	_, err := s.cfg.Bucket.PutIfAbsent(ctx, endedKey(identityURL, sessionUID), nil)
	if errors.Is(err, store.ErrPrecondition) {
		return nil
	}
	return err
}

func endedKey(identityURL, sessionUID string) string {
	sum := sha256.Sum256([]byte(identityURL + "\n" + sessionUID))
	return endedPrefix + hex.EncodeToString(sum[:])
}

// sessionLive reads the session's end marker: the per-call price of
// "logout ends every channel at once".
func (s *Service) sessionLive(ctx context.Context, identityURL, sessionUID string) error {
	_, _, err := s.cfg.Bucket.Get(ctx, endedKey(identityURL, sessionUID))
	switch {
	case err == nil:
		return call.Errorf(auth.ErrSessionClosed, "session %s has ended", clip(sessionUID, 64))
	case errors.Is(err, store.ErrNotFound):
		return nil
	}
	return err
}

// serveFast answers a fast-path frame. A refusal before dispatch is a
// clear frame (the call did not run, so the client may open a new channel
// and resend); anything the handler answers is sealed under the channel.
func (s *Service) serveFast(ctx context.Context, body []byte) ([]byte, string) {
	if s.fast == nil {
		return channel.Refusal(call.Errorf(channel.ErrUnknown, "%s does not speak the fast path", s.cfg.Kind)), channel.ErrUnknown.Class
	}
	c, err := s.fast.srv.Accept(body, s.cfg.Clock(), s.cfg.ClockSkew)
	if err == nil {
		err = s.sessionLive(ctx, c.IdentityURL, c.SessionUID)
	}
	if err != nil {
		e := s.typed(err, "")
		return channel.Refusal(e), e.Class
	}
	req := &call.Request{Function: c.Inner.Function, Args: c.Inner.Payload, SyncTime: time.Unix(0, c.Inner.TimeNs),
		IdempotencyKey: c.Inner.IdempotencyKey, Encrypted: true}
	if len(req.Args) == 0 || string(req.Args) == "null" {
		req.Args = json.RawMessage("{}")
	}
	ctx = auth.WithChannel(ctx, &auth.ChannelCall{ID: c.ID.String(), IdentityURL: c.IdentityURL, UserUID: c.UserUID,
		SessionUID: c.SessionUID, Audience: c.Audience})
	res := s.dispatch(ctx, req)
	class := ""
	if res.Exception != nil {
		class = res.Exception.Class
	}
	plain, err := json.Marshal(res)
	if err == nil {
		var reply []byte
		if reply, err = c.Reply(plain); err == nil {
			return reply, class
		}
	}
	e := s.typed(err, req.Function)
	return channel.Refusal(e), e.Class
}
