package crypto

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"time"
	"unicode/utf8"
)

// FernetKey is a Fernet key (github.com/fernet/spec): [0:16] HMAC-SHA256 signing key,
// [16:32] AES-128 encryption key. Acquire's SymmetricKey holds one.
type FernetKey [32]byte

const (
	fernetVersion  = 0x80
	fernetHeader   = 1 + 8 + aes.BlockSize // version, timestamp, IV
	fernetMACBytes = sha256.Size
	fernetKeyText  = 44 // base64 of 32 bytes, padded
	// fernetMinToken is the smallest raw token: header, one cipher block, MAC.
	fernetMinToken = fernetHeader + aes.BlockSize + fernetMACBytes
)

// maxTokenTextBytes bounds the Fernet token text accepted by Decrypt: the token of a
// MaxMessageBytes plaintext, base64-expanded.
var maxTokenTextBytes = base64.URLEncoding.EncodedLen(fernetMinToken + MaxMessageBytes)

// NewFernetKey returns a fresh random key.
func NewFernetKey() (FernetKey, error) {
	var k FernetKey
	if _, err := rand.Read(k[:]); err != nil {
		return FernetKey{}, err
	}
	return k, nil
}

// ParseFernetKey reads the 44-character key text, in url-safe (Fernet's own) or standard
// base64; Acquire passes both forms around.
func ParseFernetKey(text string) (FernetKey, error) {
	var k FernetKey
	if len(text) != fernetKeyText {
		return k, errorf(ErrKey, "fernet key text must be %d characters", fernetKeyText)
	}
	for _, enc := range []*base64.Encoding{base64.URLEncoding, base64.StdEncoding} {
		if b, err := decodeCanonical(enc, text); err == nil && len(b) == len(k) {
			copy(k[:], b)
			return k, nil
		}
	}
	return FernetKey{}, errorf(ErrKey, "fernet key text is not base64 of 32 bytes")
}

// FernetKeyFromPassphrase is Acquire's SymmetricKey(symmetric_key=passphrase): the 32 ASCII
// characters of the passphrase's hex MD5 are themselves the key bytes (not the raw digest).
// No strength rule applies here.
func FernetKeyFromPassphrase(passphrase string) FernetKey {
	var k FernetKey
	copy(k[:], MD5Hex([]byte(passphrase)))
	return k
}

// String is the key text: url-safe base64 with padding, 44 characters.
func (k FernetKey) String() string { return base64.URLEncoding.EncodeToString(k[:]) }

// Fingerprint is Acquire's SymmetricKey.fingerprint: MD5 of the key text, "aa:bb:..".
func (k FernetKey) Fingerprint() string { return colonFingerprint([]byte(k.String())) }

// Encrypt makes a token with a random IV and the current time.
func (k FernetKey) Encrypt(plaintext []byte) (string, error) {
	if len(plaintext) > MaxMessageBytes {
		return "", ErrTooLong
	}
	var iv [aes.BlockSize]byte
	if _, err := rand.Read(iv[:]); err != nil {
		return "", err
	}
	return k.EncryptWith(plaintext, time.Now(), iv), nil
}

// EncryptWith makes a token with a caller-chosen timestamp and IV. It exists so tests can
// reproduce Acquire's tokens byte for byte; production code must use Encrypt, because a
// repeated IV under one key leaks plaintext equality.
func (k FernetKey) EncryptWith(plaintext []byte, ts time.Time, iv [16]byte) string {
	padLen := aes.BlockSize - len(plaintext)%aes.BlockSize
	raw := make([]byte, fernetHeader, fernetHeader+len(plaintext)+padLen+fernetMACBytes)
	raw[0] = fernetVersion
	binary.BigEndian.PutUint64(raw[1:9], uint64(ts.Unix()))
	copy(raw[9:fernetHeader], iv[:])
	raw = append(raw, plaintext...)
	for i := 0; i < padLen; i++ {
		raw = append(raw, byte(padLen))
	}
	body := raw[fernetHeader:]
	cipher.NewCBCEncrypter(k.block(), iv[:]).CryptBlocks(body, body)
	raw = append(raw, k.mac(raw)...)
	return base64.URLEncoding.EncodeToString(raw)
}

