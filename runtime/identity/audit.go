package identity

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/openacquire/acquire/runtime/auth"
	"github.com/openacquire/acquire/runtime/call"
	"github.com/openacquire/acquire/runtime/service"
)

// auditEvent is one line of the append-only audit log. It never holds a
// secret: no password, code or key.
type auditEvent struct {
	Time       time.Time `json:"time"`
	Event      string    `json:"event"`
	Username   string    `json:"username,omitempty"`
	UserUID    string    `json:"user_uid,omitempty"`
	SessionUID string    `json:"session_uid,omitempty"`
	Detail     string    `json:"detail,omitempty"`
}

// audit appends an event under a time-ordered key with put-if-absent, so an
// event once written is never overwritten. A failure to audit is logged:
// the action it describes has already happened.
func (id *Identity) audit(ctx context.Context, e auditEvent) {
	e.Time = id.now()
	key := fmt.Sprintf("%s%020d-%s", auditPrefix, e.Time.UnixNano(), service.NewID()[:8])
	if _, err := id.b.PutJSONIfAbsent(ctx, key, &e); err != nil {
		id.svc.Logger().Error("audit write failed", "event", e.Event, "err", err)
	}
}

// AuditArgs asks an admin's view of the audit log.
type AuditArgs struct {
	Authorisation *auth.Authorisation `json:"authorisation"`
	Limit         int                 `json:"limit,omitempty"`
}

// AuditLog lists events, oldest first.
type AuditLog struct {
	Events []auditEvent `json:"events"`
}

func (id *Identity) requireAdmin(ctx context.Context, a *auth.Authorisation, resource string) error {
	s, err := id.authorise(ctx, a, resource)
	if err != nil {
		return err
	}
	ok, err := id.svc.IsAdmin(ctx, id.svc.URL(), s.UserUID)
	if err != nil {
		return err
	}
	if !ok {
		return call.Errorf(call.ErrPermission, "%s is not an admin of this identity service", s.Username)
	}
	return nil
}

func (id *Identity) handleAdminAudit(ctx context.Context, a *AuditArgs) (*AuditLog, error) {
	if err := id.requireAdmin(ctx, a.Authorisation, "admin_audit"); err != nil {
		return nil, err
	}
	limit := min(max(a.Limit, 1), MaxAuditListed)
	page, err := id.b.List(ctx, auditPrefix, "", limit)
	if err != nil {
		return nil, err
	}
	out := &AuditLog{}
	for _, it := range page.Items {
		var e auditEvent
		if _, err := id.b.GetJSON(ctx, it.Key, &e); err != nil {
			return nil, err
		}
		out.Events = append(out.Events, e)
	}
	return out, nil
}

// UnlockArgs clears a user's lockout.
type UnlockArgs struct {
	Authorisation *auth.Authorisation `json:"authorisation"`
	Username      string              `json:"username"`
}

func (id *Identity) handleAdminUnlock(ctx context.Context, a *UnlockArgs) (*struct{}, error) {
	if err := id.requireAdmin(ctx, a.Authorisation, "admin_unlock "+a.Username); err != nil {
		return nil, err
	}
	if _, err := id.updateUser(ctx, a.Username, func(u *userRecord) error {
		u.Lock = lockState{}
		return nil
	}); err != nil {
		return nil, err
	}
	id.audit(ctx, auditEvent{Event: "admin_unlock", Username: a.Username})
	return &struct{}{}, nil
}

// MakeAdmin makes an existing user an admin of this identity service; the
// host calls it when it sets up the first admin.
func (id *Identity) MakeAdmin(ctx context.Context, username string) error {
	u, _, err := id.getUser(ctx, username)
	if err != nil {
		return err
	}
	if err := id.svc.AddAdmin(ctx, service.Admin{IdentityURL: id.svc.URL(), UserUID: u.UserUID}); err != nil {
		return err
	}
	id.audit(ctx, auditEvent{Event: "admin_added", Username: username, UserUID: u.UserUID})
	return nil
}

func sortSessions(s []*SessionInfo) {
	sort.Slice(s, func(i, j int) bool { return s[i].Requested.After(s[j].Requested) })
}

// UserUID returns a registered user's UID, for a host granting admin
// rights on its other services.
func (id *Identity) UserUID(ctx context.Context, username string) (string, error) {
	u, _, err := id.getUser(ctx, username)
	if err != nil {
		return "", err
	}
	return u.UserUID, nil
}
