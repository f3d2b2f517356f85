package storage

import (
	"fmt"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"github.com/openacquire/acquire/runtime/call"
)

// CleanName normalises a file name within its drive: '/'-separated, with
// empty and "." segments dropped and ".." taking back the previous one
// ("/a/../b" → "b", "./x" → "x", "a//b" → "a/b"). A name that climbs above
// the drive's root ("../../x"), is empty once cleaned, holds control
// characters, a backslash or invalid UTF-8, or is too long is refused with
// InvalidNameError. The name is put in Unicode NFC first, so the composed
// and decomposed spellings of one name are one file, and a character that
// could make one name look like another (see lookAlike) is refused. The
// result is what keys are made of (encoded with store.EncodeName, so it
// cannot escape its prefix even so).
func CleanName(name string) (string, error) {
	if !utf8.ValidString(name) {
		return "", call.Errorf(ErrInvalidName, "file name is not valid UTF-8")
	}
	if hasControl(name) || strings.ContainsRune(name, '\\') {
		return "", call.Errorf(ErrInvalidName, "file name holds a control character or a backslash")
	}
	if len(name) > 4*MaxNameBytes {
		return "", call.Errorf(ErrInvalidName, "file name over %d bytes", MaxNameBytes)
	}
	name = norm.NFC.String(name)
	if err := checkLookAlike(name); err != nil {
		return "", err
	}
	var segs []string
	for seg := range strings.SplitSeq(name, "/") {
		switch seg {
		case "", ".":
		case "..":
			if len(segs) == 0 {
				return "", call.Errorf(ErrInvalidName, "file name %q climbs above its drive", clip(name))
			}
			segs = segs[:len(segs)-1]
		default:
			segs = append(segs, seg)
		}
	}
	out := strings.Join(segs, "/")
	switch {
	case out == "":
		return "", call.Errorf(ErrInvalidName, "file name is empty")
	case len(out) > MaxNameBytes:
		return "", call.Errorf(ErrInvalidName, "file name over %d bytes", MaxNameBytes)
	case len(segs) > MaxNameSegments:
		return "", call.Errorf(ErrInvalidName, "file name of over %d parts", MaxNameSegments)
	}
	return out, nil
}

// slashLike are characters drawn like '/' or '\\': in a name they would
// show a path that is not the file's ("a∕b" is one part, not two).
var slashLike = map[rune]bool{
	0x2044: true, // FRACTION SLASH
	0x2215: true, // DIVISION SLASH
	0x2216: true, // SET MINUS
	0x2571: true, // BOX DRAWINGS LIGHT DIAGONAL UPPER RIGHT TO LOWER LEFT
	0x2572: true, // BOX DRAWINGS LIGHT DIAGONAL UPPER LEFT TO LOWER RIGHT
	0x29F5: true, // REVERSE SOLIDUS OPERATOR
	0x29F8: true, // BIG SOLIDUS
	0x29F9: true, // BIG REVERSE SOLIDUS
	0x2F03: true, // KANGXI RADICAL SLASH
	0x3033: true, // VERTICAL KANA REPEAT MARK UPPER HALF
	0xFE68: true, // SMALL REVERSE SOLIDUS
	0xFF0F: true, // FULLWIDTH SOLIDUS
	0xFF3C: true, // FULLWIDTH REVERSE SOLIDUS
	0x1735: true, // PHILIPPINE SINGLE PUNCTUATION
	0x0338: true, // COMBINING LONG SOLIDUS OVERLAY
	0x0337: true, // COMBINING SHORT SOLIDUS OVERLAY
	0x20E5: true, // COMBINING REVERSE SOLIDUS OVERLAY
}

// invisibleLetters are letters (not format characters) that draw nothing.
var invisibleLetters = map[rune]bool{0x115F: true, 0x1160: true, 0x3164: true, 0xFFA0: true, 0x034F: true, 0x2800: true}

// checkLookAlike refuses what makes two names look the same or one name
// look like another: format characters (the bidirectional controls such as
// U+202E, which reverse the text after them, the zero-width characters and
// joiners, the byte order mark, soft hyphens, tags), line and paragraph
// separators, letters that draw nothing, and characters drawn like a slash.
func checkLookAlike(name string) error {
	for _, r := range name {
		what := ""
		switch {
		case unicode.Is(unicode.Cf, r):
			what = "an invisible or bidirectional control"
		case unicode.Is(unicode.Zl, r) || unicode.Is(unicode.Zp, r):
			what = "a line or paragraph separator"
		case invisibleLetters[r], unicode.Is(unicode.Variation_Selector, r):
			what = "an invisible character"
		case slashLike[r]:
			what = "a character drawn like a slash"
		default:
			continue
		}
		return call.Errorf(ErrInvalidName, "file name holds %s (%s)", what, fmt.Sprintf("U+%04X", r))
	}
	return nil
}

var driveSegment = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)

// CheckDriveName checks a drive name: 1 to MaxDriveDepth '/'-separated
// segments, each a letter or digit then letters, digits, '_', '.', '-'.
// Drive names are not normalised: a drive has exactly one spelling.
func CheckDriveName(name string) error {
	segs := strings.Split(name, "/")
	if name == "" || len(segs) > MaxDriveDepth {
		return call.Errorf(ErrInvalidName, "drive name must have 1 to %d parts", MaxDriveDepth)
	}
	for _, s := range segs {
		if len(s) > MaxDriveSegmentBytes || !driveSegment.MatchString(s) {
			return call.Errorf(ErrInvalidName, "drive name part %q must match %s (≤ %d bytes)", clip(s), driveSegment, MaxDriveSegmentBytes)
		}
	}
	return nil
}

// parentOf is a drive's parent name, "" for a top-level drive.
func parentOf(drive string) string {
	i := strings.LastIndexByte(drive, '/')
	if i < 0 {
		return ""
	}
	return drive[:i]
}

func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}
