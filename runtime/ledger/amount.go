package ledger

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// Amount is an exact decimal amount of money with six decimal places, held
// as a signed count of micro-units (1 unit = 1,000,000 micro-units). There
// are no floats anywhere: amounts are parsed from and formatted to decimal
// strings ("100.500000"), and every operation checks that its result stays
// within ±MaxAmount, which is far enough inside int64 that no intermediate
// sum of two bounded amounts can overflow.
type Amount struct {
	micros int64
}

// Bounds and scale.
const (
	// AmountDecimals is the number of decimal places an Amount keeps.
	AmountDecimals = 6
	// microsPerUnit is 10^AmountDecimals.
	microsPerUnit = 1_000_000
	// maxMicros is the largest magnitude of any Amount: 10^12 units.
	// 2*maxMicros < 2^63, so a+b of two bounded amounts never overflows
	// int64 before the bound check.
	maxMicros = 1_000_000_000_000 * microsPerUnit
	// maxAmountChars bounds the length of a decimal string Parse accepts.
	maxAmountChars = 40
)

// MaxAmount is the largest magnitude any amount, balance, liability,
// receivable or overdraft limit may have: 10^12 units.
var MaxAmount = Amount{micros: maxMicros}

// Zero is the zero amount.
var Zero = Amount{}

// Micros makes an Amount from micro-units; it fails outside ±MaxAmount.
func Micros(m int64) (Amount, error) {
	if m > maxMicros || m < -maxMicros {
		return Amount{}, fmt.Errorf("%w: %d micro-units", ErrAmountOutOfRange, m)
	}
	return Amount{micros: m}, nil
}

// Units makes an Amount of whole units; it fails outside ±MaxAmount.
func Units(u int64) (Amount, error) {
	if u > maxMicros/microsPerUnit || u < -maxMicros/microsPerUnit {
		return Amount{}, fmt.Errorf("%w: %d units", ErrAmountOutOfRange, u)
	}
	return Amount{micros: u * microsPerUnit}, nil
}

// MustParse is Parse for constants in tests and examples; it panics on a
// malformed string.
func MustParse(s string) Amount {
	a, err := ParseAmount(s)
	if err != nil {
		panic(err)
	}
	return a
}

// ParseAmount reads a decimal string: an optional sign, digits, and an
// optional fraction of at most six digits ("12", "-0.5", "100.500000").
// More than six decimal places is an error, never a rounding.
func ParseAmount(s string) (Amount, error) {
	bad := func(why string) (Amount, error) {
		return Amount{}, fmt.Errorf("%w: %q: %s", ErrBadAmount, s, why)
	}
	if s == "" || len(s) > maxAmountChars {
		return bad("empty or too long")
	}
	neg := false
	body := s
	switch body[0] {
	case '-':
		neg, body = true, body[1:]
	case '+':
		body = body[1:]
	}
	whole, frac, hasDot := strings.Cut(body, ".")
	if whole == "" || (hasDot && frac == "") {
		return bad("missing digits")
	}
	if len(frac) > AmountDecimals {
		return bad("more than 6 decimal places")
	}
	if !allDigits(whole) || !allDigits(frac) {
		return bad("not a decimal number")
	}
	// The whole part is compared with the bound before it is scaled:
	// 13 digits fit int64 but 13 digits times 10^6 may not, and a wrapped
	// product must never reach a message or a balance.
	whole = strings.TrimLeft(whole, "0")
	outOfRange := func() (Amount, error) {
		return Amount{}, fmt.Errorf("%w: %q is beyond ±%s", ErrAmountOutOfRange, s, MaxAmount)
	}
	if len(whole) > 13 {
		return outOfRange()
	}
	var w int64
	if whole != "" {
		v, err := strconv.ParseInt(whole, 10, 64)
		if err != nil {
			return bad("not a decimal number")
		}
		w = v
	}
	if w > maxMicros/microsPerUnit {
		return outOfRange()
	}
	frac += strings.Repeat("0", AmountDecimals-len(frac))
	f, err := strconv.ParseInt(frac, 10, 64)
	if err != nil {
		return bad("not a decimal number")
	}
	m := w*microsPerUnit + f // at most maxMicros + 999999: no overflow
	if m > maxMicros {
		return outOfRange()
	}
	if neg {
		m = -m
	}
	return Amount{micros: m}, nil
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// String formats the amount with exactly six decimal places: "-3.050000".
func (a Amount) String() string { return string(a.appendText(nil)) }

// appendText appends the canonical form to b. Every ledger item carries a
// dozen amounts, so this is on the hot path: no fmt, no allocation.
func (a Amount) appendText(b []byte) []byte {
	m := a.micros
	if m < 0 {
		b, m = append(b, '-'), -m // |m| <= maxMicros, so negation cannot overflow
	}
	b = strconv.AppendInt(b, m/microsPerUnit, 10)
	b = append(b, '.')
	frac := m % microsPerUnit
	for div := int64(microsPerUnit / 10); div > 0; div /= 10 {
		b = append(b, byte('0'+frac/div%10))
	}
	return b
}

// MicroUnits returns the amount as a count of micro-units.
func (a Amount) MicroUnits() int64 { return a.micros }

// IsZero, IsNegative and IsPositive compare with zero.
func (a Amount) IsZero() bool     { return a.micros == 0 }
func (a Amount) IsNegative() bool { return a.micros < 0 }
func (a Amount) IsPositive() bool { return a.micros > 0 }

// Cmp returns -1, 0 or +1 as a is less than, equal to or greater than b.
func (a Amount) Cmp(b Amount) int {
	switch {
	case a.micros < b.micros:
		return -1
	case a.micros > b.micros:
		return 1
	}
	return 0
}

// Add returns a+b, or ErrAmountOutOfRange if the sum leaves ±MaxAmount.
func (a Amount) Add(b Amount) (Amount, error) {
	return Micros(a.micros + b.micros) // both bounded: no int64 overflow
}

// Sub returns a-b, or ErrAmountOutOfRange if the result leaves ±MaxAmount.
func (a Amount) Sub(b Amount) (Amount, error) {
	return Micros(a.micros - b.micros)
}

// Neg returns -a (always in range: the bounds are symmetric).
func (a Amount) Neg() Amount { return Amount{micros: -a.micros} }

// MarshalJSON writes the amount as a JSON string, "100.500000", so no JSON
// reader ever turns it into a float.
func (a Amount) MarshalJSON() ([]byte, error) {
	b := make([]byte, 0, 24)
	b = append(b, '"')
	return append(a.appendText(b), '"'), nil
}

// UnmarshalJSON accepts only the string form.
func (a *Amount) UnmarshalJSON(data []byte) error {
	var s string
	if err := json.Unmarshal(data, &s); err != nil {
		return fmt.Errorf("%w: amounts are JSON strings", ErrBadAmount)
	}
	v, err := ParseAmount(s)
	if err != nil {
		return err
	}
	*a = v
	return nil
}
