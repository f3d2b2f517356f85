package crypto

import (
	stdcrypto "crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
)

const (
	// RSABits is the size of every key Acquire generates.
	RSABits = 2048
	// MaxMessageBytes bounds Encrypt/Decrypt inputs so a hostile peer cannot make us
	// allocate without limit.
	MaxMessageBytes = 64 << 20

	// minRSABits and maxRSABits bound keys we accept from outside: smaller keys are weak,
	// larger ones make every public operation a denial-of-service lever.
	minRSABits       = 2048
	maxRSABits       = 4096
	oaepHashOverhead = 2*sha256.Size + 2
)

// PublicKey is an RSA public key with its Acquire PEM and fingerprint computed once.
// It is immutable and safe for concurrent use.
type PublicKey struct {
	key         *rsa.PublicKey
	pem         []byte
	fingerprint string
}

// PrivateKey is an RSA private key, precomputed for fast CRT operations, with its public half
// cached. It is immutable and safe for concurrent use; unlock it once per process.
type PrivateKey struct {
	key *rsa.PrivateKey
	pub *PublicKey
}

// GenerateKey makes an RSA-2048 key pair with e = 65537, as Acquire does.
func GenerateKey() (*PrivateKey, error) {
	k, err := rsa.GenerateKey(rand.Reader, RSABits)
	if err != nil {
		return nil, err
	}
	return newPrivateKey(k)
}

func newPrivateKey(k *rsa.PrivateKey) (*PrivateKey, error) {
	if err := k.Validate(); err != nil {
		return nil, errorf(ErrKey, "invalid RSA private key")
	}
	k.Precompute()
	pub, err := newPublicKey(&k.PublicKey)
	if err != nil {
		return nil, err
	}
	return &PrivateKey{key: k, pub: pub}, nil
}

func newPublicKey(k *rsa.PublicKey) (*PublicKey, error) {
	if bits := k.N.BitLen(); bits < minRSABits || bits > maxRSABits {
		return nil, errorf(ErrKey, "RSA key of %d bits outside [%d, %d]", bits, minRSABits, maxRSABits)
	}
	der, err := x509.MarshalPKIXPublicKey(k)
	if err != nil {
		return nil, errorf(ErrKey, "cannot encode public key")
	}
	// This encoding (64-column base64, "\n" line ends) is byte-identical to Acquire's
	// PublicKey.bytes(), which matters because the fingerprint hashes the PEM text.
	p := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	return &PublicKey{key: k, pem: p, fingerprint: colonFingerprint(p)}, nil
}

// Public returns the cached public half.
func (k *PrivateKey) Public() *PublicKey { return k.pub }

// Fingerprint is the public key's fingerprint, as in Acquire.
func (k *PrivateKey) Fingerprint() string { return k.pub.fingerprint }

// Decrypt is Acquire's PrivateKey.decrypt: a key-sized input is plain OAEP; a longer one is
// OAEP(Fernet key text) followed by the Fernet token text.
func (k *PrivateKey) Decrypt(ct []byte) ([]byte, error) {
	size := k.key.Size()
	if len(ct) > size+maxTokenTextBytes {
		return nil, ErrTooLong
	}
	if len(ct) == size {
		return k.decryptOAEP(ct)
	}
	if len(ct) < size {
		return nil, errorf(ErrDecrypt, "ciphertext shorter than the key")
	}
	keyText, err := k.decryptOAEP(ct[:size])
	if err != nil {
		return nil, err
	}
	fk, err := ParseFernetKey(string(keyText))
	if err != nil {
		return nil, errorf(ErrDecrypt, "wrapped fernet key is malformed")
	}
	return fk.Decrypt(string(ct[size:]))
}

// CiphertextDigest names ct by the bytes Decrypt authenticates (the wrapped key and the
// decoded Fernet token), so every text of one ciphertext has one digest. It checks the form
// only, without private-key work: a service files its replay marker under it while it
// decrypts. Decrypt refuses exactly the texts this refuses, and more.
func (k *PrivateKey) CiphertextDigest(ct []byte) ([sha256.Size]byte, error) {
	size := k.key.Size()
	switch {
	case len(ct) > size+maxTokenTextBytes:
		return [sha256.Size]byte{}, ErrTooLong
	case len(ct) == size:
		return sha256.Sum256(ct), nil
	case len(ct) < size:
		return [sha256.Size]byte{}, errorf(ErrDecrypt, "ciphertext shorter than the key")
	}
	raw, err := decodeCanonical(base64.URLEncoding, string(ct[size:]))
	if err != nil {
		return [sha256.Size]byte{}, errorf(ErrDecrypt, "malformed fernet token")
	}
	h := sha256.New()
	h.Write(ct[:size])
	h.Write(raw)
	var sum [sha256.Size]byte
	h.Sum(sum[:0])
	return sum, nil
}

func (k *PrivateKey) decryptOAEP(ct []byte) ([]byte, error) {
	pt, err := rsa.DecryptOAEP(sha256.New(), nil, k.key, ct, nil)
	if err != nil {
		return nil, errorf(ErrDecrypt, "RSA-OAEP")
	}
	return pt, nil
}

