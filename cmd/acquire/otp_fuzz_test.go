package main

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"
)

// FuzzOTPSpec: an otpauth URI or bare secret either gives a spec within the
// bounds, whose code is made of its digits, or a usage error (exit 2) that
// never repeats the secret.
func FuzzOTPSpec(f *testing.F) {
	for _, u := range []string{"otpauth://totp/Acquire:alice?secret=JBSWY3DPEHPK3PXP&issuer=Acquire",
		"otpauth://totp/x?secret=JBSWY3DPEHPK3PXP&period=0", "otpauth://totp/x?secret=JBSWY3DPEHPK3PXP&digits=9",
		"otpauth://hotp/x?secret=JBSWY3DPEHPK3PXP", "otpauth://totp/x?secret=JBSWY3DPEHPK3PXP&algorithm=SHA512&period=60&digits=8",
		"http://totp/x?secret=A", "otpauth://totp/x?secret=1", ""} {
		f.Add("", u)
	}
	f.Add("jbsw y3dp-ehpk 3pxp", "")
	f.Add("not base32!", "")
	f.Fuzz(func(t *testing.T, secret, uri string) {
		spec, err := parseOTPSpec(secret, uri)
		if err != nil {
			var ue *usageError
			if !errors.As(err, &ue) {
				t.Fatalf("parseOTPSpec: not a usage error: %v", err)
			}
			if len(secret) >= 8 && strings.Contains(err.Error(), secret) {
				t.Fatalf("the refusal repeats the secret: %v", err)
			}
			return
		}
		if spec.period < 1 || spec.period > maxOTPPeriodSeconds || spec.digits < minOTPDigits || spec.digits > maxOTPDigits ||
			spec.secret == "" || len(spec.secret) > maxSecretBytes {
			t.Fatalf("accepted out of bounds: period %d, digits %d, secret of %d", spec.period, spec.digits, len(spec.secret))
		}
		code, err := totp.GenerateCodeCustom(spec.secret, time.Unix(1_700_000_000, 0), totp.ValidateOpts{
			Period: spec.period, Digits: spec.digits, Algorithm: spec.algorithm})
		if err != nil || len(code) != spec.digits.Length() || strings.Trim(code, "0123456789") != "" {
			t.Fatalf("accepted spec makes no code: %q, %v", code, err)
		}
	})
}

// TestOTPSecretLengths: secrets base32 cannot spell, or shorter than 80 bits,
// are usage errors; before, "2" passed the check and then failed untyped in
// the TOTP library (found by FuzzOTPSpec).
func TestOTPSecretLengths(t *testing.T) {
	for _, s := range []string{"2", "222", "JBSWY3", "JBSWY3DPEHPK3P", "JBSWY3DPEHPK3PX"} {
		var ue *usageError
		if _, err := parseOTPSpec(s, ""); !errors.As(err, &ue) {
			t.Errorf("secret %q: %v, want a usage error", s, err)
		}
	}
	if _, err := parseOTPSpec("JBSWY3DPEHPK3PXP", ""); err != nil {
		t.Errorf("an 80-bit secret is refused: %v", err)
	}
}
