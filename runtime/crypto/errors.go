// Package crypto holds every cryptographic primitive Acquire uses, byte-compatible with the
// original Python Acquire (Acquire.Crypto): RSA-OAEP/PSS key pairs, Fernet symmetric keys,
// PKCS#8 encrypted private keys, the MD5-based protocol hashes, argon2id passwords and TOTP.
//
// Errors are the sentinels below, wrapped with context; test them with errors.Is. No error
// message ever contains key material, passphrases or plaintext.
package crypto

import (
	"errors"
	"fmt"
)

var (
	// ErrDecrypt means a ciphertext or token cannot be decrypted or authenticated.
	ErrDecrypt = errors.New("crypto: cannot decrypt")
	// ErrSignature means a signature does not verify.
	ErrSignature = errors.New("crypto: signature does not verify")
	// ErrKey means a malformed key or PEM, an unsupported key, or a wrong passphrase.
	ErrKey = errors.New("crypto: bad key")
	// ErrTooLong means an input is over an explicit size limit.
	ErrTooLong = errors.New("crypto: input too long")
	// ErrWeakPassphrase means a passphrase fails Acquire's strength rule, which Acquire
	// applies before serialising a key (see CheckPassphrase).
	ErrWeakPassphrase = errors.New("crypto: weak passphrase")
	// ErrEncoding means text is not canonical padded standard base64.
	ErrEncoding = errors.New("crypto: bad base64")
	// ErrPasswordHash means an encoded password hash is malformed, or its parameters are
	// outside the accepted bounds.
	ErrPasswordHash = errors.New("crypto: bad password hash")
	// ErrTOTP means a TOTP secret is not valid base32.
	ErrTOTP = errors.New("crypto: bad TOTP secret")
)

// errorf wraps a sentinel with context that must never include secrets.
func errorf(sentinel error, format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{sentinel}, args...)...)
}
