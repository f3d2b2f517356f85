package store

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestValidateKey(t *testing.T) {
	good := []string{"a", "a/b", "a.b/c-d_e", "é/€", ".a", "a/..b", "a b", strings.Repeat("k", MaxKeyBytes), "%2F"}
	bad := []string{"", "/x", "x/", "a//b", "a/../b", "./a", "a/.", ".", "..", "a\xff", strings.Repeat("k", MaxKeyBytes+1),
		"a\x00b", "a\tb", "a\x7f", "a\u0085b", "a\\b"}
	for _, k := range good {
		if err := ValidateKey(k); err != nil {
			t.Errorf("ValidateKey(%q) = %v, want nil", k, err)
		}
	}
	for _, k := range bad {
		if err := ValidateKey(k); !errors.Is(err, ErrInvalidKey) {
			t.Errorf("ValidateKey(%q) = %v, want ErrInvalidKey", k, err)
		}
	}
}

func TestValidatePrefix(t *testing.T) {
	for _, p := range []string{"", "a", "a/", "a/b", "a/.", "a/..", "."} {
		if err := validatePrefix(p); err != nil {
			t.Errorf("validatePrefix(%q) = %v", p, err)
		}
	}
	for _, p := range []string{"/", "/a", "a//", "../", "a/./", "a\\", "\xff"} {
		if err := validatePrefix(p); !errors.Is(err, ErrInvalidKey) {
			t.Errorf("validatePrefix(%q) = %v, want ErrInvalidKey", p, err)
		}
	}
}

func TestEncodeNameExamples(t *testing.T) {
	cases := map[string]string{"": "~", "alice": "alice", "a/b": "a%2Fb", "..": "%2E%2E", "é": "%C3%A9", "~": "%7E"}
	for name, want := range cases {
		if got := EncodeName(name); got != want {
			t.Errorf("EncodeName(%q) = %q, want %q", name, got, want)
		}
	}
	for _, seg := range []string{"", "%2f", "%41", "%", "%4", "a/b", "a.b", "%ZZ"} {
		if _, err := DecodeName(seg); !errors.Is(err, ErrInvalidKey) {
			t.Errorf("DecodeName(%q) = %v, want ErrInvalidKey (non-canonical)", seg, err)
		}
	}
}

// FuzzEncodeName: every name yields one valid segment that decodes back,
// and distinct names never share a segment (decoding is a function).
func FuzzEncodeName(f *testing.F) {
	for _, s := range []string{"", ".", "..", "../../x", "/", "a/b", "✓", "\x00", "%41", "~"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		seg := EncodeName(name)
		if strings.Contains(seg, "/") || !utf8.ValidString(seg) {
			t.Fatalf("EncodeName(%q) = %q", name, seg)
		}
		if len(seg) <= MaxKeyBytes {
			if err := ValidateKey(seg); err != nil {
				t.Fatalf("EncodeName(%q) = %q: %v", name, seg, err)
			}
		}
		back, err := DecodeName(seg)
		if err != nil || back != name {
			t.Fatalf("round trip %q -> %q -> %q, %v", name, seg, back, err)
		}
		// Canonical: a decodable segment re-encodes to itself.
		if n, err := DecodeName(name); err == nil && EncodeName(n) != name {
			t.Fatalf("DecodeName accepted non-canonical %q", name)
		}
	})
}
