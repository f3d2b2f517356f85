package crypto

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha1" //nolint:gosec // hmacWithSHA1 is the PBKDF2 default PRF of older Acquire keys.
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"encoding/pem"
	"hash"
)

// Encrypted PKCS#8 (RFC 5958 + PBES2 of RFC 8018), written with the standard library because
// crypto/x509 only handles the unencrypted form.

const (
	pbkdf2SaltBytes = 16 // NIST SP 800-132's minimum; OpenSSL (and so Acquire) used 8
	// pbkdf2Iterations is what keys are written with: OWASP's 2023 figure
	// for PBKDF2-HMAC-SHA256. Acquire (and OpenSSL's default) wrote 2,048,
	// which a GPU walks through a dictionary at millions of guesses a
	// second; the count is in the file, so keys written either way read.
	pbkdf2Iterations = 600_000
	// maxPBKDF2Iterations caps the work a hostile PEM can ask of us.
	maxPBKDF2Iterations = 10_000_000
)

var (
	oidPBES2          = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 13}
	oidPBKDF2         = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 12}
	oidHMACWithSHA1   = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 7}
	oidHMACWithSHA256 = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 9}
	oidHMACWithSHA384 = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 10}
	oidHMACWithSHA512 = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 11}
	oidAES128CBC      = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 2}
	oidAES192CBC      = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 22}
	oidAES256CBC      = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 42}
)

type encryptedPrivateKeyInfo struct {
	Algo pkix.AlgorithmIdentifier
	Data []byte
}

type pbes2Params struct {
	KDF    pkix.AlgorithmIdentifier
	Cipher pkix.AlgorithmIdentifier
}

type pbkdf2Params struct {
	Salt       []byte
	Iterations int
	KeyLength  int                      `asn1:"optional"`
	PRF        pkix.AlgorithmIdentifier `asn1:"optional"` // absent means hmacWithSHA1
}

// MarshalEncryptedPEM is Acquire's PrivateKey.bytes(passphrase): an "ENCRYPTED PRIVATE KEY"
// PEM with PBES2, PBKDF2-HMAC-SHA256 and AES-256-CBC, laid out as OpenSSL writes it, with
// a 16-byte salt and 600,000 iterations where Acquire used 8 and 2,048 (both are in the
// file, so Acquire still reads it). Like Acquire, it refuses a passphrase failing
// CheckPassphrase, since Acquire could not read the key back.
func (k *PrivateKey) MarshalEncryptedPEM(passphrase string) ([]byte, error) {
	return k.marshalEncryptedPEM(passphrase, pbkdf2Iterations)
}

// Key passphrases are 16 to 37 bytes: at least 128 bits, and base64url
// within the 50 characters of Acquire's passphrase rule.
const (
	minPassphraseKeyBytes = 16
	maxPassphraseKeyBytes = 37
	// keyPassphraseIterations is Acquire's count: a passphrase that is a
	// key cannot be walked through a dictionary, so stretching it only
	// costs every unlock (600,000 iterations take about 100 ms).
	keyPassphraseIterations = 2048
)

// KeyPassphrase is the passphrase MarshalEncryptedPEMWithKey uses for key:
// its base64url, so ParseEncryptedPEM(pem, KeyPassphrase(key)) reads it.
func KeyPassphrase(key []byte) string { return base64.RawURLEncoding.EncodeToString(key) }

// MarshalEncryptedPEMWithKey is MarshalEncryptedPEM for a passphrase that
// is itself a random or derived key (16 to 37 bytes), such as a wallet's
// or a service's per-purpose key: written at Acquire's 2,048 iterations,
// since only a guessable passphrase gains from stretching.
func (k *PrivateKey) MarshalEncryptedPEMWithKey(key []byte) ([]byte, error) {
	if len(key) < minPassphraseKeyBytes || len(key) > maxPassphraseKeyBytes {
		return nil, errorf(ErrWeakPassphrase, "a passphrase key is %d to %d bytes", minPassphraseKeyBytes, maxPassphraseKeyBytes)
	}
	return k.marshalEncryptedPEM(KeyPassphrase(key), keyPassphraseIterations)
}

