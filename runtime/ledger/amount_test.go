package ledger

import (
	"encoding/json"
	"errors"
	"fmt"
	mathrand "math/rand/v2"
	"strconv"
	"strings"
	"testing"
)

func TestAmountParseFormat(t *testing.T) {
	cases := map[string]string{
		"0": "0.000000", "100.5": "100.500000", "100.500000": "100.500000", "-3.05": "-3.050000",
		"+7": "7.000000", "0.000001": "0.000001", "-0.000001": "-0.000001", "000012.3": "12.300000",
		"1000000000000": "1000000000000.000000", "-1000000000000": "-1000000000000.000000",
	}
	for in, want := range cases {
		a, err := ParseAmount(in)
		if err != nil {
			t.Fatalf("ParseAmount(%q): %v", in, err)
		}
		if a.String() != want {
			t.Errorf("ParseAmount(%q) = %s, want %s", in, a, want)
		}
	}
	for _, in := range []string{"", "-", ".5", "5.", "1.0000001", "1e3", "0x10", "1,5", " 1", "--1", "1.2.3", "NaN"} {
		if _, err := ParseAmount(in); !errors.Is(err, ErrBadAmount) {
			t.Errorf("ParseAmount(%q) err = %v, want ErrBadAmount", in, err)
		}
	}
	for _, in := range []string{"1000000000000.000001", "-1000000000000.000001", "99999999999999999999"} {
		if _, err := ParseAmount(in); !errors.Is(err, ErrAmountOutOfRange) {
			t.Errorf("ParseAmount(%q) err = %v, want ErrAmountOutOfRange", in, err)
		}
	}
}

func TestAmountArithmeticBounds(t *testing.T) {
	a := MustParse("0.1")
	b := MustParse("0.2")
	s, err := a.Add(b)
	if err != nil || s != MustParse("0.3") {
		t.Fatalf("0.1+0.2 = %s, %v; want exactly 0.3", s, err)
	}
	if _, err := MaxAmount.Add(MustParse("0.000001")); !errors.Is(err, ErrAmountOutOfRange) {
		t.Fatalf("MaxAmount+1µ: %v, want ErrAmountOutOfRange", err)
	}
	if _, err := MaxAmount.Neg().Sub(MustParse("0.000001")); !errors.Is(err, ErrAmountOutOfRange) {
		t.Fatalf("-MaxAmount-1µ: %v, want ErrAmountOutOfRange", err)
	}
	if _, err := Micros(maxMicros + 1); !errors.Is(err, ErrAmountOutOfRange) {
		t.Fatal("Micros beyond bound accepted")
	}
	if MustParse("2").Cmp(MustParse("1.999999")) != 1 || MustParse("-1").Cmp(Zero) != -1 {
		t.Fatal("Cmp wrong")
	}
}

func TestAmountJSONIsString(t *testing.T) {
	data, err := json.Marshal(struct{ A Amount }{MustParse("100.5")})
	if err != nil || string(data) != `{"A":"100.500000"}` {
		t.Fatalf("marshal = %s, %v", data, err)
	}
	var v struct{ A Amount }
	if err := json.Unmarshal([]byte(`{"A":100.5}`), &v); err == nil {
		t.Fatal("a JSON number was accepted as an amount")
	}
	if err := json.Unmarshal([]byte(`{"A":"-0.25"}`), &v); err != nil || v.A != MustParse("-0.25") {
		t.Fatalf("unmarshal = %v, %v", v.A, err)
	}
}

// TestAmountFormatMatchesReference: the allocation-free formatter agrees
// with the plain fmt form on random and edge values, and JSON wraps it.
func TestAmountFormatMatchesReference(t *testing.T) {
	ref := func(m int64) string {
		sign := ""
		if m < 0 {
			sign, m = "-", -m
		}
		return fmt.Sprintf("%s%d.%06d", sign, m/microsPerUnit, m%microsPerUnit)
	}
	values := []int64{0, 1, -1, 9, 10, 999_999, 1_000_000, -1_000_001, maxMicros, -maxMicros}
	r := mathrand.New(mathrand.NewPCG(1, 2))
	for range 10_000 {
		values = append(values, r.Int64N(2*maxMicros+1)-maxMicros)
	}
	for _, m := range values {
		a := Amount{micros: m}
		if got, want := a.String(), ref(m); got != want {
			t.Fatalf("%d formats as %s, want %s", m, got, want)
		}
		if j, _ := a.MarshalJSON(); string(j) != `"`+ref(m)+`"` {
			t.Fatalf("%d marshals as %s", m, j)
		}
	}
}

// Issue 17 finding 11: an amount of 13 whole digits above the bound was
// scaled to micro-units before the bound check, and the int64 product
// wrapped ("9300000000000" reported -9146744073709551616 micro-units).
// Every out-of-range input must be reported as itself with the real bound.
func TestAmountOutOfRangeMessageNamesInputAndBound(t *testing.T) {
	for _, in := range []string{"9300000000000", "-9300000000000", "9999999999999.999999", "1000000000001",
		"1000000000000.000001", "99999999999999999999", "+9223372036854"} {
		_, err := ParseAmount(in)
		if !errors.Is(err, ErrAmountOutOfRange) {
			t.Fatalf("ParseAmount(%q) err = %v, want ErrAmountOutOfRange", in, err)
		}
		msg := err.Error()
		if !strings.Contains(msg, strconv.Quote(in)) || !strings.Contains(msg, MaxAmount.String()) {
			t.Errorf("ParseAmount(%q): %q does not name the input and the bound %s", in, msg, MaxAmount)
		}
		if strings.Contains(msg, "micro-units") || strings.Contains(msg, "-9146744073709551616") {
			t.Errorf("ParseAmount(%q): %q reports a computed (wrapped) number", in, msg)
		}
	}
	if a, err := ParseAmount("-1000000000000.000000"); err != nil || a != MaxAmount.Neg() {
		t.Fatalf("the bound itself: %v %v", a, err)
	}
}
