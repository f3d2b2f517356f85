package wallet

import (
	"fmt"
	"time"

	"github.com/openacquire/acquire/runtime/identity"
)

// sessionRecord is one saved session. KeyPEM and CertPEM are encrypted
// PKCS#8; they are deleted when the session closes.
type sessionRecord struct {
	IdentityURL string    `json:"identity_url"`
	Username    string    `json:"username"`
	UserUID     string    `json:"user_uid"`
	SessionUID  string    `json:"session_uid"`
	Expires     time.Time `json:"expires"`
	Saved       time.Time `json:"saved"`
	Status      string    `json:"status"`
	Ended       time.Time `json:"ended,omitzero"`
	SealedWith  string    `json:"sealed_with,omitempty"`
	KeyPEM      string    `json:"key_pem,omitempty"`
	CertPEM     string    `json:"cert_pem,omitempty"`
}

// Entry describes a saved session without its keys.
type Entry struct {
	IdentityURL string    `json:"identity_url"`
	Username    string    `json:"username"`
	UserUID     string    `json:"user_uid"`
	SessionUID  string    `json:"session_uid"`
	Expires     time.Time `json:"expires"`
	Saved       time.Time `json:"saved"`
	Status      string    `json:"status"`
	Ended       time.Time `json:"ended,omitzero"`
	Current     bool      `json:"current"`
}

// ClosedError says the wallet's session for a user was closed (logged out,
// revoked, or found closed by the service). It matches ErrSessionClosed.
type ClosedError struct {
	Entry Entry
}

func (e *ClosedError) Error() string {
	return fmt.Sprintf("session %s of %s at %s is %s; log in again", e.Entry.SessionUID, e.Entry.Username,
		e.Entry.IdentityURL, e.Entry.Status)
}

// Is matches ErrSessionClosed.
func (e *ClosedError) Is(target error) bool { return target == ErrSessionClosed }

func (f *walletFile) session(identityURL, username string) (int, *sessionRecord) {
	for i, s := range f.Sessions {
		if s.IdentityURL == identityURL && s.Username == username {
			return i, s
		}
	}
	return -1, nil
}

func (f *walletFile) entry(s *sessionRecord) Entry {
	return Entry{IdentityURL: s.IdentityURL, Username: s.Username, UserUID: s.UserUID, SessionUID: s.SessionUID,
		Expires: s.Expires, Saved: s.Saved, Status: s.Status, Ended: s.Ended,
		Current: f.Current[s.IdentityURL] == s.Username}
}

// CurrentUsername is the user last logged in to an identity service, or "".
func (w *Wallet) CurrentUsername(identityURL string) string {
	return w.snapshot().Current[identityURL]
}

// Entries lists the saved sessions, without keys.
func (w *Wallet) Entries() []Entry {
	f := w.snapshot()
	out := make([]Entry, 0, len(f.Sessions))
	for _, s := range f.Sessions {
		out = append(out, f.entry(s))
	}
	return out
}

// Entry describes the saved session of username at an identity service;
// an empty username means the current user there.
func (w *Wallet) Entry(identityURL, username string) (Entry, error) {
	f := w.snapshot()
	if username == "" {
		username = f.Current[identityURL]
	}
	if _, s := f.session(identityURL, username); s != nil {
		return f.entry(s), nil
	}
	if username == "" {
		return Entry{}, fmt.Errorf("%w: not logged in to %s", ErrNoSession, identityURL)
	}
	return Entry{}, fmt.Errorf("%w: %s is not logged in to %s", ErrNoSession, username, identityURL)
}

