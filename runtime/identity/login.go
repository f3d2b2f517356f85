package identity

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"sync"
	"time"

	"github.com/openacquire/acquire/runtime/call"
	"github.com/openacquire/acquire/runtime/crypto"
	"github.com/openacquire/acquire/runtime/service"
	"github.com/openacquire/acquire/runtime/store"
)

// RequestLoginArgs opens a login: the client made the session's key pair
// and certificate; only their public halves are sent.
type RequestLoginArgs struct {
	Username   string `json:"username"`
	KeyPublic  string `json:"key_public"`
	CertPublic string `json:"cert_public"`
	Label      string `json:"label,omitempty"`
}

// RequestLoginResult names the pending session.
type RequestLoginResult struct {
	SessionUID string    `json:"session_uid"`
	ShortCode  string    `json:"short_code"`
	Expires    time.Time `json:"expires"`
}

// handleRequestLogin opens a pending login for any well-formed username,
// known or not: the answer must not tell which usernames exist. An
// unknown one's login simply never approves.
func (id *Identity) handleRequestLogin(ctx context.Context, a *RequestLoginArgs) (*RequestLoginResult, error) {
	if err := checkUsername(a.Username); err != nil {
		return nil, err
	}
	for _, pemText := range []string{a.KeyPublic, a.CertPublic} {
		if _, err := crypto.ParsePublicPEM([]byte(pemText)); err != nil {
			return nil, call.Errorf(call.ErrBadArguments, "session keys must be RSA public key PEMs")
		}
	}
	now := id.now()
	s := &sessionRecord{SessionUID: service.NewID(), Username: a.Username, Status: statusPending,
		KeyPublic: a.KeyPublic, CertPublic: a.CertPublic, Label: clip(a.Label, 64), Requested: now, Expires: now.Add(LoginRequestTTL)}
	if _, err := id.b.PutJSONIfAbsent(ctx, sessionKey(s.SessionUID), s); err != nil {
		return nil, err
	}
	id.audit(ctx, auditEvent{Event: "login_requested", Username: a.Username, SessionUID: s.SessionUID})
	return &RequestLoginResult{SessionUID: s.SessionUID, ShortCode: s.SessionUID[:8], Expires: s.Expires}, nil
}

// ApproveLoginArgs proves who the user is: the password, and one second
// factor (an authenticator code, a remembered device's code, or a recovery
// code).
type ApproveLoginArgs struct {
	SessionUID     string `json:"session_uid"`
	Username       string `json:"username"`
	Password       string `json:"password"`
	OTP            string `json:"otp,omitempty"`
	DeviceUID      string `json:"device_uid,omitempty"`
	RecoveryCode   string `json:"recovery_code,omitempty"`
	RememberDevice bool   `json:"remember_device,omitempty"`
	DeviceLabel    string `json:"device_label,omitempty"`
}

// ApproveLoginResult is the approved session, and a new device's secret
// when one was asked to be remembered.
type ApproveLoginResult struct {
	SessionUID      string    `json:"session_uid"`
	UserUID         string    `json:"user_uid"`
	Username        string    `json:"username"`
	Expires         time.Time `json:"expires"`
	DeviceUID       string    `json:"device_uid,omitempty"`
	DeviceOTPSecret string    `json:"device_otp_secret,omitempty"`
	RecoveryLeft    int       `json:"recovery_codes_left"`
}

