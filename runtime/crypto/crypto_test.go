package crypto

import (
	stdcrypto "crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base32"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

var (
	testKeyOnce sync.Once
	testKeyVal  *PrivateKey
	testKeyErr  error
)

// testKey is one generated key shared by tests and benchmarks (generation costs ~100 ms).
func testKey(tb testing.TB) *PrivateKey {
	tb.Helper()
	testKeyOnce.Do(func() { testKeyVal, testKeyErr = GenerateKey() })
	if testKeyErr != nil {
		tb.Fatal(testKeyErr)
	}
	return testKeyVal
}

func TestGenerateKey(t *testing.T) {
	k := testKey(t)
	if k.key.N.BitLen() != RSABits || k.key.E != 65537 {
		t.Fatalf("bits %d e %d", k.key.N.BitLen(), k.key.E)
	}
	// A key assembled without precomputation (as a hand-built one would be) is precomputed.
	bare := &rsa.PrivateKey{PublicKey: k.key.PublicKey, D: k.key.D, Primes: k.key.Primes}
	if _, err := newPrivateKey(bare); err != nil || bare.Precomputed.Dp == nil {
		t.Fatalf("key not precomputed: %v", err)
	}
	if k.Fingerprint() != k.Public().Fingerprint() || !regexp.MustCompile(`^([0-9a-f]{2}:){15}[0-9a-f]{2}$`).MatchString(k.Fingerprint()) {
		t.Fatalf("fingerprint %q", k.Fingerprint())
	}
	if k.Fingerprint() != colonFingerprint(k.Public().PEM()) {
		t.Fatalf("fingerprint is not the MD5 of the PEM text")
	}
}

func TestEncryptDecryptRoundTrip(t *testing.T) {
	k := testKey(t)
	for _, n := range []int{0, 1, 190, 191, 10000} {
		t.Run(itoa(int64(n)), func(t *testing.T) {
			msg := make([]byte, n)
			_, _ = rand.Read(msg)
			ct, err := k.Public().Encrypt(msg)
			if err != nil {
				t.Fatal(err)
			}
			// Up to 190 bytes is plain OAEP; beyond, the hybrid form is longer than the key.
			if (n <= 190) != (len(ct) == 256) {
				t.Fatalf("%d-byte message gave %d-byte ciphertext", n, len(ct))
			}
			got, err := k.Decrypt(ct)
			if err != nil || string(got) != string(msg) {
				t.Fatalf("Decrypt: %v", err)
			}
		})
	}
}

func TestDecryptTampered(t *testing.T) {
	k := testKey(t)
	short, _ := k.Public().Encrypt([]byte("short"))
	long, _ := k.Public().Encrypt([]byte(strings.Repeat("long message ", 40)))
	flip := func(b []byte, i int) []byte {
		c := append([]byte{}, b...)
		c[i] ^= 1
		return c
	}
	other, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string][]byte{
		"oaep bit":           flip(short, 17),
		"hybrid oaep bit":    flip(long, 3),
		"hybrid token char":  flip(long, len(long)-5),
		"hybrid token cut":   long[:len(long)-4],
		"shorter than key":   short[:255],
		"empty":              nil,
		"hybrid without key": long[256:],
	}
	for name, ct := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := k.Decrypt(ct); !errors.Is(err, ErrDecrypt) {
				t.Fatalf("err = %v, want ErrDecrypt", err)
			}
		})
	}
	t.Run("wrong key", func(t *testing.T) {
		if _, err := other.Decrypt(long); !errors.Is(err, ErrDecrypt) {
			t.Fatalf("err = %v, want ErrDecrypt", err)
		}
	})
}

func TestEncryptDecryptLimits(t *testing.T) {
	k := testKey(t)
	big := make([]byte, MaxMessageBytes+1)
	if _, err := k.Public().Encrypt(big); !errors.Is(err, ErrTooLong) {
		t.Fatalf("Encrypt: err = %v, want ErrTooLong", err)
	}
	if _, err := NewFernetKeyMust(t).Encrypt(big); !errors.Is(err, ErrTooLong) {
		t.Fatalf("Fernet Encrypt: err = %v, want ErrTooLong", err)
	}
	if _, err := NewFernetKeyMust(t).Decrypt(strings.Repeat("A", maxTokenTextBytes+1)); !errors.Is(err, ErrTooLong) {
		t.Fatalf("Fernet Decrypt: err = %v, want ErrTooLong", err)
	}
	huge := make([]byte, 256+maxTokenTextBytes+1)
	if _, err := k.Decrypt(huge); !errors.Is(err, ErrTooLong) {
		t.Fatalf("Decrypt: err = %v, want ErrTooLong", err)
	}
}

