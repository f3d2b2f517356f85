package store

import (
	"fmt"
	"strings"
)

// emptyName encodes the empty name. '~' is outside the literal alphabet, so
// no other name encodes to it, and a key segment may not be empty.
const emptyName = "~"

// EncodeName turns an arbitrary user-supplied name (any bytes) into one safe
// key segment, so a name like "../../x" or "a/b" can never escape or split
// its prefix. Bytes in [A-Za-z0-9_-] stay as they are (names stay readable);
// every other byte becomes %XX with upper-case hex; the empty name becomes
// "~". The result never contains '/', is never "." or "..", and decodes back
// with DecodeName. It may be longer than the name (up to 3x): a key built
// from it is still subject to ValidateKey's length limit.
func EncodeName(name string) string {
	if name == "" {
		return emptyName
	}
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(name))
	for i := 0; i < len(name); i++ {
		c := name[i]
		if isLiteral(c) {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}

// DecodeName reverses EncodeName. It accepts only the canonical form
// EncodeName produces (upper-case hex, no escaped literals), so every name
// has exactly one segment and two different segments never alias one name.
func DecodeName(seg string) (string, error) {
	if seg == emptyName {
		return "", nil
	}
	if seg == "" {
		return "", fmt.Errorf("%w: empty encoded name", ErrInvalidKey)
	}
	out := make([]byte, 0, len(seg))
	for i := 0; i < len(seg); i++ {
		c := seg[i]
		if isLiteral(c) {
			out = append(out, c)
			continue
		}
		if c != '%' || i+2 >= len(seg) {
			return "", fmt.Errorf("%w: bad encoded name at byte %d", ErrInvalidKey, i)
		}
		v, ok := unhexUpper(seg[i+1], seg[i+2])
		if !ok || isLiteral(v) {
			return "", fmt.Errorf("%w: non-canonical escape at byte %d", ErrInvalidKey, i)
		}
		out = append(out, v)
		i += 2
	}
	return string(out), nil
}

func isLiteral(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-'
}

func unhexUpper(hi, lo byte) (byte, bool) {
	h, ok1 := hexDigit(hi)
	l, ok2 := hexDigit(lo)
	return h<<4 | l, ok1 && ok2
}

func hexDigit(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}
