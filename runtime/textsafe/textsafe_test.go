package textsafe

import "testing"

func TestFind(t *testing.T) {
	for s, unsafe := range map[string]bool{
		"":                              false,
		"rent for March: 12.50 €":       false,
		"Grüße ✓ 🚀 👨‍👩‍👧":               false, // the family emoji holds zero-width joiners
		"paid\x1b[2J\x1b[1;1Hfake line": true,  // ESC: clear screen, move cursor
		"\x1b]0;window title\x07":       true,  // OSC: retitle the window
		"line one\nline two":            true,
		"tab\there":                     true,
		"carriage\rreturn":              true,
		"del\x7f":                       true,
		"c1\u009b31m":                   true, // CSI as one C1 character
		"invoice \u202etxt.exe":         true, // right-to-left override
		"zero\u200bwidth":               true,
		"isolate \u2066x\u2069":         true,
		"separator\u2028":               true,
		"bom\ufeff":                     true,
		"bad utf-8 \xff":                true,
	} {
		if _, got := Find(s); got != unsafe {
			t.Errorf("Find(%q) unsafe = %v, want %v", s, got, unsafe)
		}
	}
}