func NewFernetKeyMust(t *testing.T) FernetKey {
	t.Helper()
	k, err := NewFernetKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestSignVerify(t *testing.T) {
	k := testKey(t)
	msg := []byte("transfer 100.00 from a to b")
	sig, err := k.Sign(msg)
	if err != nil {
		t.Fatal(err)
	}
	if err := k.Public().Verify(msg, sig); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	bad := append([]byte{}, sig...)
	bad[100] ^= 0x10
	if err := k.Public().Verify(msg, bad); !errors.Is(err, ErrSignature) {
		t.Fatalf("tampered signature: err = %v", err)
	}
	if err := k.Public().Verify(append(msg, '!'), sig); !errors.Is(err, ErrSignature) {
		t.Fatalf("tampered message: err = %v", err)
	}
	if err := k.Public().Verify(msg, sig[:255]); !errors.Is(err, ErrSignature) {
		t.Fatalf("short signature: err = %v", err)
	}
}

// Python Acquire verifies with PSS.MAX_LENGTH, i.e. exactly a 222-byte salt for RSA-2048.
func TestSignSaltLengthIs222(t *testing.T) {
	k := testKey(t)
	msg := []byte("salt length")
	sig, err := k.Sign(msg)
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.Sum256(msg)
	if err := rsa.VerifyPSS(&k.key.PublicKey, stdcrypto.SHA256, h[:], sig, &rsa.PSSOptions{SaltLength: 222}); err != nil {
		t.Fatalf("signature salt is not 222 bytes: %v", err)
	}
	if err := rsa.VerifyPSS(&k.key.PublicKey, stdcrypto.SHA256, h[:], sig, &rsa.PSSOptions{SaltLength: 221}); err == nil {
		t.Fatalf("signature also verified with a 221-byte salt")
	}
	// And like Acquire we refuse the hash-length salt other libraries default to.
	short, err := rsa.SignPSS(rand.Reader, k.key, stdcrypto.SHA256, h[:], &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
	if err != nil {
		t.Fatal(err)
	}
	if err := k.Public().Verify(msg, short); !errors.Is(err, ErrSignature) {
		t.Fatalf("32-byte-salt signature: err = %v, want ErrSignature", err)
	}
}

func TestPEMRoundTrips(t *testing.T) {
	k := testKey(t)
	back, err := ParsePrivatePEM(k.MarshalPEM())
	if err != nil || !back.Public().Equal(k.Public()) || back.Fingerprint() != k.Fingerprint() {
		t.Fatalf("ParsePrivatePEM: %v", err)
	}
	pub, err := ParsePublicPEM(k.Public().PEM())
	if err != nil || !pub.Equal(k.Public()) || string(pub.PEM()) != string(k.Public().PEM()) {
		t.Fatalf("ParsePublicPEM: %v", err)
	}
	// PKCS#1 "RSA PUBLIC KEY" is read too, and re-encoded in Acquire's SPKI form.
	pkcs1 := pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(&k.key.PublicKey)})
	if pub, err = ParsePublicPEM(pkcs1); err != nil || string(pub.PEM()) != string(k.Public().PEM()) {
		t.Fatalf("ParsePublicPEM(PKCS#1): %v", err)
	}
	enc, err := k.MarshalEncryptedPEM("Str0ngPassphrase")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(enc), "-----BEGIN ENCRYPTED PRIVATE KEY-----\n") {
		t.Fatalf("unexpected PEM header: %.40q", enc)
	}
	back, err = ParseEncryptedPEM(enc, "Str0ngPassphrase")
	if err != nil || !back.Public().Equal(k.Public()) {
		t.Fatalf("ParseEncryptedPEM: %v", err)
	}
	// Decryption works with the re-read key: the private half really round-tripped.
	ct, _ := k.Public().Encrypt([]byte("x"))
	if pt, err := back.Decrypt(ct); err != nil || string(pt) != "x" {
		t.Fatalf("re-read key cannot decrypt: %v", err)
	}
	if k.Public().Equal(nil) || !(*PublicKey)(nil).Equal(nil) {
		t.Fatalf("Equal with nil")
	}
}

