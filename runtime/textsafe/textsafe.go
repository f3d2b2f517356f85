// Package textsafe says which characters of text one user writes and
// another's terminal shows are safe to show as they are. Services refuse
// the others on input (descriptions, names, labels); the CLI escapes them
// on output, since a record written before the refusal, or by a service
// that does not refuse, can still hold them.
package textsafe

import (
	"unicode"
	"unicode/utf8"
)

const zeroWidthJoiner = '\u200d'

// Unsafe reports whether r changes how a terminal shows text rather than
// showing a character: C0 and C1 controls (ESC starts the sequences that
// move the cursor, recolour or retitle the window), DEL, line and
// paragraph separators, and invisible format characters such as the
// bidirectional overrides that show text in another order than it is
// read. The zero-width joiner is allowed: emoji sequences need it.
func Unsafe(r rune) bool {
	switch {
	case r == utf8.RuneError:
		return true // invalid UTF-8 decodes to it
	case unicode.IsControl(r), r == '\u2028', r == '\u2029':
		return true
	case unicode.Is(unicode.Cf, r):
		return r != zeroWidthJoiner
	}
	return false
}

// Find returns the first unsafe character of s and whether there is one.
// Invalid UTF-8 counts as unsafe.
func Find(s string) (rune, bool) {
	for _, r := range s {
		if Unsafe(r) {
			return r, true
		}
	}
	return 0, false
}

// Safe reports whether s holds no unsafe character (and is valid UTF-8).
func Safe(s string) bool {
	_, bad := Find(s)
	return !bad
}
