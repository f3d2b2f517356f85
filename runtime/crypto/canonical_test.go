package crypto

import (
	"errors"
	"strings"
	"testing"
)

// reencodings are the texts a lenient decoder would take for token: every
// one must be refused, since a replay marker keyed on the text would miss it.
func reencodings(token string) map[string]string {
	out := map[string]string{
		"newline":      token[:20] + "\n" + token[20:],
		"crlf":         token[:20] + "\r\n" + token[20:],
		"cr":           token[:20] + "\r" + token[20:],
		"trailing lf":  token + "\n",
		"extra pad":    token + "=",
		"std alphabet": strings.NewReplacer("-", "+", "_", "/").Replace(token),
	}
	if trimmed := strings.TrimRight(token, "="); trimmed != token {
		out["unpadded"] = trimmed
		// Same bytes, other trailing bits: the last data character before the padding
		// carries bits the decoder drops.
		last := trimmed[len(trimmed)-1]
		out["trailing bits"] = trimmed[:len(trimmed)-1] + string(last^1) + token[len(trimmed):]
	}
	for name, text := range out {
		if text == token { // e.g. no url-safe character to swap
			delete(out, name)
		}
	}
	return out
}

// paddedToken makes a token whose text has padding and url-safe characters,
// so every re-encoding in reencodings differs from it.
func paddedToken(t *testing.T, k FernetKey) string {
	t.Helper()
	for i := 0; i < 1000; i++ {
		tok, err := k.Encrypt([]byte(strings.Repeat("p", 1+i%7)))
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasSuffix(tok, "=") && strings.ContainsAny(tok, "-_") {
			return tok
		}
	}
	t.Fatal("no padded token with url-safe characters in 1000 tries")
	return ""
}

func TestFernetRefusesEveryOtherTextOfAToken(t *testing.T) {
	k, err := NewFernetKey()
	if err != nil {
		t.Fatal(err)
	}
	token := paddedToken(t, k)
	if _, err := k.Decrypt(token); err != nil {
		t.Fatalf("canonical token refused: %v", err)
	}
	for name, bad := range reencodings(token) {
		if _, err := k.Decrypt(bad); !errors.Is(err, ErrDecrypt) {
			t.Errorf("%s: Decrypt took a re-encoded token (err %v)", name, err)
		}
	}
}

func TestCiphertextDigestRefusesWhatDecryptRefuses(t *testing.T) {
	k := testKey(t)
	msg := []byte(strings.Repeat("a long request that needs the Fernet layer ", 8))
	ct, err := k.Public().Encrypt(msg)
	if err != nil {
		t.Fatal(err)
	}
	size := k.Public().key.Size() // the OAEP block; the token text follows
	want, err := k.CiphertextDigest(ct)
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := k.CiphertextDigest(append([]byte(nil), ct...)); again != want {
		t.Fatal("digest of the same ciphertext differs")
	}
	for name, bad := range reencodings(string(ct[size:])) {
		text := append(append([]byte(nil), ct[:size]...), bad...)
		if _, err := k.CiphertextDigest(text); !errors.Is(err, ErrDecrypt) {
			t.Errorf("%s: CiphertextDigest took a re-encoded ciphertext (err %v)", name, err)
		}
		if _, err := k.Decrypt(text); err == nil {
			t.Errorf("%s: Decrypt took a re-encoded ciphertext", name)
		}
	}
}

func TestParseFernetKeyRefusesNewlines(t *testing.T) {
	k, _ := NewFernetKey()
	text := k.String()
	for _, bad := range []string{text[:43] + "\n", text[:10] + "\n" + text[11:], text[:10] + "\r" + text[11:]} {
		if _, err := ParseFernetKey(bad); !errors.Is(err, ErrKey) {
			t.Errorf("ParseFernetKey(%q) = %v, want ErrKey", bad, err)
		}
	}
}