func (id *Identity) handleApproveLogin(ctx context.Context, a *ApproveLoginArgs) (*ApproveLoginResult, error) {
	sess, _, err := id.getSession(ctx, a.SessionUID)
	if err != nil {
		return nil, err
	}
	mac, err := id.approvalMAC(a)
	if err != nil {
		return nil, err
	}
	if res, ok := id.earlierApproval(ctx, sess, mac); ok {
		return res, nil
	}
	if st := sess.status(id.now()); st != statusPending || sess.Username != a.Username {
		return nil, call.Errorf(ErrSession, "session %s is not a pending login for %q", a.SessionUID, a.Username)
	}
	if err := id.countAttempt(ctx, a.SessionUID); err != nil {
		return nil, err
	}
	u, dev, err := id.checkCredentials(ctx, a)
	if err != nil {
		if res, ok := id.retriedDuringRun(ctx, a.SessionUID, mac); ok {
			return res, nil
		}
		id.audit(ctx, auditEvent{Event: "login_failed", Username: a.Username, SessionUID: a.SessionUID, Detail: errClass(err)})
		return nil, err
	}
	res := &ApproveLoginResult{SessionUID: a.SessionUID, UserUID: u.UserUID, Username: u.Username, Expires: id.now().Add(id.life),
		DeviceUID: dev.newUID, DeviceOTPSecret: dev.newSecret, RecoveryLeft: len(u.RecoveryCodes)}
	sealed, err := id.sealApproval(ctx, res)
	if err != nil {
		return nil, err
	}
	// The credentials are accepted and the second factor spent. The
	// session's approval, its index entry and the audit event are
	// independent writes: their flushes overlap rather than queue, and all
	// finish before the reply. If the approval then fails (the session
	// expired or ended meanwhile), a second event records that; an index
	// entry of an unapproved session is harmless, as listings read each
	// session's own status.
	var wg sync.WaitGroup
	var indexErr error
	wg.Go(func() { indexErr = id.indexSession(ctx, u.UserUID, a.SessionUID) })
	wg.Go(func() {
		id.audit(ctx, auditEvent{Event: "login_approved", Username: a.Username, UserUID: u.UserUID, SessionUID: a.SessionUID})
	})
	_, err = id.updateSession(ctx, a.SessionUID, func(s *sessionRecord) error {
		if s.status(id.now()) != statusPending {
			return call.Errorf(ErrSession, "session %s is no longer pending", a.SessionUID)
		}
		s.Status, s.UserUID, s.Approved, s.Expires, s.Device = statusApproved, u.UserUID, id.now(), res.Expires, dev.uid
		s.ApprovalMAC, s.ApprovalSealed = mac, sealed
		return nil
	})
	wg.Wait()
	if err != nil {
		id.audit(ctx, auditEvent{Event: "login_failed", Username: a.Username, UserUID: u.UserUID, SessionUID: a.SessionUID, Detail: errClass(err)})
		return nil, err
	}
	if indexErr != nil {
		return nil, indexErr
	}
	return res, nil
}

// approvalMAC identifies one approval request: the same arguments sent
// again are a retry of it.
func (id *Identity) approvalMAC(a *ApproveLoginArgs) (string, error) {
	raw, err := json.Marshal(a) //nolint:gosec // G117: only its keyed MAC is kept, never these bytes
	if err != nil {
		return "", err
	}
	return id.svc.Keys().MAC("identity-approval", raw), nil
}

func (id *Identity) sealApproval(ctx context.Context, res *ApproveLoginResult) (string, error) {
	raw, err := json.Marshal(res)
	if err != nil {
		return "", err
	}
	return id.svc.Keys().Seal(ctx, raw)
}

// earlierApproval answers a retry of the request that approved sess with
// that request's answer. The index entry is written again, since the first
// run may have died between approving the session and indexing it.
func (id *Identity) earlierApproval(ctx context.Context, sess *sessionRecord, mac string) (*ApproveLoginResult, bool) {
	if sess.status(id.now()) != statusApproved || sess.ApprovalMAC == "" ||
		subtle.ConstantTimeCompare([]byte(sess.ApprovalMAC), []byte(mac)) != 1 {
		return nil, false
	}
	raw, err := id.svc.Keys().Unseal(ctx, sess.ApprovalSealed)
	if err != nil {
		return nil, false
	}
	var res ApproveLoginResult
	if json.Unmarshal(raw, &res) != nil || id.indexSession(ctx, sess.UserUID, sess.SessionUID) != nil {
		return nil, false
	}
	return &res, true
}