func TestWrongPassphrase(t *testing.T) {
	k := testKey(t)
	enc, err := k.MarshalEncryptedPEM("Str0ngPassphrase")
	if err != nil {
		t.Fatal(err)
	}
	_, err = ParseEncryptedPEM(enc, "Str0ngPassphrasf")
	if !errors.Is(err, ErrKey) {
		t.Fatalf("err = %v, want ErrKey", err)
	}
	if strings.Contains(err.Error(), "Str0ng") {
		t.Fatalf("error message leaks the passphrase: %v", err)
	}
	data, err := SymmetricKeyToData(NewFernetKeyMust(t), "Str0ngPassphrase")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := SymmetricKeyFromData(data, "Str0ngPassphrasf"); !errors.Is(err, ErrKey) {
		t.Fatalf("SymmetricKeyFromData: err = %v, want ErrKey", err)
	}
}

func TestParseKeyRejects(t *testing.T) {
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := newPrivateKey(small); !errors.Is(err, ErrKey) {
		t.Fatalf("1024-bit private key: err = %v, want ErrKey", err)
	}
	cases := map[string]string{
		"garbage":        "not a pem",
		"wrong type":     "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
		"bad der":        "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
		"private as pub": string(testKey(t).MarshalPEM()),
	}
	for name, text := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := ParsePublicPEM([]byte(text)); !errors.Is(err, ErrKey) {
				t.Fatalf("ParsePublicPEM: err = %v, want ErrKey", err)
			}
			if name != "private as pub" {
				if _, err := ParsePrivatePEM([]byte(text)); !errors.Is(err, ErrKey) {
					t.Fatalf("ParsePrivatePEM: err = %v, want ErrKey", err)
				}
			}
		})
	}
}

func TestCheckPassphrase(t *testing.T) {
	cases := map[string]bool{
		"Ab1":      false, // too short
		"Abcdef1":  true,
		"abcdef12": false, // no upper case
		"ABCDEF12": false, // no lower case
		"Abcdefgh": false, // no digit
		"a long lowercase passphrase over 24 chars": true,  // 24+ characters need no mix
		"abcdefghijklmnopqrstuvwx":                  true,  // exactly 24
		"abcdefghijklmnopqrstuvw":                   false, // 23, without the mix
		strings.Repeat("Ab1", 17):                   false, // 51 characters
		"Ünïcödé-Pässwörd-1":                        true,
	}
	for p, ok := range cases {
		err := CheckPassphrase(p)
		if (err == nil) != ok || (err != nil && !errors.Is(err, ErrWeakPassphrase)) {
			t.Errorf("CheckPassphrase(%q) = %v, want ok=%v", p, err, ok)
		}
	}
	if _, err := testKey(t).MarshalEncryptedPEM("weak"); !errors.Is(err, ErrWeakPassphrase) {
		t.Errorf("MarshalEncryptedPEM(weak): err = %v", err)
	}
	if _, err := SymmetricKeyToData(FernetKey{}, "weak"); !errors.Is(err, ErrWeakPassphrase) {
		t.Errorf("SymmetricKeyToData(weak): err = %v", err)
	}
}

func TestFernet(t *testing.T) {
	k := NewFernetKeyMust(t)
	if len(k.String()) != 44 {
		t.Fatalf("key text %d chars", len(k.String()))
	}
	before := time.Now().Unix()
	a, err := k.Encrypt([]byte("same"))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := k.Encrypt([]byte("same"))
	if a == b {
		t.Fatalf("two encryptions gave the same token: IV not random")
	}
	raw, _ := decodeURL(a)
	if ts := int64(binaryBE(raw[1:9])); ts < before || ts > time.Now().Unix() {
		t.Fatalf("token timestamp %d is not now", ts)
	}
	if pt, err := k.Decrypt(a); err != nil || string(pt) != "same" {
		t.Fatalf("Decrypt: %v", err)
	}
	if _, err := NewFernetKeyMust(t).Decrypt(a); !errors.Is(err, ErrDecrypt) {
		t.Fatalf("wrong key: err = %v", err)
	}
}