func (k *PrivateKey) marshalEncryptedPEM(passphrase string, iterations int) ([]byte, error) {
	if err := CheckPassphrase(passphrase); err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(k.key)
	if err != nil {
		return nil, errorf(ErrKey, "cannot encode private key")
	}
	salt := make([]byte, pbkdf2SaltBytes)
	iv := make([]byte, aes.BlockSize)
	if _, err := rand.Read(salt); err != nil {
		return nil, err
	}
	if _, err := rand.Read(iv); err != nil {
		return nil, err
	}
	algo, err := pbes2Algorithm(salt, iv, iterations)
	if err != nil {
		return nil, err
	}
	aesKey, err := pbkdf2.Key(sha256.New, passphrase, salt, iterations, 32)
	if err != nil {
		return nil, err
	}
	block, _ := aes.NewCipher(aesKey) // 32-byte key cannot fail
	data := padPKCS7(der)
	cipher.NewCBCEncrypter(block, iv).CryptBlocks(data, data)
	out, err := asn1.Marshal(encryptedPrivateKeyInfo{Algo: algo, Data: data})
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: out}), nil
}

func pbes2Algorithm(salt, iv []byte, iterations int) (pkix.AlgorithmIdentifier, error) {
	null := asn1.RawValue{Tag: asn1.TagNull}
	kdf, err := asn1.Marshal(pbkdf2Params{Salt: salt, Iterations: iterations,
		PRF: pkix.AlgorithmIdentifier{Algorithm: oidHMACWithSHA256, Parameters: null}})
	if err != nil {
		return pkix.AlgorithmIdentifier{}, err
	}
	ivDER, err := asn1.Marshal(iv)
	if err != nil {
		return pkix.AlgorithmIdentifier{}, err
	}
	params, err := asn1.Marshal(pbes2Params{
		KDF:    pkix.AlgorithmIdentifier{Algorithm: oidPBKDF2, Parameters: asn1.RawValue{FullBytes: kdf}},
		Cipher: pkix.AlgorithmIdentifier{Algorithm: oidAES256CBC, Parameters: asn1.RawValue{FullBytes: ivDER}},
	})
	if err != nil {
		return pkix.AlgorithmIdentifier{}, err
	}
	return pkix.AlgorithmIdentifier{Algorithm: oidPBES2, Parameters: asn1.RawValue{FullBytes: params}}, nil
}

// ParseEncryptedPEM reads an "ENCRYPTED PRIVATE KEY" PEM (PBES2/PBKDF2 with HMAC-SHA-1 or
// SHA-2 and AES-CBC). A wrong passphrase is ErrKey. Unlike Acquire it does not apply the
// strength rule when reading: that rule protects keys being written.
func ParseEncryptedPEM(pemText []byte, passphrase string) (*PrivateKey, error) {
	block, _ := pem.Decode(pemText)
	if block == nil || block.Type != "ENCRYPTED PRIVATE KEY" {
		return nil, errorf(ErrKey, "no ENCRYPTED PRIVATE KEY PEM block")
	}
	var info encryptedPrivateKeyInfo
	if rest, err := asn1.Unmarshal(block.Bytes, &info); err != nil || len(rest) != 0 {
		return nil, errorf(ErrKey, "malformed EncryptedPrivateKeyInfo")
	}
	der, err := decryptPBES2(info, passphrase)
	if err != nil {
		return nil, err
	}
	k, err := parsePKCS8DER(der)
	if err != nil {
		// Padding happened to look valid under a wrong passphrase (about 1 in 256).
		return nil, errorf(ErrKey, "wrong passphrase or corrupt key")
	}
	return k, nil
}

