package identity

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"rsc.io/qr"

	"github.com/openacquire/acquire/runtime/call"
	"github.com/openacquire/acquire/runtime/crypto"
	"github.com/openacquire/acquire/runtime/service"
	"github.com/openacquire/acquire/runtime/store"
)

// RegisterArgs are the arguments of register.
type RegisterArgs struct {
	Username string `json:"username"`
	Password string `json:"password"`
	// QRImage asks for the provisioning URI drawn as a QR code too, for
	// a browser, which has no QR encoder of its own.
	QRImage bool `json:"qr_image,omitempty"`
}

// RegisterResult carries what the user must keep: the authenticator URI
// (shown as a QR code) and single-use recovery codes. Neither is shown again.
type RegisterResult struct {
	UserUID         string   `json:"user_uid"`
	Username        string   `json:"username"`
	ProvisioningURI string   `json:"provisioning_uri"`
	RecoveryCodes   []string `json:"recovery_codes"`
	// ProvisioningQR is the URI as a QR code PNG, base64, when asked for.
	// It travels in the encrypted reply, like the URI it draws.
	ProvisioningQR string `json:"provisioning_qr_png,omitempty"`
}

// qrPixelsPerModule makes a QR code of the usual URI (version 5 to 7)
// about 300 pixels wide: scannable from a screen, small in the reply.
const qrPixelsPerModule = 6

func (id *Identity) handleRegister(ctx context.Context, a *RegisterArgs) (*RegisterResult, error) {
	res, err := id.CreateUser(ctx, a.Username, a.Password)
	if err != nil || !a.QRImage {
		return res, err
	}
	code, err := qr.Encode(res.ProvisioningURI, qr.M)
	if err != nil {
		return nil, fmt.Errorf("identity: drawing the QR code: %w", err)
	}
	code.Scale = qrPixelsPerModule
	res.ProvisioningQR = base64.StdEncoding.EncodeToString(code.PNG())
	return res, nil
}

// CreateUser registers a user. It is also how a host creates the first admin.
func (id *Identity) CreateUser(ctx context.Context, username, password string) (*RegisterResult, error) {
	if err := checkUsername(username); err != nil {
		return nil, err
	}
	if err := checkPassword(password); err != nil {
		return nil, err
	}
	if _, _, err := id.getUser(ctx, username); err == nil {
		return nil, call.Errorf(call.ErrExists, "user %q already exists", username)
	}
	rec, res, err := id.newUser(ctx, username, password)
	if err != nil {
		return nil, err
	}
	if _, err := id.b.PutJSONIfAbsent(ctx, userKey(username), rec); err != nil {
		if errors.Is(err, store.ErrPrecondition) {
			return nil, call.Errorf(call.ErrExists, "user %q already exists", username)
		}
		return nil, err
	}
	if _, err := id.b.PutJSON(ctx, uidsPrefix+rec.UserUID, map[string]string{"username": username}); err != nil {
		return nil, err
	}
	id.audit(ctx, auditEvent{Event: "register", Username: username, UserUID: rec.UserUID})
	return res, nil
}

func (id *Identity) newUser(ctx context.Context, username, password string) (*userRecord, *RegisterResult, error) {
	hash, err := id.hashPassword(ctx, password)
	if err != nil {
		return nil, nil, err
	}
	secret, err := crypto.NewTOTPSecret()
	if err != nil {
		return nil, nil, err
	}
	sealed, err := id.svc.Keys().Seal(ctx, []byte(secret))
	if err != nil {
		return nil, nil, err
	}
	rec := &userRecord{UserUID: service.NewID(), Username: username, PasswordHash: hash, OTPSecret: sealed, Created: id.now()}
	codes := make([]string, RecoveryCodeCount)
	for i := range codes {
		codes[i] = newRecoveryCode()
		rec.RecoveryCodes = append(rec.RecoveryCodes, recoveryHash(rec.UserUID, codes[i]))
	}
	res := &RegisterResult{UserUID: rec.UserUID, Username: username, RecoveryCodes: codes,
		ProvisioningURI: crypto.TOTPProvisioningURI(secret, username, "Acquire")}
	return rec, res, nil
}

func checkUsername(u string) error {
	if !usernamePattern.MatchString(u) {
		return call.Errorf(ErrUsername, "username must be 3-64 characters of a-z, 0-9, '.', '_' or '-', starting with a letter or digit")
	}
	return nil
}

func checkPassword(p string) error {
	switch {
	case !utf8.ValidString(p):
		return call.Errorf(ErrWeakPassword, "password is not valid UTF-8")
	case len(p) < MinPasswordBytes:
		return call.Errorf(ErrWeakPassword, "password must be at least %d characters", MinPasswordBytes)
	case len(p) > MaxPasswordBytes:
		return call.Errorf(ErrWeakPassword, "password must be at most %d bytes", MaxPasswordBytes)
	}
	return nil
}

// Recovery codes carry 60 random bits, so a salted SHA-256 is enough to
// store them; argon2id is kept for the low-entropy password.
func newRecoveryCode() string {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("identity: no randomness: " + err.Error())
	}
	s := strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b[:]))[:12]
	return s[:4] + "-" + s[4:8] + "-" + s[8:]
}

func recoveryHash(userUID, code string) string {
	code = strings.ReplaceAll(strings.ToLower(strings.TrimSpace(code)), "-", "")
	sum := sha256.Sum256([]byte("acquire-recovery-v1\x00" + userUID + "\x00" + code))
	return hex.EncodeToString(sum[:])
}
