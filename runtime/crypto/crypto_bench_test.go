package crypto

import (
	"testing"
)

// Figures measured on the project's 2-core machines (docs/design/architecture.md): OAEP decrypt ~2.1 ms,
// PSS sign ~1.6 ms, encrypt/verify ~0.06 ms, key generation ~90 ms, argon2id ~48 ms.

func BenchmarkDecryptOAEP(b *testing.B) {
	k := testKey(b)
	ct, err := k.Public().Encrypt([]byte("a short request of under 190 bytes"))
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := k.Decrypt(ct); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecryptHybrid is the real envelope case: OAEP of the Fernet key plus a 2 KiB token.
func BenchmarkDecryptHybrid(b *testing.B) {
	k := testKey(b)
	ct, err := k.Public().Encrypt(make([]byte, 2048))
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := k.Decrypt(ct); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSign(b *testing.B) {
	k := testKey(b)
	msg := make([]byte, 1024)
	for b.Loop() {
		if _, err := k.Sign(msg); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerify(b *testing.B) {
	k := testKey(b)
	msg := make([]byte, 1024)
	sig, err := k.Sign(msg)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if err := k.Public().Verify(msg, sig); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncrypt(b *testing.B) {
	pub := testKey(b).Public()
	msg := []byte("a short request of under 190 bytes")
	for b.Loop() {
		if _, err := pub.Encrypt(msg); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncryptHybrid(b *testing.B) {
	pub := testKey(b).Public()
	msg := make([]byte, 2048)
	for b.Loop() {
		if _, err := pub.Encrypt(msg); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkHashPassword(b *testing.B) {
	for b.Loop() {
		if _, err := HashPassword("correct horse battery staple", DefaultPasswordParams); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkGenerateKey(b *testing.B) {
	for b.Loop() {
		if _, err := GenerateKey(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseEncryptedPEM(b *testing.B) {
	pemText, err := testKey(b).MarshalEncryptedPEM("Str0ngPassphrase")
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := ParseEncryptedPEM(pemText, "Str0ngPassphrase"); err != nil {
			b.Fatal(err)
		}
	}
}
