package store

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// ValidateKey reports whether key is a safe object key: non-empty, at most
// MaxKeyBytes, valid UTF-8, '/'-separated segments none of which is empty,
// "." or "..", no leading or trailing '/', and no NUL, control character or
// backslash. These rules make every key a relative path that cannot escape
// its prefix on any backend, including a local folder.
func ValidateKey(key string) error {
	if key == "" {
		return fmt.Errorf("%w: empty", ErrInvalidKey)
	}
	if len(key) > MaxKeyBytes {
		return fmt.Errorf("%w: %d bytes, limit %d", ErrInvalidKey, len(key), MaxKeyBytes)
	}
	if err := validateChars(key); err != nil {
		return err
	}
	for seg := range strings.SplitSeq(key, "/") {
		if err := validateSegment(seg); err != nil {
			return err
		}
	}
	return nil
}

// validatePrefix accepts "" and anything that is the start of a valid key:
// complete segments follow the key rules, the last (partial) one may be
// anything a segment may start with, including "" (a prefix ending in '/').
func validatePrefix(prefix string) error {
	if prefix == "" {
		return nil
	}
	if len(prefix) > MaxKeyBytes {
		return fmt.Errorf("%w: prefix %d bytes, limit %d", ErrInvalidKey, len(prefix), MaxKeyBytes)
	}
	if err := validateChars(prefix); err != nil {
		return err
	}
	segs := strings.Split(prefix, "/")
	for _, seg := range segs[:len(segs)-1] {
		if err := validateSegment(seg); err != nil {
			return err
		}
	}
	return nil
}

func validateChars(s string) error {
	if !utf8.ValidString(s) {
		return fmt.Errorf("%w: not valid UTF-8", ErrInvalidKey)
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return fmt.Errorf("%w: control character %U", ErrInvalidKey, r)
		}
		if r == '\\' {
			return fmt.Errorf("%w: backslash", ErrInvalidKey)
		}
	}
	return nil
}

func validateSegment(seg string) error {
	switch seg {
	case "":
		return fmt.Errorf("%w: empty segment (leading, trailing or double '/')", ErrInvalidKey)
	case ".", "..":
		return fmt.Errorf("%w: %q segment", ErrInvalidKey, seg)
	}
	return nil
}
