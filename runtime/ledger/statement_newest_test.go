package ledger

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/openacquire/acquire/runtime/store"
)

func statementAll(t *testing.T, l *Ledger, newest bool, from, to time.Time, size int) []Line {
	t.Helper()
	var lines []Line
	token := ""
	for {
		read := l.Statement
		if newest {
			read = l.StatementNewest
		}
		p, err := read(context.Background(), "a", from, to, token, size)
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Lines) > size {
			t.Fatalf("page of %d, size %d", len(p.Lines), size)
		}
		lines = append(lines, p.Lines...)
		if token = p.Next; token == "" {
			return lines
		}
	}
}

// TestStatementNewest: newest first is exactly oldest first reversed, for
// every page size (pages ending inside an item's entries too) and any
// window, and tokens of one direction are refused by the other.
func TestStatementNewest(t *testing.T) {
	eachStore(t, func(t *testing.T, b *store.Bucket) {
		ctx := context.Background()
		c := newClock()
		l := newLedger(t, b, WithClock(c.now))
		mustAccount(t, l, "a", "0")
		mustAccount(t, l, "b", "0")
		var times []time.Time
		for i := range 12 {
			c.advance(time.Minute)
			times = append(times, c.now())
			deposit(t, l, fmt.Sprintf("d%d", i), "a", fmt.Sprint(i+1))
			if i%3 == 0 {
				if _, err := l.Transfer(ctx, TransferRequest{ID: fmt.Sprintf("t%d", i), From: "a", To: "b", Amount: MustParse("1")}); err != nil {
					t.Fatal(err)
				}
			}
		}
		windows := [][2]time.Time{{}, {times[2], times[7]}, {times[5], {}}, {{}, times[3]}}
		for _, w := range windows {
			old := statementAll(t, l, false, w[0], w[1], MaxPageSize)
			slices.Reverse(old)
			for _, size := range []int{1, 2, 3, 5, 100} {
				got := statementAll(t, l, true, w[0], w[1], size)
				if len(got) != len(old) {
					t.Fatalf("window %v size %d: %d lines newest first, %d oldest first", w, size, len(got), len(old))
				}
				for i := range got {
					if got[i].Item != old[i].Item || got[i].Index != old[i].Index || got[i].Transfer != old[i].Transfer {
						t.Fatalf("window %v size %d: line %d is %d.%d, want %d.%d", w, size, i, got[i].Item, got[i].Index, old[i].Item, old[i].Index)
					}
				}
			}
		}
		// The first newest page is the latest activity.
		p, err := l.StatementNewest(ctx, "a", time.Time{}, time.Time{}, "", 1)
		if err != nil || len(p.Lines) != 1 || p.Lines[0].Transfer != "d11" {
			t.Fatalf("newest line: %+v %v", p, err)
		}
		// Tokens do not cross directions, and forged ones are refused.
		oldPage, _ := l.Statement(ctx, "a", time.Time{}, time.Time{}, "", 1)
		for _, tok := range []string{oldPage.Next, "r0.0", "r999999.0", "r1.-1", "r1.300", "x1.0"} {
			if _, err := l.StatementNewest(ctx, "a", time.Time{}, time.Time{}, tok, 1); !errors.Is(err, ErrInvalid) {
				t.Fatalf("token %q: %v", tok, err)
			}
		}
		if _, err := l.Statement(ctx, "a", time.Time{}, time.Time{}, p.Next, 1); !errors.Is(err, ErrInvalid) {
			t.Fatalf("newest token taken oldest first: %v", err)
		}
	})
}

// TestAuditInParts: an audit whose entries exceed its memory budget checks
// them in parts and reports exactly what the one-part audit reports, on a
// sound ledger and on one with a duplicated entry and a lost record.
func TestAuditInParts(t *testing.T) {
	ctx := context.Background()
	b, _ := openBucket(t, "mem")
	l := newLedger(t, b)
	for _, a := range []string{"a", "b", "c"} {
		mustAccount(t, l, a, "0")
	}
	for i := range 30 {
		deposit(t, l, fmt.Sprintf("d%d", i), []string{"a", "b", "c"}[i%3], "5")
		if _, err := l.Transfer(ctx, TransferRequest{ID: fmt.Sprintf("t%d", i), From: "a", To: "b", Amount: MustParse("1"), ReceiptBy: time.Now().Add(time.Hour)}); err != nil && !errors.Is(err, ErrInsufficientFunds) {
			t.Fatal(err)
		}
	}
	whole := audit(t, l)
	l.auditMaxEntries = 7
	parted := audit(t, l)
	parted.Anomalies, whole.Anomalies = nil, nil
	if fmt.Sprint(parted) != fmt.Sprint(whole) {
		t.Fatalf("in parts:\n%+v\nwhole:\n%+v", parted, whole)
	}
	// Break it: a lost transfer record leaves entries naming nothing.
	if err := b.Delete(ctx, transferKey("d4")); err != nil {
		t.Fatal(err)
	}
	l.auditMaxEntries = 0
	repWhole, err1 := l.Audit(ctx)
	l.auditMaxEntries = 7
	repParts, err2 := l.Audit(ctx)
	if !errors.Is(err1, ErrAudit) || !errors.Is(err2, ErrAudit) {
		t.Fatalf("lost record not found: %v / %v", err1, err2)
	}
	slices.Sort(repWhole.Anomalies)
	slices.Sort(repParts.Anomalies)
	if !slices.Equal(repWhole.Anomalies, repParts.Anomalies) {
		t.Fatalf("anomalies differ:\nwhole %q\nparts %q", repWhole.Anomalies, repParts.Anomalies)
	}
}
