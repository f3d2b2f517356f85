package drivertest

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/openacquire/acquire/runtime/store"
)

// badKeys must be refused everywhere with ErrInvalidKey.
var badKeys = map[string]string{
	"empty":          "",
	"leading slash":  "/x",
	"trailing slash": "x/",
	"empty segment":  "a//b",
	"dotdot":         "a/../b",
	"leading dot":    "./a",
	"trailing dot":   "a/.",
	"only dotdot":    "..",
	"invalid UTF-8":  "a\xff",
	"1025 bytes":     strings.Repeat("k", store.MaxKeyBytes+1),
	"NUL":            "a\x00b",
	"control":        "a\nb",
	"backslash":      "a\\b",
}

func (s *suite) testInvalidKeys(t *testing.T, b *store.Bucket) {
	v, err := b.Put(ctx(t), "good", []byte("x"))
	must(t, "Put good", err)
	for name, k := range badKeys {
		t.Run(name, func(t *testing.T) {
			c := ctx(t)
			ops := map[string]error{}
			_, _, ops["Get"] = b.Get(c, k)
			_, ops["Put"] = b.Put(c, k, []byte("x"))
			_, ops["PutIfAbsent"] = b.PutIfAbsent(c, k, []byte("x"))
			_, ops["PutIfVersion"] = b.PutIfVersion(c, k, []byte("x"), v)
			ops["Delete"] = b.Delete(c, k)
			ops["DeleteIfVersion"] = b.DeleteIfVersion(c, k, v)
			_, ops["Update"] = b.Update(c, k, 1, func([]byte, bool) ([]byte, error) { return []byte("x"), nil })
			_, ops["SignedURL"] = b.SignedURL(c, k, "GET", time.Minute)
			for op, err := range ops {
				wantErr(t, op, err, store.ErrInvalidKey)
			}
		})
	}
	// Nothing may have been written by any refused call.
	wantKeys(t, "after bad keys", listKeys(t, b, "", 1000), []string{"good"})
}

func (s *suite) testInvalidPrefixes(t *testing.T, b *store.Bucket) {
	for _, p := range []string{"/x", "a//", "../", "a/../", "./", "a\\", "a\x00", "\xff"} {
		_, err := b.List(ctx(t), p, "", 10)
		wantErr(t, "List "+p, err, store.ErrInvalidKey)
	}
}

func (s *suite) testMaxKey(t *testing.T, b *store.Bucket) {
	k := strings.Repeat("m", store.MaxKeyBytes)
	v, err := b.PutIfAbsent(ctx(t), k, []byte("max"))
	must(t, "PutIfAbsent 1024-byte key", err)
	wantData(t, b, k, []byte("max"), v)
	wantKeys(t, "list max key", listKeys(t, b, "mmm", 10), []string{k})
}

// testEncodeName: any user name becomes one segment that cannot escape or
// split its prefix, and comes back unchanged.
func (s *suite) testEncodeName(t *testing.T, b *store.Bucket) {
	names := []string{
		"../../x", "/", "a/b", "", ".", "..", "unicode ✓ ünï", "a\\b", "a\x00b",
		"\xff\xfe", "~", "%41", "UPPER lower", "-_", strings.Repeat("/", 20),
	}
	var want []string
	for _, name := range names {
		seg := store.EncodeName(name)
		if strings.Contains(seg, "/") || seg == "." || seg == ".." {
			t.Fatalf("EncodeName(%q) = %q: not a single segment", name, seg)
		}
		back, err := store.DecodeName(seg)
		if err != nil || back != name {
			t.Fatalf("DecodeName(EncodeName(%q)) = %q, %v", name, back, err)
		}
		k := "names/" + seg
		_, err = b.PutIfAbsent(ctx(t), k, []byte(name))
		must(t, "PutIfAbsent "+k, err)
		wantData(t, b, k, []byte(name), "")
		want = append(want, k)
	}
	got := listKeys(t, b, "names/", 1000)
	wantKeys(t, "encoded names", got, sorted(want))
	for _, k := range got {
		if strings.Count(k, "/") != 1 {
			t.Fatalf("encoded name split into segments: %q", k)
		}
	}
}

func (s *suite) testTooLarge(t *testing.T, b *store.Bucket) {
	big := bytes.Repeat([]byte{'b'}, store.MaxObjectBytes+1)
	_, err := b.Put(ctx(t), "big", big)
	wantErr(t, "Put", err, store.ErrTooLarge)
	_, err = b.PutIfAbsent(ctx(t), "big", big)
	wantErr(t, "PutIfAbsent", err, store.ErrTooLarge)
	wantAbsent(t, b, "big")
}