func decryptPBES2(info encryptedPrivateKeyInfo, passphrase string) ([]byte, error) {
	if !info.Algo.Algorithm.Equal(oidPBES2) {
		return nil, errorf(ErrKey, "unsupported encryption scheme (want PBES2)")
	}
	var params pbes2Params
	if rest, err := asn1.Unmarshal(info.Algo.Parameters.FullBytes, &params); err != nil || len(rest) != 0 {
		return nil, errorf(ErrKey, "malformed PBES2 parameters")
	}
	keyLen, iv, err := cbcParams(params.Cipher)
	if err != nil {
		return nil, err
	}
	key, err := derivePBKDF2(params.KDF, passphrase, keyLen)
	if err != nil {
		return nil, err
	}
	data := info.Data
	if len(data) == 0 || len(data)%aes.BlockSize != 0 {
		return nil, errorf(ErrKey, "encrypted key is not whole AES blocks")
	}
	block, _ := aes.NewCipher(key) // key length is one of 16/24/32 by construction
	plain := make([]byte, len(data))
	cipher.NewCBCDecrypter(block, iv).CryptBlocks(plain, data)
	plain, err = unpadPKCS7(plain)
	if err != nil {
		return nil, errorf(ErrKey, "wrong passphrase or corrupt key")
	}
	return plain, nil
}

// cbcParams returns the AES key length and IV of an AES-CBC AlgorithmIdentifier.
func cbcParams(a pkix.AlgorithmIdentifier) (int, []byte, error) {
	var keyLen int
	switch {
	case a.Algorithm.Equal(oidAES128CBC):
		keyLen = 16
	case a.Algorithm.Equal(oidAES192CBC):
		keyLen = 24
	case a.Algorithm.Equal(oidAES256CBC):
		keyLen = 32
	default:
		return 0, nil, errorf(ErrKey, "unsupported PBES2 cipher (want AES-CBC)")
	}
	var iv []byte
	if rest, err := asn1.Unmarshal(a.Parameters.FullBytes, &iv); err != nil || len(rest) != 0 || len(iv) != aes.BlockSize {
		return 0, nil, errorf(ErrKey, "malformed AES-CBC IV")
	}
	return keyLen, iv, nil
}

func derivePBKDF2(a pkix.AlgorithmIdentifier, passphrase string, keyLen int) ([]byte, error) {
	if !a.Algorithm.Equal(oidPBKDF2) {
		return nil, errorf(ErrKey, "unsupported key derivation (want PBKDF2)")
	}
	var p pbkdf2Params
	if rest, err := asn1.Unmarshal(a.Parameters.FullBytes, &p); err != nil || len(rest) != 0 {
		return nil, errorf(ErrKey, "malformed PBKDF2 parameters")
	}
	if p.Iterations < 1 || p.Iterations > maxPBKDF2Iterations {
		return nil, errorf(ErrKey, "PBKDF2 iteration count out of bounds")
	}
	if p.KeyLength != 0 && p.KeyLength != keyLen {
		return nil, errorf(ErrKey, "PBKDF2 key length does not match the cipher")
	}
	prf, err := pbkdf2PRF(p.PRF.Algorithm)
	if err != nil {
		return nil, err
	}
	key, err := pbkdf2.Key(prf, passphrase, p.Salt, p.Iterations, keyLen)
	if err != nil {
		return nil, errorf(ErrKey, "PBKDF2 parameters refused")
	}
	return key, nil
}

func pbkdf2PRF(oid asn1.ObjectIdentifier) (func() hash.Hash, error) {
	switch {
	case len(oid) == 0, oid.Equal(oidHMACWithSHA1):
		return sha1.New, nil
	case oid.Equal(oidHMACWithSHA256):
		return sha256.New, nil
	case oid.Equal(oidHMACWithSHA384):
		return sha512.New384, nil
	case oid.Equal(oidHMACWithSHA512):
		return sha512.New, nil
	}
	return nil, errorf(ErrKey, "unsupported PBKDF2 PRF")
}

// padPKCS7 returns a copy of b padded to whole AES blocks.
func padPKCS7(b []byte) []byte {
	n := aes.BlockSize - len(b)%aes.BlockSize
	out := make([]byte, len(b), len(b)+n)
	copy(out, b)
	for i := 0; i < n; i++ {
		out = append(out, byte(n))
	}
	return out
}
