package crypto

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
)

// MaxPasswordBytes bounds password input so hashing cost stays predictable.
const MaxPasswordBytes = 1024

// PasswordParams are argon2id parameters.
type PasswordParams struct {
	MemoryKiB           uint32
	Passes              uint32
	Lanes               uint8
	SaltBytes, KeyBytes uint32
}

// DefaultPasswordParams is the OWASP minimum for argon2id (19 MiB, 2 passes, 1 lane).
var DefaultPasswordParams = PasswordParams{MemoryKiB: 19456, Passes: 2, Lanes: 1, SaltBytes: 16, KeyBytes: 32}

// Bounds on parameters, both for hashing and for hashes read back: below the minimum is too
// weak; above the caps one login could exhaust the memory or CPU of a small instance.
var (
	minPasswordParams = PasswordParams{MemoryKiB: 19456, Passes: 2, Lanes: 1, SaltBytes: 16, KeyBytes: 16}
	maxPasswordParams = PasswordParams{MemoryKiB: 256 << 10, Passes: 16, Lanes: 16, SaltBytes: 64, KeyBytes: 64}
)

func (p PasswordParams) check() error {
	lo, hi := minPasswordParams, maxPasswordParams
	switch {
	case p.MemoryKiB < lo.MemoryKiB || p.MemoryKiB > hi.MemoryKiB,
		p.Passes < lo.Passes || p.Passes > hi.Passes,
		p.Lanes < lo.Lanes || p.Lanes > hi.Lanes,
		p.SaltBytes < lo.SaltBytes || p.SaltBytes > hi.SaltBytes,
		p.KeyBytes < lo.KeyBytes || p.KeyBytes > hi.KeyBytes:
		return errorf(ErrPasswordHash, "argon2id parameters out of bounds")
	}
	return nil
}

// HashPassword returns the PHC string "$argon2id$v=19$m=..,t=..,p=..$<salt>$<hash>".
func HashPassword(password string, p PasswordParams) (string, error) {
	if len(password) > MaxPasswordBytes {
		return "", ErrTooLong
	}
	if err := p.check(); err != nil {
		return "", err
	}
	salt := make([]byte, p.SaltBytes)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	sum := argon2.IDKey([]byte(password), salt, p.Passes, p.MemoryKiB, p.Lanes, p.KeyBytes)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.MemoryKiB, p.Passes, p.Lanes,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(sum)), nil
}

// VerifyPassword checks password against a HashPassword string, taking the parameters from
// it. A mismatch is (false, nil); a malformed or out-of-bounds hash is an error.
func VerifyPassword(encoded, password string) (bool, error) {
	if len(password) > MaxPasswordBytes {
		return false, ErrTooLong
	}
	p, salt, want, err := parsePHC(encoded)
	if err != nil {
		return false, err
	}
	got := argon2.IDKey([]byte(password), salt, p.Passes, p.MemoryKiB, p.Lanes, p.KeyBytes)
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

// maxPHCBytes bounds the encoded hash so a corrupt record cannot make us decode megabytes.
const maxPHCBytes = 256

func parsePHC(encoded string) (PasswordParams, []byte, []byte, error) {
	var p PasswordParams
	bad := errorf(ErrPasswordHash, "not an argon2id v=19 PHC string")
	parts := strings.Split(encoded, "$")
	if len(encoded) > maxPHCBytes || len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" ||
		parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return p, nil, nil, bad
	}
	var lanes uint32
	n, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.MemoryKiB, &p.Passes, &lanes)
	// Re-printing and comparing refuses non-canonical forms such as "m=+19456" or "p= 1".
	if err != nil || n != 3 || lanes > 255 || parts[3] != fmt.Sprintf("m=%d,t=%d,p=%d", p.MemoryKiB, p.Passes, lanes) {
		return p, nil, nil, bad
	}
	p.Lanes = uint8(lanes)
	salt, err1 := base64.RawStdEncoding.Strict().DecodeString(parts[4])
	sum, err2 := base64.RawStdEncoding.Strict().DecodeString(parts[5])
	if err1 != nil || err2 != nil {
		return p, nil, nil, bad
	}
	p.SaltBytes, p.KeyBytes = uint32(len(salt)), uint32(len(sum))
	if err := p.check(); err != nil {
		return p, nil, nil, err
	}
	return p, salt, sum, nil
}
