package crypto

import (
	"errors"
	"math"
	"unicode"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"
)

// ErrWeakSecret means a typed service secret or seed fails the strength rule
// (see CheckSecretStrength).
var ErrWeakSecret = errors.New("crypto: weak secret")

// The strength rule for secrets a person types or configures (a service
// secret, a provider's seed). Generated secrets (40 hex characters, about
// 160 bits) pass with room to spare. The estimate is deliberately simple:
// length times the bits of the character classes used, which over-rates a
// phrase of words but still refuses the short and the repetitive.
const (
	MinSecretChars    = 20
	MinSecretDistinct = 10
	MinSecretBits     = 96
	MaxSecretBytes    = 1024
)

// CheckSecretStrength refuses a secret under MinSecretChars characters,
// with under MinSecretDistinct distinct characters, estimated under
// MinSecretBits bits, over MaxSecretBytes, or holding control characters.
// The error never includes the secret.
func CheckSecretStrength(secret string) error {
	if len(secret) > MaxSecretBytes || !utf8.ValidString(secret) {
		return errorf(ErrWeakSecret, "must be valid UTF-8 of at most %d bytes", MaxSecretBytes)
	}
	n := utf8.RuneCountInString(secret)
	if n < MinSecretChars {
		return errorf(ErrWeakSecret, "must be at least %d characters", MinSecretChars)
	}
	distinct := map[rune]bool{}
	for _, r := range secret {
		if unicode.IsControl(r) {
			return errorf(ErrWeakSecret, "must not hold control characters")
		}
		distinct[r] = true
	}
	if len(distinct) < MinSecretDistinct {
		return errorf(ErrWeakSecret, "must use at least %d distinct characters", MinSecretDistinct)
	}
	if bits := float64(n) * math.Log2(float64(alphabetSize(secret))); bits < MinSecretBits {
		return errorf(ErrWeakSecret, "estimated %.0f bits, under %d: make it longer or mix in other kinds of character",
			bits, MinSecretBits)
	}
	return nil
}

// alphabetSize is the size of the union of character classes secret uses.
func alphabetSize(secret string) int {
	var lower, upper, digit, symbol, other bool
	for _, r := range secret {
		switch {
		case 'a' <= r && r <= 'z':
			lower = true
		case 'A' <= r && r <= 'Z':
			upper = true
		case '0' <= r && r <= '9':
			digit = true
		case r < utf8.RuneSelf:
			symbol = true
		default:
			other = true
		}
	}
	size := 0
	for _, c := range []struct {
		used bool
		n    int
	}{{lower, 26}, {upper, 26}, {digit, 10}, {symbol, 33}, {other, 100}} {
		if c.used {
			size += c.n
		}
	}
	return size
}

// StretchSecret turns a typed secret into a 32-byte root key with argon2id
// under salt, so each guess at the secret costs an attacker what a
// password guess costs (p's memory and passes) instead of one SHA-256.
func StretchSecret(secret string, salt []byte, p PasswordParams) ([]byte, error) {
	if err := p.check(); err != nil {
		return nil, err
	}
	if len(secret) > MaxSecretBytes {
		return nil, ErrTooLong
	}
	if len(salt) < int(minPasswordParams.SaltBytes) || len(salt) > int(maxPasswordParams.SaltBytes) {
		return nil, errorf(ErrPasswordHash, "salt of %d bytes out of bounds", len(salt))
	}
	return argon2.IDKey([]byte(secret), salt, p.Passes, p.MemoryKiB, p.Lanes, 32), nil
}
