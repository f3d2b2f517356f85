package crypto

import (
	"crypto/md5" //nolint:gosec // MD5 is part of Acquire's wire protocol, not a security choice here.
	"encoding/base64"
	"encoding/hex"
	"strconv"
	"strings"
)

// MD5Hex returns the lowercase hex MD5 of b, as Acquire's md5 helper does.
func MD5Hex(b []byte) string {
	sum := md5.Sum(b) //nolint:gosec // protocol hash, see import.
	return hex.EncodeToString(sum[:])
}

// MultiMD5 is Acquire's multi_md5: the MD5 of the two hex digests concatenated as text.
func MultiMD5(a, b string) string {
	return MD5Hex([]byte(MD5Hex([]byte(a)) + MD5Hex([]byte(b))))
}

// colonFingerprint formats the MD5 of b as "aa:bb:...", Acquire's fingerprint form.
func colonFingerprint(b []byte) string {
	h := MD5Hex(b)
	var sb strings.Builder
	sb.Grow(len(h) + len(h)/2)
	for i := 0; i < len(h); i += 2 {
		if i > 0 {
			sb.WriteByte(':')
		}
		sb.WriteString(h[i : i+2])
	}
	return sb.String()
}

// B64 is Acquire's bytes_to_string: standard base64 with padding.
func B64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

// UnB64 decodes canonical padded standard base64 (Acquire's string_to_bytes output). It is
// stricter than Python's decoder, which drops stray characters: Acquire always emits canonical
// text, so anything else is refused rather than guessed at.
func UnB64(s string) ([]byte, error) {
	return decodeCanonical(base64.StdEncoding, s)
}

// decodeCanonical accepts only the one text enc writes for some bytes: padded as enc pads,
// zero trailing bits, and no CR or LF (which Go's strict mode still skips). Every decoder
// whose output feeds a check (a replay marker, a MAC, a signature) goes through it, so a
// re-encoded value cannot pass for a new one.
func decodeCanonical(enc *base64.Encoding, s string) ([]byte, error) {
	if strings.ContainsAny(s, "\r\n") {
		return nil, ErrEncoding
	}
	b, err := enc.Strict().DecodeString(s)
	if err != nil {
		return nil, ErrEncoding
	}
	return b, nil
}

// CredentialsEncodePassword is Acquire's Credentials.encode_password: what a client sends in
// place of the password. An empty deviceUID means "not device-salted".
func CredentialsEncodePassword(password, identityUID, deviceUID string) string {
	encoded := MultiMD5(identityUID, password)
	if deviceUID == "" {
		return encoded
	}
	return MD5Hex([]byte(encoded + deviceUID))
}

// CredentialsKey is the Fernet key Acquire's Credentials.package/unpackage use:
// SymmetricKey(md5(username) + md5(short_uid)).
func CredentialsKey(username, shortUID string) FernetKey {
	return FernetKeyFromPassphrase(MD5Hex([]byte(username)) + MD5Hex([]byte(shortUID)))
}

// UserCredentialsHash is Acquire's UserCredentials.hash (identity service side).
func UserCredentialsHash(username, password, serviceUID string) string {
	return MultiMD5(serviceUID, username+password)
}

// ChunkSecret is the secret authenticating one chunk of a chunked upload or download.
func ChunkSecret(sharedSecret, driveUID, fileUID string, chunkIndex int) string {
	return MultiMD5(sharedSecret, driveUID+fileUID+strconv.Itoa(chunkIndex))
}