// Sign is Acquire's PrivateKey.sign: RSA-PSS, SHA-256, MGF1-SHA-256, maximum salt length
// (222 bytes for RSA-2048). Python's verifier demands exactly that salt length.
func (k *PrivateKey) Sign(msg []byte) ([]byte, error) {
	h := sha256.Sum256(msg)
	return rsa.SignPSS(rand.Reader, k.key, stdcrypto.SHA256, h[:],
		&rsa.PSSOptions{SaltLength: k.pub.pssSaltLength()})
}

// MarshalPEM returns the unencrypted PKCS#8 "PRIVATE KEY" PEM. It is not an Acquire format;
// use it only for tests or in-memory hand-over, never for storage.
func (k *PrivateKey) MarshalPEM() []byte {
	der, err := x509.MarshalPKCS8PrivateKey(k.key)
	if err != nil { // impossible for a key that passed newPrivateKey
		panic(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

// ParsePrivatePEM reads an unencrypted "PRIVATE KEY" (PKCS#8) or "RSA PRIVATE KEY" (PKCS#1) PEM.
func ParsePrivatePEM(pemText []byte) (*PrivateKey, error) {
	block, _ := pem.Decode(pemText)
	if block == nil {
		return nil, errorf(ErrKey, "no PEM block")
	}
	switch block.Type {
	case "PRIVATE KEY":
		return parsePKCS8DER(block.Bytes)
	case "RSA PRIVATE KEY":
		k, err := x509.ParsePKCS1PrivateKey(block.Bytes)
		if err != nil {
			return nil, errorf(ErrKey, "malformed PKCS#1 private key")
		}
		return newPrivateKey(k)
	}
	return nil, errorf(ErrKey, "unexpected PEM type %q", block.Type)
}

func parsePKCS8DER(der []byte) (*PrivateKey, error) {
	k, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, errorf(ErrKey, "malformed PKCS#8 private key")
	}
	rk, ok := k.(*rsa.PrivateKey)
	if !ok {
		return nil, errorf(ErrKey, "not an RSA private key")
	}
	return newPrivateKey(rk)
}

// PEM is the SubjectPublicKeyInfo "PUBLIC KEY" PEM, byte-identical to Acquire's. The
// returned slice is shared; do not modify it.
func (p *PublicKey) PEM() []byte { return p.pem }

// Fingerprint is Acquire's PublicKey.fingerprint: MD5 of the PEM text, "aa:bb:..".
func (p *PublicKey) Fingerprint() string { return p.fingerprint }

// ParsePublicPEM reads a "PUBLIC KEY" (or PKCS#1 "RSA PUBLIC KEY") PEM. The fingerprint is
// computed over the canonical re-encoding, as Acquire's is.
func ParsePublicPEM(pemText []byte) (*PublicKey, error) {
	block, _ := pem.Decode(pemText)
	if block == nil {
		return nil, errorf(ErrKey, "no PEM block")
	}
	var k any
	var err error
	switch block.Type {
	case "PUBLIC KEY":
		k, err = x509.ParsePKIXPublicKey(block.Bytes)
	case "RSA PUBLIC KEY":
		k, err = x509.ParsePKCS1PublicKey(block.Bytes)
	default:
		return nil, errorf(ErrKey, "unexpected PEM type %q", block.Type)
	}
	if err != nil {
		return nil, errorf(ErrKey, "malformed public key")
	}
	rk, ok := k.(*rsa.PublicKey)
	if !ok {
		return nil, errorf(ErrKey, "not an RSA public key")
	}
	return newPublicKey(rk)
}

// Encrypt is Acquire's PublicKey.encrypt: plain OAEP-SHA-256 when the message fits (190 bytes
// for RSA-2048), otherwise OAEP(fresh Fernet key text) followed by the Fernet token text.
func (p *PublicKey) Encrypt(msg []byte) ([]byte, error) {
	if len(msg) > MaxMessageBytes {
		return nil, ErrTooLong
	}
	if len(msg) <= p.key.Size()-oaepHashOverhead {
		return rsa.EncryptOAEP(sha256.New(), rand.Reader, p.key, msg, nil)
	}
	fk, err := NewFernetKey()
	if err != nil {
		return nil, err
	}
	wrapped, err := rsa.EncryptOAEP(sha256.New(), rand.Reader, p.key, []byte(fk.String()), nil)
	if err != nil {
		return nil, err
	}
	token, err := fk.Encrypt(msg)
	if err != nil {
		return nil, err
	}
	return append(wrapped, token...), nil
}

// Verify checks an Acquire PSS signature. Like Acquire it requires the maximum salt length,
// so signatures made with a hash-length salt are refused.
func (p *PublicKey) Verify(msg, sig []byte) error {
	h := sha256.Sum256(msg)
	err := rsa.VerifyPSS(p.key, stdcrypto.SHA256, h[:], sig, &rsa.PSSOptions{SaltLength: p.pssSaltLength()})
	if err != nil {
		return ErrSignature
	}
	return nil
}

// pssSaltLength is PSS.MAX_LENGTH: emLen - hLen - 2, with emLen = ceil((modBits-1)/8).
func (p *PublicKey) pssSaltLength() int {
	return (p.key.N.BitLen()-1+7)/8 - sha256.Size - 2
}

// Equal reports whether both are the same public key.
func (p *PublicKey) Equal(o *PublicKey) bool {
	if p == nil || o == nil {
		return p == o
	}
	return p.key.Equal(o.key)
}
