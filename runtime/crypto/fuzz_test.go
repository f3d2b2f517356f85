package crypto

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"testing"
)

// seedVectors gives the fuzz targets the original Acquire's keys and tokens
// as seeds, so mutation starts from real inputs.
func seedVectors(f *testing.F) *vectorFile {
	f.Helper()
	raw, err := os.ReadFile(vectorsPath())
	if err != nil {
		f.Fatal(err)
	}
	var v vectorFile
	if err := json.Unmarshal(raw, &v); err != nil {
		f.Fatal(err)
	}
	return &v
}

func wantSentinel(t *testing.T, what string, err error, sentinels ...error) {
	t.Helper()
	for _, s := range sentinels {
		if errors.Is(err, s) {
			return
		}
	}
	t.Fatalf("%s: untyped error %v", what, err)
}

// FuzzParsePEM: public, private and encrypted PEMs either parse into a key
// whose canonical PEM parses back to the same key, or fail with ErrKey.
func FuzzParsePEM(f *testing.F) {
	v := seedVectors(f)
	for _, k := range v.RSA.Keys {
		f.Add([]byte(k.PublicKeyPEM), k.Passphrase)
		f.Add([]byte(k.PKCS8Unencrypted), "")
		f.Add([]byte(k.PKCS1Unencrypted), "")
		f.Add([]byte(k.PrivateKeyEncryptedPEM), k.Passphrase)
	}
	f.Add([]byte("-----BEGIN PUBLIC KEY-----\n-----END PUBLIC KEY-----\n"), "")
	f.Fuzz(func(t *testing.T, pemText []byte, passphrase string) {
		if pub, err := ParsePublicPEM(pemText); err != nil {
			wantSentinel(t, "ParsePublicPEM", err, ErrKey)
		} else if back, err := ParsePublicPEM(pub.PEM()); err != nil || !back.Equal(pub) || back.Fingerprint() != pub.Fingerprint() {
			t.Fatalf("a public key's canonical PEM does not read back: %v", err)
		}
		if priv, err := ParsePrivatePEM(pemText); err != nil {
			wantSentinel(t, "ParsePrivatePEM", err, ErrKey)
		} else if back, err := ParsePrivatePEM(priv.MarshalPEM()); err != nil || !back.Public().Equal(priv.Public()) {
			t.Fatalf("a private key's canonical PEM does not read back: %v", err)
		}
		if _, err := ParseEncryptedPEM(pemText, passphrase); err != nil {
			wantSentinel(t, "ParseEncryptedPEM", err, ErrKey)
		}
	})
}

// FuzzUnB64: transport base64 is accepted only in its canonical padded form.
func FuzzUnB64(f *testing.F) {
	for _, s := range []string{"", "YQ==", "YQ", "YQ==\n", "Y Q==", "-_8=", "+/8=", "YWJj"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b, err := UnB64(s)
		if err != nil {
			wantSentinel(t, "UnB64", err, ErrEncoding, ErrTooLong)
			return
		}
		if !bytes.Equal([]byte(base64.StdEncoding.EncodeToString(b)), []byte(s)) {
			t.Fatalf("UnB64 accepted non-canonical %q", s)
		}
	})
}