// Decrypt authenticates and decrypts a token. There is no TTL and no clock-skew check,
// because Acquire never passes one: its tokens never expire. The token text must be the
// canonical url-safe padded base64 that Encrypt writes: a service recognises a replayed
// request by its ciphertext, so one token must have exactly one accepted text.
func (k FernetKey) Decrypt(token string) ([]byte, error) {
	if len(token) > maxTokenTextBytes {
		return nil, ErrTooLong
	}
	raw, err := decodeCanonical(base64.URLEncoding, token)
	if err != nil || len(raw) < fernetMinToken || raw[0] != fernetVersion ||
		(len(raw)-fernetHeader-fernetMACBytes)%aes.BlockSize != 0 {
		return nil, errorf(ErrDecrypt, "malformed fernet token")
	}
	macAt := len(raw) - fernetMACBytes
	// MAC first, compared in constant time, so nothing about the plaintext or padding leaks
	// before the token is known to be authentic.
	if !hmac.Equal(k.mac(raw[:macAt]), raw[macAt:]) {
		return nil, errorf(ErrDecrypt, "fernet token fails authentication")
	}
	body := make([]byte, macAt-fernetHeader)
	cipher.NewCBCDecrypter(k.block(), raw[9:fernetHeader]).CryptBlocks(body, raw[fernetHeader:macAt])
	return unpadPKCS7(body)
}

func (k FernetKey) mac(b []byte) []byte {
	m := hmac.New(sha256.New, k[:16])
	m.Write(b)
	return m.Sum(nil)
}

func (k FernetKey) block() cipher.Block {
	b, err := aes.NewCipher(k[16:])
	if err != nil { // impossible: the key is always 16 bytes
		panic(err)
	}
	return b
}

// unpadPKCS7 strips PKCS#7 padding of a whole number of AES blocks.
func unpadPKCS7(b []byte) ([]byte, error) {
	if len(b) == 0 || len(b)%aes.BlockSize != 0 {
		return nil, errorf(ErrDecrypt, "bad padding")
	}
	n := int(b[len(b)-1])
	if n == 0 || n > aes.BlockSize {
		return nil, errorf(ErrDecrypt, "bad padding")
	}
	for _, c := range b[len(b)-n:] {
		if int(c) != n {
			return nil, errorf(ErrDecrypt, "bad padding")
		}
	}
	return b[:len(b)-n], nil
}

// CheckPassphrase applies Acquire's rule for passphrases that protect a serialised key:
// 6 to 50 characters and, when shorter than 24 characters, at least one upper-case letter,
// one lower-case letter and one digit (ASCII, as Acquire's regular expressions are).
func CheckPassphrase(passphrase string) error {
	n := utf8.RuneCountInString(passphrase)
	if n < 6 || n > 50 {
		return errorf(ErrWeakPassphrase, "must be 6 to 50 characters")
	}
	if n >= 24 {
		return nil
	}
	var upper, lower, digit bool
	for _, c := range passphrase {
		upper = upper || ('A' <= c && c <= 'Z')
		lower = lower || ('a' <= c && c <= 'z')
		digit = digit || ('0' <= c && c <= '9')
	}
	if !upper || !lower || !digit {
		return errorf(ErrWeakPassphrase, "under 24 characters needs upper, lower case and a digit")
	}
	return nil
}

// SymmetricKeyToData is Acquire's SymmetricKey.to_data(passphrase):
// {"bytes": b64(Fernet token of the key text under FernetKeyFromPassphrase(passphrase))}.
func SymmetricKeyToData(k FernetKey, passphrase string) (map[string]string, error) {
	if err := CheckPassphrase(passphrase); err != nil {
		return nil, err
	}
	token, err := FernetKeyFromPassphrase(passphrase).Encrypt([]byte(k.String()))
	if err != nil {
		return nil, err
	}
	return map[string]string{"bytes": B64([]byte(token))}, nil
}

// SymmetricKeyFromData is Acquire's SymmetricKey.from_data. A wrong passphrase is reported
// as both ErrKey and ErrDecrypt, because a token that fails authentication cannot tell the two
// apart.
func SymmetricKeyFromData(data map[string]string, passphrase string) (FernetKey, error) {
	token, err := UnB64(data["bytes"])
	if err != nil {
		return FernetKey{}, errorf(ErrKey, "symmetric key data: %w", err)
	}
	text, err := FernetKeyFromPassphrase(passphrase).Decrypt(string(token))
	if err != nil {
		return FernetKey{}, errorf(ErrKey, "symmetric key data: wrong passphrase or corrupt: %w", err)
	}
	return ParseFernetKey(string(text))
}
