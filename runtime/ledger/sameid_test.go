package ledger

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/openacquire/acquire/runtime/store"
	"github.com/openacquire/acquire/runtime/store/memstore"
)

// holdFirstPut is a store driver that stops the first put-if-absent of one
// key until released, so a test can decide exactly which of two requests
// wins that key and what the winner does before the loser goes on.
type holdFirstPut struct {
	store.Driver
	key     string
	once    sync.Once
	reached chan struct{} // closed when the first writer of key arrives
	release chan struct{} // closed by the test to let it go on
}

func (d *holdFirstPut) PutIfAbsent(ctx context.Context, key string, data []byte) (store.Version, error) {
	if key == d.key {
		first := false
		d.once.Do(func() { first = true })
		if first {
			close(d.reached)
			<-d.release
		}
	}
	return d.Driver.PutIfAbsent(ctx, key, data)
}

type sameIDOutcome struct {
	winner, loser       TransferResult
	winnerErr, loserErr error
	l                   *Ledger
}

// raceSameID runs two requests for one transfer id through two ledgers (two
// processes) on one bucket, interleaved deterministically: the loser reads
// "no record" and stops at its record's put-if-absent; the winner records
// its request and stops right after; the loser goes on (its put-if-absent
// fails, so it reads the winner's record and must judge it) and returns;
// only then does the winner apply its transfer.
func raceSameID(t *testing.T, winner, loser TransferRequest) sameIDOutcome {
	t.Helper()
	ctx := context.Background()
	d := &holdFirstPut{Driver: memstore.New(), key: transferKey(loser.ID),
		reached: make(chan struct{}), release: make(chan struct{})}
	b := store.NewBucket(d)
	t.Cleanup(func() { _ = b.Close() })
	c := newClock()
	setup := newLedger(t, b, WithClock(c.now))
	mustAccount(t, setup, "a", "0")
	mustAccount(t, setup, "b", "0")
	deposit(t, setup, "d", "a", "10")

	var out sameIDOutcome
	loserDone, winnerRecorded := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(loserDone)
		out.loser, out.loserErr = newLedger(t, b, WithClock(c.now)).Transfer(ctx, loser)
	}()
	<-d.reached
	lw := newLedger(t, b, WithClock(c.now))
	lw.crashAt = func(step string) error {
		if step == "recorded" {
			close(winnerRecorded)
			<-loserDone // the winner is slow: the loser finishes first
		}
		return nil
	}
	winnerDone := make(chan struct{})
	go func() {
		defer close(winnerDone)
		out.winner, out.winnerErr = lw.Transfer(ctx, winner)
	}()
	<-winnerRecorded
	close(d.release)
	<-winnerDone
	out.l = newLedger(t, b, WithClock(c.now))
	return out
}

// Issue 17 finding 2: the loser of the record's put-if-absent decoded the
// winner's record into its own request, so fields the winner's JSON omits
// (receipt_by, description, authorisation) kept the loser's values and
// the loser applied its own request under the winner's record.
func TestConcurrentSameIDLoserJudgesWinnersRecord(t *testing.T) {
	direct := TransferRequest{ID: "x", From: "a", To: "b", Amount: MustParse("4")}
	provisional := direct
	provisional.ReceiptBy = newClock().now().Add(time.Hour)
	described := direct
	described.Description = "rent for May"
	authorised := direct
	authorised.Authorisation = "identity=i user=u session=s"
	more := direct
	more.Amount = MustParse("5")
	for _, tc := range []struct {
		name          string
		winner, loser TransferRequest
	}{
		{"direct winner, provisional loser", direct, provisional},
		{"provisional winner, direct loser", provisional, direct},
		{"winner without description, loser with one", direct, described},
		{"winner without authorisation, loser with one", direct, authorised},
		{"differing amount", direct, more},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := raceSameID(t, tc.winner, tc.loser)
			if !errors.Is(out.loserErr, ErrIDConflict) {
				t.Fatalf("loser: %+v %v, want ErrIDConflict", out.loser, out.loserErr)
			}
			wantState := StateApplied
			if tc.winner.provisional() {
				wantState = StatePending
			}
			if out.winnerErr != nil || out.winner.State != wantState {
				t.Fatalf("winner: %+v %v, want %s", out.winner, out.winnerErr, wantState)
			}
			// Only the winner's request moved money, and the ledger is sound.
			if tc.winner.provisional() {
				want(t, out.l, "a", "10", "4", "0", "6")
				want(t, out.l, "b", "0", "0", "4", "0")
			} else {
				want(t, out.l, "a", "6", "0", "0", "6")
				want(t, out.l, "b", "4", "0", "0", "4")
			}
			audit(t, out.l)
		})
	}
	t.Run("identical requests", func(t *testing.T) {
		out := raceSameID(t, described, described)
		if out.loserErr != nil || out.winnerErr != nil || out.loser != out.winner || out.winner.State != StateApplied {
			t.Fatalf("loser %+v %v, winner %+v %v: want one result", out.loser, out.loserErr, out.winner, out.winnerErr)
		}
		want(t, out.l, "a", "6", "0", "0", "6")
		audit(t, out.l)
	})
}