// retriedDuringRun covers a retry that overlapped its first run: the first
// spent the one-time code, so this one's second factor failed, but the
// session may by now be approved by the same request.
func (id *Identity) retriedDuringRun(ctx context.Context, sessionUID, mac string) (*ApproveLoginResult, bool) {
	sess, _, err := id.getSession(ctx, sessionUID)
	if err != nil {
		return nil, false
	}
	return id.earlierApproval(ctx, sess, mac)
}

func (id *Identity) indexSession(ctx context.Context, userUID, sessionUID string) error {
	_, err := id.b.PutIfAbsent(ctx, userSessionsPrefix+userUID+"/"+sessionUID, nil)
	if errors.Is(err, store.ErrPrecondition) {
		return nil
	}
	return err
}

// countAttempt counts one approval attempt on a pending login by
// compare-and-swap before the attempt is judged, so parallel guesses each
// count; past MaxSessionAttempts the login is refused for good.
func (id *Identity) countAttempt(ctx context.Context, sessionUID string) error {
	s, err := id.updateSession(ctx, sessionUID, func(s *sessionRecord) error {
		if s.status(id.now()) != statusPending {
			return call.Errorf(ErrSession, "session %s is not a pending login", sessionUID)
		}
		s.Attempts++
		return nil
	})
	if err != nil {
		return err
	}
	if s.Attempts > MaxSessionAttempts {
		return call.Errorf(ErrLocked, "this login has used its %d attempts; request a new login", MaxSessionAttempts)
	}
	return nil
}

// deviceOutcome says which remembered device was used or made.
type deviceOutcome struct{ uid, newUID, newSecret string }

// checkCredentials counts the attempt as a password failure before
// judging it (a right password takes the count back), verifies the
// password once (argon2id is the costly part), then applies the second
// factor inside a compare-and-swap loop, so that of two logins racing with
// one OTP code exactly one advances the stored step and the other sees the
// code as used. An unknown username costs the same argon2id work and gets
// the same answer as a wrong password.
func (id *Identity) checkCredentials(ctx context.Context, a *ApproveLoginArgs) (*userRecord, deviceOutcome, error) {
	var quiet bool
	u, err := id.updateUser(ctx, a.Username, func(u *userRecord) error {
		quiet = u.Lock.quiet()
		u.Lock.failPassword()
		return nil
	})
	if errors.Is(err, ErrUnknownUser) {
		_, _ = id.verifyPassword(ctx, id.decoyHash(), a.Password)
		return nil, deviceOutcome{}, wrongCredentials(a.Username)
	}
	if err != nil {
		return nil, deviceOutcome{}, err
	}
	ok, err := id.verifyPassword(ctx, u.PasswordHash, a.Password)
	if err != nil {
		return nil, deviceOutcome{}, err
	}
	if !ok {
		return nil, deviceOutcome{}, wrongCredentials(a.Username)
	}
	verified := u.PasswordHash
	var out deviceOutcome
	var factorErr error
	u, err = id.updateUser(ctx, a.Username, func(u *userRecord) error {
		// The loop re-reads the record: the password must still be the one verified.
		if u.PasswordHash != verified {
			return call.Errorf(call.ErrBusy, "password changed during login; retry")
		}
		u.Lock.Password.reset()
		if factorErr = u.Lock.checkOTP(id.now()); factorErr != nil {
			return nil // the password's count is still taken back
		}
		out, factorErr = id.secondFactor(ctx, u, a)
		if factorErr != nil {
			u.Lock.failOTP(id.now())
			return nil // record the failure; the error is returned below
		}
		u.Lock.OTP.reset()
		return nil
	})
	switch {
	case err != nil:
		return nil, deviceOutcome{}, err
	case factorErr != nil && quiet:
		return nil, deviceOutcome{}, wrongCredentials(a.Username)
	case factorErr != nil:
		return nil, deviceOutcome{}, factorErr
	}
	return u, out, nil
}