func TestFernetTampered(t *testing.T) {
	k := NewFernetKeyMust(t)
	token := k.EncryptWith([]byte("sixteen byte msg and more"), time.Unix(1700000000, 0), [16]byte{1})
	raw, _ := decodeURL(token)
	// One flip in each region: version, timestamp, IV, ciphertext, HMAC.
	for _, i := range []int{0, 4, 12, 30, len(raw) - 1} {
		c := append([]byte{}, raw...)
		c[i] ^= 0x01
		if _, err := k.Decrypt(encodeURL(c)); !errors.Is(err, ErrDecrypt) {
			t.Errorf("flip at %d: err = %v, want ErrDecrypt", i, err)
		}
	}
	for name, bad := range map[string]string{
		"truncated": token[:len(token)-8], "not base64": token[:20] + "!" + token[21:], "empty": "",
		"no ciphertext": encodeURL(append(raw[:25:25], raw[len(raw)-32:]...)),
	} {
		if _, err := k.Decrypt(bad); !errors.Is(err, ErrDecrypt) {
			t.Errorf("%s: err = %v, want ErrDecrypt", name, err)
		}
	}
}

// A forged token with a valid MAC but bad padding is still refused: padding is checked.
func TestFernetBadPaddingWithValidMAC(t *testing.T) {
	k := NewFernetKeyMust(t)
	raw := make([]byte, 25, 25+16+32) // version, timestamp 0, IV all zero
	raw[0] = fernetVersion
	// With a zero IV one CBC block is plain AES, so this decrypts to a block ending in 0x00,
	// which is never valid PKCS#7 padding.
	block := make([]byte, 16)
	k.block().Encrypt(block, []byte("0123456789abcde\x00"))
	raw = append(raw, block...)
	raw = append(raw, k.mac(raw)...)
	if _, err := k.Decrypt(encodeURL(raw)); !errors.Is(err, ErrDecrypt) {
		t.Fatalf("err = %v, want ErrDecrypt", err)
	}
}

func TestParseFernetKey(t *testing.T) {
	var k FernetKey
	for i := range k {
		k[i] = 0xfb // encodes to "-_" in url-safe base64, "+/" in standard
	}
	if !strings.ContainsAny(k.String(), "-_") {
		t.Fatalf("fixture key text %q has no url-safe characters", k)
	}
	for _, text := range []string{k.String(), toStd(k.String())} {
		got, err := ParseFernetKey(text)
		if err != nil || got != k {
			t.Fatalf("ParseFernetKey(%q) = %v", text, err)
		}
	}
	for _, bad := range []string{"", k.String()[:43], k.String() + "=", strings.Repeat("!", 44)} {
		if _, err := ParseFernetKey(bad); !errors.Is(err, ErrKey) {
			t.Errorf("ParseFernetKey(%q): err = %v, want ErrKey", bad, err)
		}
	}
}

func TestB64(t *testing.T) {
	b := []byte{0xfb, 0xff, 0x00}
	if B64(b) != "+/8A" {
		t.Fatalf("B64 = %s", B64(b))
	}
	if got, err := UnB64("+/8A"); err != nil || string(got) != string(b) {
		t.Fatalf("UnB64: %v", err)
	}
	for _, bad := range []string{"-_8A", "YQ", "YQ=", "YR==", "Y Q==", "YQ==\n"} {
		if _, err := UnB64(bad); !errors.Is(err, ErrEncoding) {
			t.Errorf("UnB64(%q): err = %v, want ErrEncoding", bad, err)
		}
	}
}

