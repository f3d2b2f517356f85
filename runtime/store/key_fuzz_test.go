package store

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzValidateKey: a key ValidateKey accepts is a relative path that stays
// inside any folder it is joined to, on every backend; a refusal is always
// ErrInvalidKey.
func FuzzValidateKey(f *testing.F) {
	for _, s := range []string{"a", "a/b", "../x", "a/../b", "/a", "a/", "a//b", ".", "a\\b", "a\x00b",
		"ledger/accounts/x/items/0000000001", "\u0085", "é/ü", strings.Repeat("k", MaxKeyBytes+1)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, key string) {
		err := ValidateKey(key)
		if err != nil {
			if !errors.Is(err, ErrInvalidKey) {
				t.Fatalf("ValidateKey(%q): untyped error %v", key, err)
			}
			return
		}
		if !utf8.ValidString(key) || len(key) > MaxKeyBytes || strings.HasPrefix(key, "/") || strings.ContainsRune(key, '\\') {
			t.Fatalf("ValidateKey accepted %q", key)
		}
		root := filepath.FromSlash("/srv/bucket")
		joined := filepath.Join(root, filepath.FromSlash(key))
		if joined == root || !strings.HasPrefix(joined, root+string(filepath.Separator)) {
			t.Fatalf("key %q escapes its folder: %s", key, joined)
		}
		if filepath.ToSlash(strings.TrimPrefix(joined, root+string(filepath.Separator))) != key {
			t.Fatalf("key %q is not already clean: the store would name another object", key)
		}
	})
}
