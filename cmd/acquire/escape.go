package main

import (
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/openacquire/acquire/runtime/textsafe"
)

// shown is text another user wrote (a description, a file, drive, group or
// account name, a label, a job's message) made safe to print: every
// character a terminal would act on instead of show (escape sequences,
// carriage returns, newlines and tabs that would fake a line or shift a
// column, bidirectional overrides, invalid UTF-8) is printed as a Go-style
// escape, so a statement shows exactly what was written and nothing more.
func shown(s string) string { return escapeText(s, false) }

// escapeText escapes the unsafe characters of s; with layout, newlines
// and tabs are kept (they are the printer's own, in whole output).
func escapeText(s string, layout bool) string {
	if textsafe.Safe(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n <= 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case layout && (r == '\n' || r == '\t'):
			b.WriteRune(r)
		case !textsafe.Unsafe(r):
			b.WriteString(s[i : i+n])
		case shortEscapes[r] != "":
			b.WriteString(shortEscapes[r])
		case r < 0x80:
			fmt.Fprintf(&b, `\x%02x`, r)
		case r <= 0xffff:
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			fmt.Fprintf(&b, `\U%08x`, r)
		}
		i += n
	}
	return b.String()
}

var shortEscapes = map[rune]string{'\n': `\n`, '\t': `\t`, '\r': `\r`}

// safeWriter escapes whatever a text printer writes, keeping only its own
// newlines and tabs: a field a printer forgot to pass through shown still
// cannot drive the terminal.
type safeWriter struct{ w io.Writer }

func (s safeWriter) Write(p []byte) (int, error) {
	if _, err := io.WriteString(s.w, escapeText(string(p), true)); err != nil {
		return 0, err
	}
	return len(p), nil
}
