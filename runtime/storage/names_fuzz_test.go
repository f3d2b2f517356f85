package storage_test

import (
	"errors"
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/openacquire/acquire/runtime/call"
	"github.com/openacquire/acquire/runtime/storage"
	"github.com/openacquire/acquire/runtime/store"
)

// FuzzCleanName: a name CleanName accepts is already clean (cleaning it again
// changes nothing), never climbs, holds no control character or backslash,
// and makes a valid store key segment; a refusal is InvalidNameError.
func FuzzCleanName(f *testing.F) {
	for _, s := range []string{"a.txt", "/a/../b", "./x", "a//b", "../../x", "..", "a\\b", "a\x1bb",
		"r\u202efdp.exe", "zero\u200bwidth", "line\u2028sep", "a\u2215b", "caf\u00e9", "cafe\u0301", "\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		out, err := storage.CleanName(name)
		if err != nil {
			var ce *call.Error
			if !errors.As(err, &ce) || ce.Class != storage.ErrInvalidName.Class {
				t.Fatalf("CleanName(%q): untyped error %v", name, err)
			}
			return
		}
		again, err := storage.CleanName(out)
		if err != nil || again != out {
			t.Fatalf("CleanName(%q) = %q, not a fixed point (%q, %v)", name, out, again, err)
		}
		if !utf8.ValidString(out) || strings.ContainsAny(out, "\\\x00") || strings.HasPrefix(out, "/") {
			t.Fatalf("CleanName(%q) = %q", name, out)
		}
		for seg := range strings.SplitSeq(out, "/") {
			if seg == ".." || seg == "." || seg == "" {
				t.Fatalf("CleanName(%q) = %q keeps segment %q", name, out, seg)
			}
		}
		if err := store.ValidateKey("files/" + store.EncodeName(out)); err != nil && len(out) < 200 {
			t.Fatalf("CleanName(%q) = %q does not make a key: %v", name, out, err)
		}
	})
}

// FuzzParsePARLink: an accepted link splits into a service URL that parses,
// an id without '/', and a non-empty secret that came after the first '#';
// a refusal is PARInvalidError and never echoes the secret.
func FuzzParsePARLink(f *testing.F) {
	for _, s := range []string{"https://h/storage/par/0123456789abcdef0123456789abcdef#s3cret",
		"http://127.0.0.1:8080/storage/par/x#y", "/par/x#y", "https://h/par/#y", "https://h/par/a/b#y",
		"https://h/par/a", "https://h/par/a#", "%zz/par/a#b", "https://h/par/a#b#c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, link string) {
		svc, key, err := storage.ParsePARLink(link)
		if err != nil {
			var ce *call.Error
			if !errors.As(err, &ce) || ce.Class != storage.ErrPARInvalid.Class {
				t.Fatalf("ParsePARLink(%q): untyped error %v", link, err)
			}
			_, _, plain := storage.ParsePARLink("")
			if _, secret, ok := strings.Cut(link, "#"); ok && strings.Contains(err.Error(), secret) && !strings.Contains(plain.Error(), secret) {
				t.Fatalf("the refusal of %q repeats its secret: %v", link, err)
			}
			return
		}
		if _, perr := url.Parse(svc); perr != nil || key.ID == "" || strings.Contains(key.ID, "/") || key.Secret == "" {
			t.Fatalf("ParsePARLink(%q) = %q, %+v", link, svc, key)
		}
		if _, secret, _ := strings.Cut(link, "#"); secret != key.Secret {
			t.Fatalf("ParsePARLink(%q): secret %q is not what follows the first '#'", link, key.Secret)
		}
	})
}
