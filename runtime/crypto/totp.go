package crypto

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base32"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/hotp"
)

// TOTP as Acquire's OTP (pyotp defaults, RFC 6238): HMAC-SHA-1, 6 digits, 30 s steps,
// codes of the previous, current and next step accepted.
const (
	totpPeriod = 30
	totpDigits = 6
	totpSkew   = 1
)

var totpOpts = hotp.ValidateOpts{Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1}

// NewTOTPSecret returns 20 random bytes (160 bits, the secret length RFC 4226 recommends)
// as upper-case base32 without padding.
func NewTOTPSecret() (string, error) {
	b := make([]byte, 20)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b), nil
}

// totpStep is the RFC 6238 counter floor(unix / 30). Times before 1970 have no valid step.
func totpStep(t time.Time) (int64, bool) {
	u := t.Unix()
	return u / totpPeriod, u >= 0
}

func totpCodeAt(secret string, step int64) (string, error) {
	code, err := hotp.GenerateCodeCustom(secret, uint64(step), totpOpts)
	if err != nil {
		return "", ErrTOTP
	}
	return code, nil
}

// TOTPCode returns the 6-digit code for time t.
func TOTPCode(secret string, t time.Time) (string, error) {
	step, ok := totpStep(t)
	if !ok {
		return "", errorf(ErrTOTP, "time before the Unix epoch")
	}
	return totpCodeAt(secret, step)
}

// TOTPMatch reports which time step (T-1, T or T+1 around t) code belongs to. Callers must
// accept a code only if step is greater than the last step they accepted for this secret,
// so a code is accepted once.
func TOTPMatch(secret, code string, t time.Time) (step int64, ok bool) {
	now, valid := totpStep(t)
	if !valid || !isDigits(code, totpDigits) {
		return 0, false
	}
	first := now - totpSkew
	if first < 0 {
		first = 0
	}
	var wants []string
	for s := first; s <= now+totpSkew; s++ {
		want, err := totpCodeAt(secret, s)
		if err != nil {
			return 0, false
		}
		wants = append(wants, want)
	}
	i, ok := firstMatch(wants, code)
	return first + int64(i), ok
}

// firstMatch returns the index of the first of wants equal to code. Every candidate is
// compared in constant time and in a fixed order, and the earliest match is kept without
// branching on the comparisons, so timing shows neither whether nor where the code matched.
func firstMatch(wants []string, code string) (int, bool) {
	idx, matched := 0, 0
	for i, want := range wants {
		hit := subtle.ConstantTimeCompare([]byte(want), []byte(code))
		idx = subtle.ConstantTimeSelect(hit&(matched^1), i, idx)
		matched |= hit
	}
	return idx, matched == 1
}

func isDigits(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// TOTPProvisioningURI returns the otpauth URI authenticator apps scan, byte-identical to
// pyotp's provisioning_uri: the label is quoted as Python's urllib.parse.quote does and the
// secret comes before the issuer, because Acquire recovers the secret with the regular
// expression 'secret=([\w\d+]+)&issuer'.
func TOTPProvisioningURI(secret, account, issuer string) string {
	return "otpauth://totp/" + pyQuote(issuer, "/") + ":" + pyQuote(account, "/") +
		"?secret=" + pyQuote(secret, "") + "&issuer=" + pyQuote(issuer, "")
}

// pyQuote percent-encodes like Python's urllib.parse.quote(s, safe): everything except ASCII
// letters, digits, "_.-~" and the safe characters. Spaces become %20, as pyotp emits.
func pyQuote(s, safe string) string {
	const hexDigits = "0123456789ABCDEF"
	var sb strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') || ('0' <= c && c <= '9') ||
			strings.IndexByte("_.-~", c) >= 0 || strings.IndexByte(safe, c) >= 0 {
			sb.WriteByte(c)
			continue
		}
		sb.WriteByte('%')
		sb.WriteByte(hexDigits[c>>4])
		sb.WriteByte(hexDigits[c&15])
	}
	return sb.String()
}
