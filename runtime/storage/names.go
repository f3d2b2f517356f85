package storage

import (
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/openacquire/acquire/runtime/call"
)

// CleanName normalises a file name within its drive: '/'-separated, with
// empty and "." segments dropped and ".." taking back the previous one
// ("/a/../b" → "b", "./x" → "x", "a//b" → "a/b"). A name that climbs above
// the drive's root ("../../x"), is empty once cleaned, holds control
// characters, a backslash or invalid UTF-8, or is too long is refused with
// InvalidNameError. The result is what keys are made of (encoded with
// store.EncodeName, so it cannot escape its prefix even so).
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
