package ledger

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/openacquire/acquire/runtime/store"
	"github.com/openacquire/acquire/runtime/store/filestore"
	"github.com/openacquire/acquire/runtime/store/memstore"
)

func TestStatementAndBalanceAt(t *testing.T) {
	eachStore(t, func(t *testing.T, b *store.Bucket) {
		ctx := context.Background()
		c := newClock()
		l := newLedger(t, b, WithClock(c.now))
		mustAccount(t, l, "a", "0")
		mustAccount(t, l, "b", "0")
		start := c.now()
		var times []time.Time
		for i := range 10 {
			c.advance(time.Minute)
			times = append(times, c.now())
			deposit(t, l, fmt.Sprintf("d%d", i), "a", fmt.Sprint(i+1))
		}
		// Balance at any past time: after deposit i, a holds 1+..+(i+1).
		for i, at := range times {
			bal, err := l.BalanceAt(ctx, "a", at.Add(30*time.Second))
			if err != nil || bal.Balance != MustParse(fmt.Sprint((i+1)*(i+2)/2)) {
				t.Fatalf("at %d: %+v %v", i, bal, err)
			}
		}
		if bal, err := l.BalanceAt(ctx, "a", start); err != nil || !bal.Balance.IsZero() {
			t.Fatalf("at creation: %+v %v", bal, err)
		}
		if _, err := l.BalanceAt(ctx, "a", start.Add(-time.Second)); err == nil {
			t.Fatal("balance before the account existed")
		}
		// Lines in [times[2], times[7]) paged by 2: deposits 2..6.
		var lines []Line
		token := ""
		for {
			p, err := l.Statement(ctx, "a", times[2], times[7], token, 2)
			if err != nil {
				t.Fatal(err)
			}
			if len(p.Lines) > 2 {
				t.Fatalf("page of %d", len(p.Lines))
			}
			lines = append(lines, p.Lines...)
			if token = p.Next; token == "" {
				break
			}
		}
		if len(lines) != 5 {
			t.Fatalf("%d lines, want 5", len(lines))
		}
		for j, ln := range lines {
			i := j + 2
			if ln.Transfer != fmt.Sprintf("d%d", i) || ln.Leg != LegCredit || ln.Amount != MustParse(fmt.Sprint(i+1)) ||
				ln.Counterparty != MintAccount || ln.Description != "deposit" || ln.Balance != MustParse(fmt.Sprint((i+1)*(i+2)/2)) {
				t.Fatalf("line %d: %+v", j, ln)
			}
		}
		// Every line names its authorisation.
		c.advance(time.Minute)
		if _, err := l.Transfer(ctx, TransferRequest{ID: "t", From: "a", To: "b", Amount: MustParse("1"), Authorisation: "signed-by-alice"}); err != nil {
			t.Fatal(err)
		}
		p, err := l.Statement(ctx, "a", c.now(), c.now().Add(time.Hour), "", 10)
		if err != nil || len(p.Lines) != 1 || p.Lines[0].Authorisation != "signed-by-alice" || p.Lines[0].Transfer != "t" || p.Lines[0].Leg != LegDebit {
			t.Fatalf("%+v %v", p, err)
		}
	})
}

// TestHotAccountBatches shows that concurrent credits into one account are
// batched: fewer items than transfers, and every transfer once.
// TestHotAccountBatches: credits that queue on a busy account are written
// together. The first credit's item write is held until every other
// payer's credit is queued behind it (on the mem store, a free-running
// race often let each credit find the account idle), so the next item
// must carry them all.
func TestHotAccountBatches(t *testing.T) {
	for _, kind := range storeKinds {
		t.Run(kind, func(t *testing.T) {
			var inner store.Driver = memstore.New()
			if kind == "file" {
				fd, err := filestore.Open(t.TempDir())
				if err != nil {
					t.Fatal(err)
				}
				inner = fd
			}
			d := &holdFirstPut{Driver: inner, key: itemKey("hot", 1), reached: make(chan struct{}), release: make(chan struct{})}
			b := store.NewBucket(d)
			t.Cleanup(func() { _ = b.Close() })
			ctx := context.Background()
			l := newLedger(t, b)
			mustAccount(t, l, "hot", "0")
			const payers, each = 32, 10
			for i := range payers {
				mustAccount(t, l, fmt.Sprintf("p%d", i), "0")
				deposit(t, l, fmt.Sprintf("d%d", i), fmt.Sprintf("p%d", i), "100")
			}
			var wg sync.WaitGroup
			for i := range payers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for j := range each {
						_, err := l.Transfer(ctx, TransferRequest{ID: fmt.Sprintf("h%d-%d", i, j), From: fmt.Sprintf("p%d", i), To: "hot", Amount: MustParse("1.5")})
						if err != nil {
							t.Error(err)
						}
					}
				}()
			}
			<-d.reached
			st := l.state("hot")
			for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
				st.mu.Lock()
				queued := len(st.queue)
				st.mu.Unlock()
				if queued == payers-1 {
					break
				}
			}
			close(d.release)
			wg.Wait()
			bal, err := l.Balance(ctx, "hot")
			if err != nil || bal.Balance != MustParse(fmt.Sprint(payers*each*3/2)) {
				t.Fatalf("%+v %v", bal, err)
			}
			t.Logf("%d credits in %d items", payers*each, bal.Item)
			if bal.Item > payers*each-(payers-2) {
				t.Fatalf("no batching: %d items for %d credits", bal.Item, payers*each)
			}
			audit(t, l)
		})
	}
}

// TestCheckItemRefusesBrokenItems: the assertion run before every write.
func TestCheckItemRefusesBrokenItems(t *testing.T) {
	prev := &Item{Account: "a", N: 3, Balance: MustParse("5"), Overdraft: MustParse("1")}
	good := func() *Item {
		return &Item{Account: "a", N: 4, Balance: MustParse("-1"), Overdraft: MustParse("1"), Entries: []Entry{{
			Transfer: "t", Leg: LegDebit, DBalance: MustParse("-6"), Balance: MustParse("-1"), Overdraft: MustParse("1")}}}
	}
	if err := checkItem(prev, good()); err != nil {
		t.Fatal(err)
	}
	for name, mutate := range map[string]func(*Item){
		"beyond overdraft": func(it *Item) {
			it.Balance, it.Entries[0].Balance, it.Entries[0].DBalance = MustParse("-2"), MustParse("-2"), MustParse("-7")
		},
		"totals off":    func(it *Item) { it.Balance = MustParse("-0.5") },
		"gap":           func(it *Item) { it.N = 5 },
		"refusal moves": func(it *Item) { it.Entries[0].Leg = LegRefused },
		"negative liability": func(it *Item) {
			it.Entries[0].DLiability = MustParse("-1")
			it.Entries[0].Liability = MustParse("-1")
			it.Liability = MustParse("-1")
		},
		"twice in one item": func(it *Item) { it.Entries = append(it.Entries, it.Entries[0]) },
	} {
		it := good()
		mutate(it)
		if err := checkItem(prev, it); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