// decoyHash is a hash of no one's password, made once, that an unknown
// username's login is checked against so it costs what a known one does.
func (id *Identity) decoyHash() string {
	id.decoyOnce.Do(func() {
		id.decoy, _ = crypto.HashPassword(service.NewID(), id.params)
	})
	return id.decoy
}

// secondFactor checks one of the second factors on the record and consumes
// it (advancing the OTP step, or removing the recovery code).
func (id *Identity) secondFactor(ctx context.Context, u *userRecord, a *ApproveLoginArgs) (deviceOutcome, error) {
	now := id.now()
	switch {
	case a.RecoveryCode != "":
		return deviceOutcome{}, consumeRecovery(u, a.RecoveryCode)
	case a.DeviceUID != "":
		return id.deviceFactor(ctx, u, a, now)
	default:
		secret, err := id.svc.Keys().Unseal(ctx, u.OTPSecret)
		if err != nil {
			return deviceOutcome{}, err
		}
		if err := useOTP(string(secret), a.OTP, &u.LastOTPStep, now); err != nil {
			return deviceOutcome{}, err
		}
		if a.RememberDevice {
			return id.addDevice(ctx, u, a.DeviceLabel, now)
		}
		return deviceOutcome{}, nil
	}
}

// useOTP accepts a code for a time step after the last one accepted.
func useOTP(secret, code string, last *int64, now time.Time) error {
	step, ok := crypto.TOTPMatch(secret, code, now)
	if !ok {
		return call.Errorf(ErrOTP, "wrong one-time code")
	}
	if step <= *last {
		return call.Errorf(ErrOTPReused, "this one-time code (or a later one) was already used; wait for the next code")
	}
	*last = step
	return nil
}

func consumeRecovery(u *userRecord, code string) error {
	h := recoveryHash(u.UserUID, code)
	for i, stored := range u.RecoveryCodes {
		if subtle.ConstantTimeCompare([]byte(stored), []byte(h)) == 1 {
			u.RecoveryCodes = append(u.RecoveryCodes[:i:i], u.RecoveryCodes[i+1:]...)
			return nil
		}
	}
	return call.Errorf(ErrOTP, "wrong or already used recovery code")
}

func (id *Identity) deviceFactor(ctx context.Context, u *userRecord, a *ApproveLoginArgs, now time.Time) (deviceOutcome, error) {
	d := u.Devices[a.DeviceUID]
	if d == nil {
		return deviceOutcome{}, call.Errorf(ErrOTP, "unknown device %q", clip(a.DeviceUID, 40))
	}
	secret, err := id.svc.Keys().Unseal(ctx, d.OTPSecret)
	if err != nil {
		return deviceOutcome{}, err
	}
	if err := useOTP(string(secret), a.OTP, &d.LastStep, now); err != nil {
		return deviceOutcome{}, err
	}
	return deviceOutcome{uid: a.DeviceUID}, nil
}

func (id *Identity) addDevice(ctx context.Context, u *userRecord, label string, now time.Time) (deviceOutcome, error) {
	if len(u.Devices) >= MaxDevices {
		return deviceOutcome{}, call.Errorf(call.ErrBadArguments, "at most %d remembered devices", MaxDevices)
	}
	secret, err := crypto.NewTOTPSecret()
	if err != nil {
		return deviceOutcome{}, err
	}
	sealed, err := id.svc.Keys().Seal(ctx, []byte(secret))
	if err != nil {
		return deviceOutcome{}, err
	}
	if u.Devices == nil {
		u.Devices = map[string]*device{}
	}
	uid := service.NewID()
	u.Devices[uid] = &device{Label: clip(label, 64), OTPSecret: sealed, Created: now}
	return deviceOutcome{uid: uid, newUID: uid, newSecret: secret}, nil
}

func errClass(err error) string {
	var ce *call.Error
	if errors.As(err, &ce) {
		return ce.Class
	}
	return "error"
}

func clip(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