// SaveSession stores an approved session, sealing its private keys, and
// makes its user the current one at its identity service. It replaces the
// user's previous session there.
func (w *Wallet) SaveSession(s *identity.Session) error {
	if s == nil || s.Key == nil || s.Cert == nil || s.SessionUID == "" || s.UserUID == "" {
		return fmt.Errorf("%w: an approved session with both keys is required", ErrInvalid)
	}
	if err := checkUser(s.IdentityURL, s.Username); err != nil {
		return err
	}
	return w.update(func(f *walletFile) error {
		sealing := w.sealing()
		master, err := w.masterFor(sealing, f, true)
		if err != nil {
			return err
		}
		keyPEM, err := w.sealKey(master, s.Key)
		if err != nil {
			return err
		}
		certPEM, err := w.sealKey(master, s.Cert)
		if err != nil {
			return err
		}
		rec := &sessionRecord{IdentityURL: s.IdentityURL, Username: s.Username, UserUID: s.UserUID,
			SessionUID: s.SessionUID, Expires: s.Expires.UTC(), Saved: w.now().UTC(), Status: StatusActive,
			SealedWith: sealing, KeyPEM: keyPEM, CertPEM: certPEM}
		if i, _ := f.session(s.IdentityURL, s.Username); i >= 0 {
			f.Sessions[i] = rec
		} else {
			if len(f.Sessions) >= MaxSessions {
				return fmt.Errorf("%w: at most %d saved sessions; log out of some", ErrLimit, MaxSessions)
			}
			f.Sessions = append(f.Sessions, rec)
		}
		if f.Current == nil {
			f.Current = map[string]string{}
		}
		f.Current[s.IdentityURL] = s.Username
		return nil
	})
}

// Session unlocks the saved session of username at an identity service;
// an empty username means the current user there. A closed session is a
// *ClosedError; no session is ErrNoSession.
func (w *Wallet) Session(identityURL, username string) (*identity.Session, error) {
	e, err := w.Entry(identityURL, username)
	if err != nil {
		return nil, err
	}
	if e.Status != StatusActive {
		return nil, &ClosedError{Entry: e}
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	_, rec := w.f.session(identityURL, e.Username)
	if rec == nil || rec.SessionUID != e.SessionUID {
		return nil, fmt.Errorf("%w: the session changed while it was read; retry", ErrNoSession)
	}
	master, err := w.masterFor(rec.SealedWith, w.f, false)
	if err != nil {
		return nil, err
	}
	key, err := w.unsealKey(master, rec.KeyPEM)
	if err != nil {
		return nil, err
	}
	cert, err := w.unsealKey(master, rec.CertPEM)
	if err != nil {
		return nil, err
	}
	return &identity.Session{IdentityURL: rec.IdentityURL, SessionUID: rec.SessionUID, UserUID: rec.UserUID,
		Username: rec.Username, Expires: rec.Expires, Key: key, Cert: cert}, nil
}

// CloseSession marks the saved session sessionUID of username closed with
// status (StatusLoggedOut, StatusRevoked or StatusClosed) and deletes its
// private keys. It does nothing if the wallet holds another session for
// that user by now.
func (w *Wallet) CloseSession(identityURL, username, sessionUID, status string) error {
	switch status {
	case StatusLoggedOut, StatusRevoked, StatusClosed:
	default:
		return fmt.Errorf("%w: cannot close a session as %q", ErrInvalid, status)
	}
	return w.update(func(f *walletFile) error {
		_, rec := f.session(identityURL, username)
		if rec == nil || rec.SessionUID != sessionUID {
			return nil
		}
		rec.Status, rec.Ended = status, w.now().UTC()
		rec.KeyPEM, rec.CertPEM, rec.SealedWith = "", "", ""
		return nil
	})
}

// ForgetSession removes the saved session of username at an identity
// service altogether.
func (w *Wallet) ForgetSession(identityURL, username string) error {
	return w.update(func(f *walletFile) error {
		if i, _ := f.session(identityURL, username); i >= 0 {
			f.Sessions = append(f.Sessions[:i], f.Sessions[i+1:]...)
		}
		if f.Current[identityURL] == username {
			delete(f.Current, identityURL)
		}
		return nil
	})
}

// SetCurrent makes username, who has an active saved session at the
// identity service, the current user there: commands without a username
// act as them. No call is made; the session is as it was.
func (w *Wallet) SetCurrent(identityURL, username string) (Entry, error) {
	var e Entry
	err := w.update(func(f *walletFile) error {
		_, rec := f.session(identityURL, username)
		if rec == nil {
			return fmt.Errorf("%w: %s is not logged in to %s", ErrNoSession, username, identityURL)
		}
		if rec.Status != StatusActive {
			return &ClosedError{Entry: f.entry(rec)}
		}
		if f.Current == nil {
			f.Current = map[string]string{}
		}
		f.Current[identityURL] = username
		e = f.entry(rec)
		return nil
	})
	return e, err
}
