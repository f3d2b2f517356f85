package crypto

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func TestCheckSecretStrength(t *testing.T) {
	cases := map[string]bool{
		"":                                                false,
		"Aa1!xyz":                                         false, // passes Acquire's passphrase rule, 7 characters
		"Service-Test-Secret":                             false, // 19 characters
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa":                  false, // one distinct character
		"abababababcdcdcdcdcdefefefef":                    false, // 6 distinct
		"abcdefghijklmnopqrst":                            false, // 20 lower-case letters: 94 bits
		"abcdefghij\x1bklmnopqrstuvwxyz":                  false, // control character
		"abcdefghijklmnopqrstu":                           true,  // 21 lower-case letters: 99 bits
		"Service-Test-Secret-42":                          true,
		"0123456789abcdef0123456789abcdef01234567":        true, // generated: 40 hex
		"correct horse battery staple 9f3a":               true,
		"\xff\xfe" + strings.Repeat("abcdefghij", 3):      false, // not UTF-8
		strings.Repeat("abcdefghij", MaxSecretBytes/10+1): false,
	}
	for secret, ok := range cases {
		err := CheckSecretStrength(secret)
		if (err == nil) != ok {
			t.Errorf("CheckSecretStrength(%q) = %v, want ok=%v", secret, err, ok)
		}
		if err != nil && !errors.Is(err, ErrWeakSecret) {
			t.Errorf("CheckSecretStrength(%q) = %v, want ErrWeakSecret", secret, err)
		}
		if err != nil && len(secret) > 3 && strings.Contains(err.Error(), secret) {
			t.Errorf("the error names the secret: %v", err)
		}
	}
}

func TestStretchSecret(t *testing.T) {
	salt := bytes.Repeat([]byte{7}, 16)
	a, err := StretchSecret("Service-Test-Secret-42", salt, DefaultPasswordParams)
	if err != nil || len(a) != 32 {
		t.Fatalf("StretchSecret: %d bytes, %v", len(a), err)
	}
	b, _ := StretchSecret("Service-Test-Secret-42", bytes.Repeat([]byte{8}, 16), DefaultPasswordParams)
	c, _ := StretchSecret("Service-Test-Secret-43", salt, DefaultPasswordParams)
	if bytes.Equal(a, b) || bytes.Equal(a, c) {
		t.Fatal("the root does not depend on both the salt and the secret")
	}
	weak := DefaultPasswordParams
	weak.MemoryKiB = 1024
	if _, err := StretchSecret("Service-Test-Secret-42", salt, weak); !errors.Is(err, ErrPasswordHash) {
		t.Fatalf("weak parameters: err = %v, want ErrPasswordHash", err)
	}
	if _, err := StretchSecret("Service-Test-Secret-42", salt[:8], DefaultPasswordParams); !errors.Is(err, ErrPasswordHash) {
		t.Fatalf("short salt: err = %v, want ErrPasswordHash", err)
	}
}
