package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestShown(t *testing.T) {
	for in, want := range map[string]string{
		"":                               "",
		"rent for March: 12.50 €":        "rent for March: 12.50 €",
		"Grüße 🚀 👨‍👩‍👧":                  "Grüße 🚀 👨‍👩‍👧",
		"paid\x1b[2J\x1b[1;1Hfake":       `paid\x1b[2J\x1b[1;1Hfake`,
		"\x1b]0;pwned\x07":               `\x1b]0;pwned\x07`,
		"one\ntwo\tthree\rfour":          `one\ntwo\tthree\rfour`,
		"del\x7f":                        `del\x7f`,
		"c1 \u009b31m":                   `c1 \u009b31m`,
		"invoice \u202etxt.exe":          `invoice \u202etxt.exe`,
		"zero\u200bwidth\ufeff":          `zero\u200bwidth\ufeff`,
		"bad \xff\xfe utf-8":             `bad \xff\xfe utf-8`,
		"tag \U000E0041":                 `tag \U000e0041`,
		`a literal \x1b stays as it was`: `a literal \x1b stays as it was`,
	} {
		if got := shown(in); got != want {
			t.Errorf("shown(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestSafeWriter: whatever a text printer writes reaches the terminal
// with its own newlines and tabs but no control sequence.
func TestSafeWriter(t *testing.T) {
	var b bytes.Buffer
	w := safeWriter{&b}
	n, err := w.Write([]byte("NAME\tDESCRIPTION\nx\tpaid\x1b[31m red\r\n"))
	if err != nil || n != len("NAME\tDESCRIPTION\nx\tpaid\x1b[31m red\r\n") {
		t.Fatalf("Write = %d, %v", n, err)
	}
	if got, want := b.String(), "NAME\tDESCRIPTION\nx\tpaid\\x1b[31m red\\r\n"; got != want {
		t.Fatalf("wrote %q, want %q", got, want)
	}
	if strings.ContainsAny(b.String(), "\x1b\r") {
		t.Fatal("a control character reached the terminal")
	}
}
