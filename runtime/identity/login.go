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

func (id *Identity) handleRequestLogin(ctx context.Context, a *RequestLoginArgs) (*RequestLoginResult, error) {
	if _, _, err := id.getUser(ctx, a.Username); err != nil {
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

// deviceOutcome says which remembered device was used or made.
type deviceOutcome struct{ uid, newUID, newSecret string }

// checkCredentials verifies the password once (argon2id is the costly
// part), then applies the second factor inside a compare-and-swap loop, so
// that of two logins racing with one OTP code exactly one advances the
// stored step and the other sees the code as used.
func (id *Identity) checkCredentials(ctx context.Context, a *ApproveLoginArgs) (*userRecord, deviceOutcome, error) {
	u, _, err := id.getUser(ctx, a.Username)
	if err != nil {
		return nil, deviceOutcome{}, err
	}
	if err := u.Lock.check(&u.Lock.Password, "password", id.now()); err != nil {
		return nil, deviceOutcome{}, err
	}
	ok, err := id.verifyPassword(ctx, u.PasswordHash, a.Password)
	if err != nil {
		return nil, deviceOutcome{}, err
	}
	if !ok {
		id.recordFailure(ctx, a.Username, false)
		return nil, deviceOutcome{}, call.Errorf(ErrPassword, "wrong password for %q", a.Username)
	}
	verified := u.PasswordHash
	var out deviceOutcome
	var factorErr error
	u, err = id.updateUser(ctx, a.Username, func(u *userRecord) error {
		// The loop re-reads the record: the password must still be the one verified.
		if u.PasswordHash != verified {
			return call.Errorf(call.ErrBusy, "password changed during login; retry")
		}
		if err := u.Lock.check(&u.Lock.OTP, "one-time code", id.now()); err != nil {
			return err
		}
		out, factorErr = id.secondFactor(ctx, u, a)
		if factorErr != nil {
			u.Lock.fail(&u.Lock.OTP, id.now())
			return nil // record the failure; the error is returned below
		}
		u.Lock.Password.reset()
		u.Lock.OTP.reset()
		return nil
	})
	if err != nil {
		return nil, deviceOutcome{}, err
	}
	if factorErr != nil {
		return nil, deviceOutcome{}, factorErr
	}
	return u, out, nil
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

// recordFailure counts a password failure; counting is best effort on a
// busy record, never a reason to report success.
func (id *Identity) recordFailure(ctx context.Context, username string, otp bool) {
	_, err := id.updateUser(ctx, username, func(u *userRecord) error {
		c := &u.Lock.Password
		if otp {
			c = &u.Lock.OTP
		}
		u.Lock.fail(c, id.now())
		return nil
	})
	if err != nil {
		id.svc.Logger().Warn("could not record a login failure", "username", username, "err", err)
	}
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
