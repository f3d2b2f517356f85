package storage_test

import (
	"errors"
	"testing"

	"github.com/openacquire/acquire/runtime/storage"
)

// TestNameLookAlikes: a name is kept in NFC, so its composed and
// decomposed spellings are one file, and characters that make one name
// look like another are refused with InvalidNameError.
func TestNameLookAlikes(t *testing.T) {
	for _, c := range []struct {
		in, want string // want "": refused
	}{
		{"caf\u00e9.txt", "caf\u00e9.txt"},  // NFC stays
		{"cafe\u0301.txt", "caf\u00e9.txt"}, // NFD becomes NFC
		{"A\u030a/x", "\u00c5/x"},           // in a directory part too
		{"\u2126hm", "\u03a9hm"},            // OHM SIGN's canonical form is OMEGA
		{"日本語/ファイル.txt", "日本語/ファイル.txt"},    // ordinary non-Latin text
		{"a b-c_d.e", "a b-c_d.e"},
		{"invoice\u202etxt.exe", ""}, // RIGHT-TO-LEFT OVERRIDE: shows "invoiceexe.txt"
		{"a\u202ab", ""},             // LEFT-TO-RIGHT EMBEDDING
		{"a\u2066b", ""},             // LEFT-TO-RIGHT ISOLATE
		{"a\u200fb", ""},             // RIGHT-TO-LEFT MARK
		{"a\u061cb", ""},             // ARABIC LETTER MARK
		{"pay\u200broll", ""},        // ZERO WIDTH SPACE
		{"pay\u200croll", ""},        // ZERO WIDTH NON-JOINER
		{"pay\u200droll", ""},        // ZERO WIDTH JOINER
		{"pay\u2060roll", ""},        // WORD JOINER
		{"\ufeffpayroll", ""},        // BYTE ORDER MARK
		{"pay\u00adroll", ""},        // SOFT HYPHEN
		{"pay\u034froll", ""},        // COMBINING GRAPHEME JOINER
		{"pay\u3164roll", ""},        // HANGUL FILLER
		{"pay\ufe0froll", ""},        // VARIATION SELECTOR-16
		{"a\u2028b", ""},             // LINE SEPARATOR
		{"a\u2029b", ""},             // PARAGRAPH SEPARATOR
		{"docs\u2215secret", ""},     // DIVISION SLASH: shows "docs/secret"
		{"docs\u2044secret", ""},     // FRACTION SLASH
		{"docs\uff0fsecret", ""},     // FULLWIDTH SOLIDUS
		{"docs\u29f8secret", ""},     // BIG SOLIDUS
		{"docs\uff3csecret", ""},     // FULLWIDTH REVERSE SOLIDUS
		{"docs\u0338secret", ""},     // COMBINING LONG SOLIDUS OVERLAY
		{"e\U000e0041", ""},          // TAG LATIN CAPITAL LETTER A
	} {
		got, err := storage.CleanName(c.in)
		switch {
		case c.want == "" && !errors.Is(err, storage.ErrInvalidName):
			t.Errorf("CleanName(%+q) = %+q, %v; want InvalidNameError", c.in, got, err)
		case c.want != "" && (err != nil || got != c.want):
			t.Errorf("CleanName(%+q) = %+q, %v; want %+q", c.in, got, err, c.want)
		}
	}

	// Through the service: the NFD spelling names the NFC file.
	f := start(t, "", "alice")
	mustDrive(t, f, "alice", "home", storage.DriveOptions{})
	upload(t, f, "alice", "home", "caf\u00e9.txt", []byte("one"))
	upload(t, f, "alice", "home", "cafe\u0301.txt", []byte("two"))
	if got, fv := download(t, f, "alice", "home", "caf\u00e9.txt", 0); string(got) != "two" || fv.Version != 2 {
		t.Fatalf("the NFD upload made another file: latest of the NFC name is %q v%d", got, fv.Version)
	}
	l, err := f.c.ListFilesUnder(ctx(), f.users["alice"], "home", "cafe\u0301", "", 0)
	if err != nil || len(l.Files) != 1 || l.Files[0].Name != "caf\u00e9.txt" {
		t.Fatalf("listing under the NFD prefix: %+v %v", l, err)
	}
	_, err = f.c.ListFilesUnder(ctx(), f.users["alice"], "home", "a\u202e", "", 0)
	wantClass(t, err, storage.ErrInvalidName)
}
