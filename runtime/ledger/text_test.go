package ledger

import (
	"context"
	"errors"
	"testing"
)

// TestTerminalControlsRefused: a description or account name is shown on
// another user's statement, so text a terminal would act on (escape
// sequences that clear the screen, fake a line or retitle the window;
// bidirectional overrides) is refused, with ErrInvalid, and nothing is
// written; plain Unicode still goes through.
func TestTerminalControlsRefused(t *testing.T) {
	b, _ := openBucket(t, "mem")
	l := newLedger(t, b)
	mustAccount(t, l, "a", "0")
	mustAccount(t, l, "b", "0")
	deposit(t, l, "dep-1", "a", "10")
	ctx := context.Background()
	for i, desc := range []string{
		"rent\x1b[2K\r2026-01-01 paid in full",
		"\x1b]0;you have been paid\x07",
		"line\nfake line",
		"refund \u202eexe.txt",
		"c1 \u009b2J",
	} {
		id := "t-" + string(rune('0'+i))
		_, err := l.Transfer(ctx, TransferRequest{ID: id, From: "a", To: "b", Amount: MustParse("1"), Description: desc})
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("description %q: err = %v, want ErrInvalid", desc, err)
		}
	}
	if bal, err := l.Balance(ctx, "b"); err != nil || !bal.Balance.IsZero() {
		t.Fatalf("after refused transfers b holds %+v (%v), want nothing", bal, err)
	}
	if _, err := l.CreateAccount(ctx, AccountSpec{ID: "c", Owner: "o", Name: "savings\x1b[8m"}); !errors.Is(err, ErrInvalid) {
		t.Errorf("account name with an escape: err = %v, want ErrInvalid", err)
	}
	if _, err := l.Transfer(ctx, TransferRequest{ID: "ok", From: "a", To: "b", Amount: MustParse("1"), Description: "Grüße 🚀 für März"}); err != nil {
		t.Fatalf("plain Unicode refused: %v", err)
	}
}
