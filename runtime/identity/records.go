package identity

import (
	"context"
	"errors"
	"time"

	"github.com/openacquire/acquire/runtime/call"
	"github.com/openacquire/acquire/runtime/store"
)

// Store layout of the identity service.
const (
	usersPrefix        = "identity/users/"
	uidsPrefix         = "identity/uids/"
	sessionsPrefix     = "identity/sessions/"
	userSessionsPrefix = "identity/user-sessions/"
	auditPrefix        = "identity/audit/"
)

// userRecord is one user. Secrets are sealed with the service data key;
// the password is only an argon2id hash; recovery codes only hashes.
type userRecord struct {
	UserUID       string             `json:"user_uid"`
	Username      string             `json:"username"`
	PasswordHash  string             `json:"password_hash"`
	OTPSecret     string             `json:"otp_secret_sealed"`
	LastOTPStep   int64              `json:"last_otp_step"`
	RecoveryCodes []string           `json:"recovery_code_hashes"`
	Devices       map[string]*device `json:"devices,omitempty"`
	Lock          lockState          `json:"lock"`
	Created       time.Time          `json:"created"`
}

// device is a remembered device: it holds its own OTP secret, so logins
// from it need the password and a code the device makes itself.
type device struct {
	Label     string    `json:"label"`
	OTPSecret string    `json:"otp_secret_sealed"`
	LastStep  int64     `json:"last_step"`
	Created   time.Time `json:"created"`
}

const (
	statusPending   = "pending"
	statusApproved  = "approved"
	statusLoggedOut = "logged_out"
	statusRevoked   = "revoked"
	statusExpired   = "expired"
)

// sessionRecord is one login session and its public keys.
type sessionRecord struct {
	SessionUID string    `json:"session_uid"`
	Username   string    `json:"username"`
	UserUID    string    `json:"user_uid,omitempty"`
	Status     string    `json:"status"`
	KeyPublic  string    `json:"key_public"`
	CertPublic string    `json:"cert_public"`
	Device     string    `json:"device_uid,omitempty"`
	Label      string    `json:"label,omitempty"`
	Requested  time.Time `json:"requested"`
	Approved   time.Time `json:"approved,omitzero"`
	Expires    time.Time `json:"expires"`
	Ended      time.Time `json:"ended,omitzero"`
	// A retried approval (its reply lost) is recognised by a keyed MAC of
	// its arguments and answered with the sealed first answer, which may
	// hold a new device's secret.
	ApprovalMAC    string `json:"approval_mac,omitempty"`
	ApprovalSealed string `json:"approval_sealed,omitempty"`
	// Attempts counts approval attempts, each before it is judged.
	Attempts int `json:"attempts,omitempty"`
}

// status accounts for expiry, which is never written: it follows from time.
func (r *sessionRecord) status(now time.Time) string {
	if (r.Status == statusPending || r.Status == statusApproved) && now.After(r.Expires) {
		return statusExpired
	}
	return r.Status
}

func userKey(username string) string { return usersPrefix + store.EncodeName(username) }
func sessionKey(uid string) string   { return sessionsPrefix + store.EncodeName(uid) }

func (id *Identity) getUser(ctx context.Context, username string) (*userRecord, store.Version, error) {
	var u userRecord
	v, err := id.b.GetJSON(ctx, userKey(username), &u)
	if errors.Is(err, store.ErrNotFound) {
		return nil, "", call.Errorf(ErrUnknownUser, "no user %q", username)
	}
	return &u, v, err
}

func (id *Identity) getSession(ctx context.Context, uid string) (*sessionRecord, store.Version, error) {
	var s sessionRecord
	v, err := id.b.GetJSON(ctx, sessionKey(uid), &s)
	if errors.Is(err, store.ErrNotFound) {
		return nil, "", call.Errorf(ErrSession, "no session %q", uid)
	}
	return &s, v, err
}

// updateSession changes a session under compare-and-swap; fn may refuse.
func (id *Identity) updateSession(ctx context.Context, uid string, fn func(*sessionRecord) error) (*sessionRecord, error) {
	for range updateAttempts {
		s, v, err := id.getSession(ctx, uid)
		if err != nil {
			return nil, err
		}
		if err := fn(s); err != nil {
			return nil, err
		}
		if _, err := id.b.PutJSONIfVersion(ctx, sessionKey(uid), s, v); err == nil {
			return s, nil
		} else if !errors.Is(err, store.ErrPrecondition) {
			return nil, err
		}
	}
	return nil, call.Errorf(call.ErrBusy, "session %s is changing too fast; retry", uid)
}

// updateUser changes a user under compare-and-swap; fn may refuse.
func (id *Identity) updateUser(ctx context.Context, username string, fn func(*userRecord) error) (*userRecord, error) {
	for range updateAttempts {
		u, v, err := id.getUser(ctx, username)
		if err != nil {
			return nil, err
		}
		if err := fn(u); err != nil {
			return nil, err
		}
		if _, err := id.b.PutJSONIfVersion(ctx, userKey(username), u, v); err == nil {
			return u, nil
		} else if !errors.Is(err, store.ErrPrecondition) {
			return nil, err
		}
	}
	return nil, call.Errorf(call.ErrBusy, "user %s is changing too fast; retry", username)
}
