package identity

import (
	"context"
	"strings"
	"time"

	"github.com/openacquire/acquire/runtime/auth"
	"github.com/openacquire/acquire/runtime/call"
)

// SessionInfoArgs names a session.
type SessionInfoArgs struct {
	SessionUID string `json:"session_uid"`
}

// SessionInfo is what anyone holding a session UID may learn: enough to
// verify that session's authorisations.
type SessionInfo struct {
	auth.Session
	KeyPublic string    `json:"key_public"`
	Label     string    `json:"label,omitempty"`
	DeviceUID string    `json:"device_uid,omitempty"`
	Requested time.Time `json:"requested"`
	Approved  time.Time `json:"approved,omitzero"`
	Expires   time.Time `json:"expires"`
}

func (id *Identity) info(s *sessionRecord) *SessionInfo {
	return &SessionInfo{Session: auth.Session{SessionUID: s.SessionUID, UserUID: s.UserUID, Username: s.Username,
		Status: s.status(id.now()), CertPublic: s.CertPublic}, KeyPublic: s.KeyPublic, Label: s.Label,
		DeviceUID: s.Device, Requested: s.Requested, Approved: s.Approved, Expires: s.Expires}
}

func (id *Identity) handleSessionInfo(ctx context.Context, a *SessionInfoArgs) (*SessionInfo, error) {
	s, _, err := id.getSession(ctx, a.SessionUID)
	if err != nil {
		return nil, err
	}
	return id.info(s), nil
}

// AuthArgs carries just an authorisation.
type AuthArgs struct {
	Authorisation *auth.Authorisation `json:"authorisation"`
}

// WhoamiResult describes the caller's session.
type WhoamiResult struct {
	SessionInfo
	IsAdmin bool `json:"is_admin"`
}

func (id *Identity) handleWhoami(ctx context.Context, a *AuthArgs) (*WhoamiResult, error) {
	s, err := id.authorise(ctx, a.Authorisation, "whoami")
	if err != nil {
		return nil, err
	}
	admin, err := id.svc.IsAdmin(ctx, id.svc.URL(), s.UserUID)
	if err != nil {
		return nil, err
	}
	return &WhoamiResult{SessionInfo: *id.info(s), IsAdmin: admin}, nil
}

func (id *Identity) handleLogout(ctx context.Context, a *AuthArgs) (*SessionInfo, error) {
	s, err := id.authorise(ctx, a.Authorisation, "logout")
	if err != nil {
		return nil, err
	}
	return id.endSession(ctx, s.SessionUID, s.UserUID, statusLoggedOut)
}

func (id *Identity) endSession(ctx context.Context, sessionUID, userUID, status string) (*SessionInfo, error) {
	s, err := id.updateSession(ctx, sessionUID, func(s *sessionRecord) error {
		if s.UserUID != userUID {
			return call.Errorf(call.ErrPermission, "session %s is not yours", sessionUID)
		}
		if st := s.status(id.now()); st != statusApproved && st != statusPending {
			return call.Errorf(ErrSession, "session %s is already %s", sessionUID, st)
		}
		s.Status, s.Ended = status, id.now()
		return nil
	})
	if err != nil {
		return nil, err
	}
	id.tellEnded(ctx, sessionUID)
	id.audit(ctx, auditEvent{Event: status, Username: s.Username, UserUID: userUID, SessionUID: sessionUID})
	return id.info(s), nil
}

// RevokeArgs ends another of the caller's sessions.
type RevokeArgs struct {
	Authorisation *auth.Authorisation `json:"authorisation"`
	SessionUID    string              `json:"session_uid"`
}

// RevokeResource is what an authorisation to revoke a session must name.
func RevokeResource(sessionUID string) string { return "revoke_session " + sessionUID }

func (id *Identity) handleRevokeSession(ctx context.Context, a *RevokeArgs) (*SessionInfo, error) {
	s, err := id.authorise(ctx, a.Authorisation, RevokeResource(a.SessionUID))
	if err != nil {
		return nil, err
	}
	return id.endSession(ctx, a.SessionUID, s.UserUID, statusRevoked)
}

// SessionList is the caller's sessions, newest first.
type SessionList struct {
	Sessions []*SessionInfo `json:"sessions"`
}

func (id *Identity) handleListSessions(ctx context.Context, a *AuthArgs) (*SessionList, error) {
	s, err := id.authorise(ctx, a.Authorisation, "list_sessions")
	if err != nil {
		return nil, err
	}
	prefix := userSessionsPrefix + s.UserUID + "/"
	items, err := id.b.ListAll(ctx, prefix, MaxSessionsListed)
	if err != nil {
		return nil, err
	}
	out := &SessionList{}
	for _, it := range items {
		rec, _, err := id.getSession(ctx, strings.TrimPrefix(it.Key, prefix))
		if err != nil {
			return nil, err
		}
		out.Sessions = append(out.Sessions, id.info(rec))
	}
	sortSessions(out.Sessions)
	return out, nil
}

// VerifyArgs asks whether an authorisation is good for a resource at the
// service audience (the asking service's URL).
type VerifyArgs struct {
	Authorisation *auth.Authorisation `json:"authorisation"`
	Audience      string              `json:"audience"`
	Resource      string              `json:"resource"`
}

func (id *Identity) handleVerify(ctx context.Context, a *VerifyArgs) (*auth.Session, error) {
	s, err := id.authoriseFor(ctx, a.Authorisation, a.Audience, a.Resource)
	if err != nil {
		return nil, err
	}
	return &id.info(s).Session, nil
}
