package crypto

import (
	"encoding/base64"
	"testing"
	"time"
)

// FuzzFernet: a Fernet key text either parses or is refused with ErrKey; a
// token either decrypts or is refused with ErrDecrypt/ErrTooLong; and only
// the canonical text of a token decrypts, so one token cannot be spelt two
// ways (the replay marker of a request relies on it).
func FuzzFernet(f *testing.F) {
	v := seedVectors(f)
	for _, fv := range v.Fernet.Vectors {
		f.Add(fv.Key, fv.Token)
		f.Add(fv.Key, fv.Token[:20]+"\n"+fv.Token[20:])
		f.Add(fv.Key, fv.Token+"\r\n")
	}
	f.Fuzz(func(t *testing.T, keyText, token string) {
		key, err := ParseFernetKey(keyText)
		if err != nil {
			wantSentinel(t, "ParseFernetKey", err, ErrKey, ErrEncoding)
			return
		}
		plain, err := key.Decrypt(token)
		if err != nil {
			wantSentinel(t, "Decrypt", err, ErrDecrypt, ErrTooLong)
			return
		}
		raw, derr := base64.URLEncoding.DecodeString(token)
		if derr != nil || base64.URLEncoding.EncodeToString(raw) != token {
			t.Fatalf("Decrypt accepted the non-canonical token text %q", token)
		}
		var iv [16]byte
		copy(iv[:], raw[9:25])
		ts := time.Unix(int64(bytesToUint64(raw[1:9])), 0)
		if again := key.EncryptWith(plain, ts, iv); again != token {
			t.Fatalf("re-encrypting the plaintext with the token's time and IV gives another token")
		}
	})
}

func bytesToUint64(b []byte) uint64 {
	var n uint64
	for _, c := range b {
		n = n<<8 | uint64(c)
	}
	return n
}
