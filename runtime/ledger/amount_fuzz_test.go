package ledger

import (
	"errors"
	"testing"
)

// FuzzParseAmount: whatever the text, ParseAmount either refuses it with one of
// its two typed errors or gives an amount inside the ledger's bound whose
// canonical text parses back to the same amount.
func FuzzParseAmount(f *testing.F) {
	for _, s := range []string{"0", "1", "-5", "+2.5", "12.345678", "0.000001", "1000000000000",
		"9300000000000", "-1000000000000", "1.", ".5", "1e3", "0x10", "١٢", "00000000000000001", " 1", "1.1234567"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, err := ParseAmount(s)
		if err != nil {
			if !errors.Is(err, ErrBadAmount) && !errors.Is(err, ErrAmountOutOfRange) {
				t.Fatalf("ParseAmount(%q): untyped error %v", s, err)
			}
			return
		}
		if m := a.MicroUnits(); m > MaxAmount.MicroUnits() || m < -MaxAmount.MicroUnits() {
			t.Fatalf("ParseAmount(%q) = %d micro-units, outside the bound", s, m)
		}
		back, err := ParseAmount(a.String())
		if err != nil || back != a {
			t.Fatalf("%q -> %s -> %v, %v: the canonical text does not round-trip", s, a, back, err)
		}
	})
}