func TestPasswords(t *testing.T) {
	enc, err := HashPassword("correct horse", DefaultPasswordParams)
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^\$argon2id\$v=19\$m=19456,t=2,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$`).MatchString(enc) {
		t.Fatalf("PHC string %q", enc)
	}
	if ok, err := VerifyPassword(enc, "correct horse"); !ok || err != nil {
		t.Fatalf("right password: %v, %v", ok, err)
	}
	if ok, err := VerifyPassword(enc, "correct horsf"); ok || err != nil {
		t.Fatalf("wrong password: %v, %v", ok, err)
	}
	// Flipping only the last byte of the stored hash must fail: the whole hash is compared.
	i := strings.LastIndexByte(enc, '$')
	sum, _ := base64.RawStdEncoding.DecodeString(enc[i+1:])
	sum[len(sum)-1] ^= 1
	if ok, err := VerifyPassword(enc[:i+1]+base64.RawStdEncoding.EncodeToString(sum), "correct horse"); ok || err != nil {
		t.Fatalf("tampered hash: %v, %v", ok, err)
	}
	if again, _ := HashPassword("correct horse", DefaultPasswordParams); again == enc {
		t.Fatalf("salt is not random")
	}
	long := strings.Repeat("x", MaxPasswordBytes+1)
	if _, err := HashPassword(long, DefaultPasswordParams); !errors.Is(err, ErrTooLong) {
		t.Fatalf("long password: %v", err)
	}
	if _, err := VerifyPassword(enc, long); !errors.Is(err, ErrTooLong) {
		t.Fatalf("long password verify: %v", err)
	}
}

func TestPasswordParamsBounds(t *testing.T) {
	weak := []PasswordParams{
		{MemoryKiB: 19455, Passes: 2, Lanes: 1, SaltBytes: 16, KeyBytes: 32},
		{MemoryKiB: 19456, Passes: 1, Lanes: 1, SaltBytes: 16, KeyBytes: 32},
		{MemoryKiB: 19456, Passes: 2, Lanes: 0, SaltBytes: 16, KeyBytes: 32},
		{MemoryKiB: 19456, Passes: 2, Lanes: 1, SaltBytes: 8, KeyBytes: 32},
		{MemoryKiB: 19456, Passes: 2, Lanes: 1, SaltBytes: 16, KeyBytes: 8},
		{MemoryKiB: 256<<10 + 1, Passes: 2, Lanes: 1, SaltBytes: 16, KeyBytes: 32},
		{MemoryKiB: 19456, Passes: 1000, Lanes: 1, SaltBytes: 16, KeyBytes: 32},
	}
	for _, p := range weak {
		if _, err := HashPassword("pw", p); !errors.Is(err, ErrPasswordHash) {
			t.Errorf("HashPassword(%+v): err = %v, want ErrPasswordHash", p, err)
		}
	}
	salt, sum := "c2FsdHNhbHRzYWx0c2FsdA", "aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g"
	bad := []string{
		"$argon2id$v=19$m=1024,t=2,p=1$" + salt + "$" + sum,    // below minimum memory
		"$argon2id$v=19$m=19456,t=1,p=1$" + salt + "$" + sum,   // one pass
		"$argon2id$v=19$m=9999999,t=2,p=1$" + salt + "$" + sum, // absurd memory
		"$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$" + sum,         // 4-byte salt
		"$argon2i$v=19$m=19456,t=2,p=1$" + salt + "$" + sum,    // wrong variant
		"$argon2id$v=16$m=19456,t=2,p=1$" + salt + "$" + sum,   // old version
		"$argon2id$v=19$m=+19456,t=2,p=1$" + salt + "$" + sum,  // non-canonical
		"$argon2id$v=19$m=19456,t=2,p=1$" + salt + "$" + sum + "=",
		"$argon2id$v=19$m=19456,t=2,p=1$" + salt,
		"",
	}
	for _, enc := range bad {
		if ok, err := VerifyPassword(enc, "pw"); ok || !errors.Is(err, ErrPasswordHash) {
			t.Errorf("VerifyPassword(%q) = %v, %v; want ErrPasswordHash", enc, ok, err)
		}
	}
}

func TestTOTP(t *testing.T) {
	secret, err := NewTOTPSecret()
	if err != nil {
		t.Fatal(err)
	}
	raw, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(secret)
	if err != nil || len(raw) != 20 || len(secret) != 32 || strings.ToUpper(secret) != secret {
		t.Fatalf("secret %q: %v", secret, err)
	}
	// A fixed secret keeps the window checks deterministic (random ones collide 1 in 10^6).
	const fixed = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
	now := time.Unix(1700000015, 0)
	T := now.Unix() / 30
	for d := int64(-3); d <= 3; d++ {
		code, err := TOTPCode(fixed, time.Unix((T+d)*30, 0))
		if err != nil {
			t.Fatal(err)
		}
		step, ok := TOTPMatch(fixed, code, now)
		if inWindow := d >= -1 && d <= 1; ok != inWindow || (ok && step != T+d) {
			t.Errorf("offset %d: step %d ok %v", d, step, ok)
		}
	}
	for _, bad := range []string{"", "12345", "1234567", "12345a", " 12345"} {
		if _, ok := TOTPMatch(fixed, bad, now); ok {
			t.Errorf("TOTPMatch accepted %q", bad)
		}
	}
	if _, err := TOTPCode("not base32!", now); !errors.Is(err, ErrTOTP) {
		t.Errorf("bad secret: err = %v", err)
	}
	if _, ok := TOTPMatch("not base32!", "123456", now); ok {
		t.Errorf("bad secret matched")
	}
	if _, err := TOTPCode(fixed, time.Unix(-1, 0)); !errors.Is(err, ErrTOTP) {
		t.Errorf("pre-epoch time: err = %v", err)
	}
}

func TestFirstMatch(t *testing.T) {
	wants := []string{"111111", "222222", "111111"}
	for code, want := range map[string]int{"111111": 0, "222222": 1} {
		if i, ok := firstMatch(wants, code); !ok || i != want {
			t.Errorf("firstMatch(%s) = %d, %v; want %d", code, i, ok, want)
		}
	}
	if _, ok := firstMatch(wants, "333333"); ok {
		t.Errorf("firstMatch matched an absent code")
	}
}

// The returned step is what makes "a code is accepted once" enforceable.
func TestTOTPAcceptedOnce(t *testing.T) {
	secret, _ := NewTOTPSecret()
	now := time.Unix(1800000000, 0)
	code, _ := TOTPCode(secret, now)
	last := int64(0)
	accept := func(at time.Time) bool {
		step, ok := TOTPMatch(secret, code, at)
		if !ok || step <= last {
			return false
		}
		last = step
		return true
	}
	if !accept(now) {
		t.Fatalf("first use refused")
	}
	if accept(now.Add(29 * time.Second)) {
		t.Fatalf("replayed code accepted")
	}
}

func TestProvisioningURIQuoting(t *testing.T) {
	got := TOTPProvisioningURI("ABC", "bob smith/x+y@ex.com", "My Org:1")
	want := "otpauth://totp/My%20Org%3A1:bob%20smith/x%2By%40ex.com?secret=ABC&issuer=My%20Org%3A1"
	if got != want {
		t.Fatalf("URI = %q, want %q", got, want)
	}
}

func TestProtocolHashes(t *testing.T) {
	if MultiMD5("a", "b") != MD5Hex([]byte(MD5Hex([]byte("a"))+MD5Hex([]byte("b")))) {
		t.Fatalf("MultiMD5")
	}
	if ChunkSecret("s", "d", "f", 12) != MultiMD5("s", "df12") {
		t.Fatalf("ChunkSecret")
	}
	if CredentialsEncodePassword("p", "i", "") != MultiMD5("i", "p") {
		t.Fatalf("CredentialsEncodePassword without device")
	}
}

func decodeURL(s string) ([]byte, error) { return base64URL.DecodeString(s) }
func encodeURL(b []byte) string          { return base64URL.EncodeToString(b) }
func toStd(s string) string              { return strings.NewReplacer("-", "+", "_", "/").Replace(s) }

var base64URL = base64.URLEncoding

// Keys are unlocked once per process and shared by all requests, so they must be safe for
// concurrent use (run with -race).
func TestConcurrentUse(t *testing.T) {
	k := testKey(t)
	ct, _ := k.Public().Encrypt([]byte(strings.Repeat("z", 300)))
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := k.Decrypt(ct); err != nil {
				errs <- err
			}
			sig, err := k.Sign([]byte("m"))
			if err == nil {
				err = k.Public().Verify([]byte("m"), sig)
			}
			if err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
