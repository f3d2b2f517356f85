package settlement

import (
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/openacquire/acquire/runtime/ledger"
	"github.com/openacquire/acquire/runtime/store/faultstore"
)

var (
	xfers = flag.Int("settle.transfers", 1000, "cross-region transfers in TestConcurrentTransfersUnderFaults")
	seeds = flag.Int("settle.seeds", 1, "seeds of TestConcurrentTransfersUnderFaults (make sim-settle runs many)")
	first = flag.Uint64("settle.first", 1, "first seed")
)

// one transfer of the run, and what its payer was told.
type sent struct {
	o    Out
	from *region
	to   *region
	told string // a final state Send answered, or "" if it never did
}

// TestConcurrentTransfersUnderFaults runs many cross-region transfers both
// ways at once, with every kind of fault at random: either store refusing
// writes or losing their answers, either accounting service dying at any
// write (and restarting), requests dropped before they arrive or their
// answers lost, a link cut for stretches, and the clock moving past
// credit_by under in-flight transfers. Payers retry a few times and then
// give up, leaving the sweep to finish. At rest: every transfer final,
// what each payer was told is what happened, the receiving side credited
// exactly the committed ones, every account's balance is exactly its
// deposits plus what it received minus what it paid, both ledgers'
// audits are clean and their settlement positions cancel.
func TestConcurrentTransfersUnderFaults(t *testing.T) {
	for s := *first; s < *first+uint64(*seeds); s++ {
		t.Run(fmt.Sprintf("seed%d", s), func(t *testing.T) { runConcurrent(t, s, *xfers, false) })
	}
}

// TestConcurrentProvisionalUnderFaults is the same run with every other
// transfer provisional (receipt_by 5 to 60 s ahead on a clock that moves
// a second every five transfers): the payee's region holds it and the
// payee, at random, receipts it in full or in part, refunds it, or leaves
// it to expire there, all through the same faults, crashes and cuts. At
// rest every hold is settled, each payer's region moved exactly the part
// its peer's hold receipted (the rest back to the payer), and both
// regions' audits and positions agree.
func TestConcurrentProvisionalUnderFaults(t *testing.T) {
	for s := *first; s < *first+uint64(*seeds); s++ {
		t.Run(fmt.Sprintf("seed%d", s), func(t *testing.T) { runConcurrent(t, s, *xfers, true) })
	}
}

func runConcurrent(t *testing.T, seed uint64, n int, prov bool) {
	opt := faultstore.Options{Seed: seed, FailBefore: 0.02, FailAfter: 0.02, CrashBefore: 0.004, CrashAfter: 0.004,
		Delay: 0.01, DelayMax: 200 * time.Microsecond, FailRead: 0.01}
	a, b, clk := pair(t, opt)
	for _, r := range []*region{a, b} {
		for _, l := range r.links {
			l.dropBefore, l.lose = 0.03, 0.03
		}
	}
	const users = 6
	funds := "1000"
	if prov {
		funds = "2000" // holds keep money in escrow longer: fewer declines
	}
	accs := map[*region][]string{}
	a.fs.SetEnabled(false)
	b.fs.SetEnabled(false)
	for _, r := range []*region{a, b} {
		for i := range users {
			accs[r] = append(accs[r], r.user(fmt.Sprintf("u%d", i), funds))
		}
	}
	a.fs.SetEnabled(true)
	b.fs.SetEnabled(true)

	rng := rand.New(rand.NewPCG(seed, 99))
	all := make([]*sent, n)
	for i := range all {
		from, to := a, b
		if rng.IntN(2) == 1 {
			from, to = b, a
		}
		// Amounts up to 120 against 1000 each: some transfers are
		// declined for funds as balances drift and money is held.
		amount := ledger.MustParse(fmt.Sprintf("%d.%06d", 1+rng.IntN(120), rng.IntN(1_000_000)))
		all[i] = &sent{from: from, to: to, o: Out{ID: fmt.Sprintf("xt-%d-%d", seed, i), From: accs[from][rng.IntN(users)],
			Peer: to.url, To: accs[to][rng.IntN(users)], Amount: amount}}
	}
	// A few transfers name a payee the receiver does not have.
	for i := 7; i < n; i += 97 {
		all[i].o.To = "acct-nobody"
	}
	const workers = 8
	var wg sync.WaitGroup
	// The sweepers run beside the payers, as the hosts' periodic sweeps
	// do, through the same faults.
	stop := make(chan struct{})
	var sweepers sync.WaitGroup
	for _, r := range []*region{a, b} {
		sweepers.Go(func() {
			for {
				select {
				case <-stop:
					return
				case <-time.After(2 * time.Millisecond):
				}
				set, proc := r.current()
				_, _ = set.c.Ledger.Expire(t.Context(), clk.Now())
				_, _ = set.Sweep(t.Context(), clk.Now())
				r.recover(proc)
			}
		})
	}
	for w := range workers {
		wg.Go(func() {
			for i := w; i < n; i += workers {
				s := all[i]
				if w == 0 && i%(workers*40) < 2*workers { // cut a link for a stretch of ~16 transfers in 320
					l := a.links[b.url]
					if i%(workers*80) < 2*workers {
						l = b.links[a.url]
					}
					l.down.Store(i%(workers*40) == 0)
				}
				if i%5 == 0 {
					clk.Advance(time.Second) // credit_by passes under some in-flight transfers
				}
				if prov && i%2 == 1 {
					s.o.ReceiptBy = clk.Now().Add(time.Duration(5+i%56) * time.Second)
				}
				st, err := s.from.send(s.o, 3)
				if err == nil && st.State == Held {
					payee(s, i)
				}
				if errors.Is(err, ErrConflict) || errors.Is(err, ErrPeerContradiction) || errors.Is(err, ledger.ErrInternal) {
					t.Errorf("%s: %v", s.o.ID, err)
				}
				if final(st, err) {
					s.told = st.State
				}
			}
		})
	}
	wg.Wait()
	for _, s := range all {
		if s.told == Held {
			s.told = "" // not an outcome: the hold settled later
		}
	}
	close(stop)
	sweepers.Wait()
	crashes := len(a.fs.Crashes()) + len(b.fs.Crashes())
	settle(t, clk, a, b)
	checkOutcomes(t, a, b, accs, all, funds)
	told := 0
	for _, s := range all {
		if s.told != "" {
			told++
		}
	}
	t.Logf("seed %d: %d transfers, %d answered finally to the payer, %d crashes (restarts %d+%d), store faults %v / %v",
		seed, n, told, crashes, a.restarts.Load(), b.restarts.Load(), a.fs.Stats(), b.fs.Stats())
	if crashes == 0 {
		t.Fatal("no crash was injected: the test proves nothing about crashes")
	}
}

// payee acts on a held transfer as its payee would, at random: receipts
// it in full or in part, refunds it, or leaves it to expire. A failure
// (faults, or receipt_by passed meanwhile) leaves it to its rules.
func payee(s *sent, i int) {
	switch i % 7 {
	case 1, 3:
		_ = s.to.resolve(s.from, s.o.ID, s.o.Amount, 3)
	case 5:
		part := ledger.MustParse(fmt.Sprintf("0.%06d", 1+i%999_999))
		_ = s.to.resolve(s.from, s.o.ID, part, 3)
	case 6:
		_ = s.to.resolve(s.from, s.o.ID, ledger.Zero, 3)
	}
}

// checkOutcomes checks every transfer's final state on both sides and
// every balance, exactly.
func checkOutcomes(t *testing.T, a, b *region, accs map[*region][]string, all []*sent, funds string) {
	t.Helper()
	want := map[string]int64{}
	for _, r := range []*region{a, b} {
		for _, acc := range accs[r] {
			want[acc] = amt(funds).MicroUnits()
		}
	}
	count := map[string]int{}
	for _, s := range all {
		set, _ := s.from.current()
		st, err := set.Status(t.Context(), s.o.ID)
		if errors.Is(err, ErrNoTransfer) && s.told == "" {
			count["never recorded"]++ // every attempt failed before its record: nothing moved (the balances say so)
			continue
		}
		if errors.Is(err, ErrNoTransfer) {
			t.Fatalf("%s: never recorded although its payer got an answer %q", s.o.ID, s.told)
		}
		if err != nil {
			t.Fatal(err)
		}
		if st.State == Pending {
			t.Fatalf("%s: still pending at rest", s.o.ID)
		}
		if s.told != "" && s.told != st.State {
			t.Fatalf("%s: the payer was told %s, the outcome is %s", s.o.ID, s.told, st.State)
		}
		count[st.State]++
		if !s.o.ReceiptBy.IsZero() {
			checkHold(t, s, st, want, count)
			continue
		}
		d := s.to.decision(t, s.from, s.o.ID)
		switch st.State {
		case Committed:
			if d != Credited {
				t.Fatalf("%s: committed, the receiver decided %q", s.o.ID, d)
			}
			want[s.o.From] -= s.o.Amount.MicroUnits()
			want[s.o.To] += s.o.Amount.MicroUnits()
		case Returned:
			if d == Credited || d == "" && st.Reason != "abandoned" {
				t.Fatalf("%s: returned, the receiver decided %q", s.o.ID, d)
			}
		case Declined:
			if d != "" {
				t.Fatalf("%s: declined by the payer's ledger, yet the receiver decided %q", s.o.ID, d)
			}
		}
	}
	for _, r := range []*region{a, b} {
		for _, acc := range accs[r] {
			if got := r.balance(t, acc).MicroUnits(); got != want[acc] {
				t.Fatalf("%s: balance %d micro-units, want %d", acc, got, want[acc])
			}
		}
	}
	agree(t, a, b)
	t.Logf("outcomes: %v", count)
	if count["held"] > 0 && (count["held-receipted"] == 0 || count["held-part"] == 0 || count["held-returned"] == 0) {
		t.Fatalf("a provisional run should see holds receipted in full, in part and returned: %v", count)
	}
	if count[Committed] == 0 || count[Returned] == 0 || count[Declined] == 0 {
		t.Fatalf("a run should see every outcome: %v", count)
	}
}

// checkHold checks one provisional transfer at rest: the payer's region
// moved exactly what the payee's hold receipted, and the rest came back.
func checkHold(t *testing.T, s *sent, st Status, want map[string]int64, count map[string]int) {
	t.Helper()
	d, r := s.to.decisionOrEmpty(t, s.from, s.o.ID), ledger.Zero
	if d == decideCredit {
		d, r = s.to.hold(t, s.from, s.o.ID)
	}
	switch st.State {
	case Committed, Returned:
		if d == Settled {
			count["held"]++
			if st.Receipted == nil || *st.Receipted != r {
				t.Fatalf("%s: the payer's region took %v, the hold receipted %s", s.o.ID, st.Receipted, r)
			}
			switch {
			case r == s.o.Amount:
				count["held-receipted"]++
			case r.IsZero():
				count["held-returned"]++
			default:
				count["held-part"]++
			}
			want[s.o.From] -= r.MicroUnits()
			want[s.o.To] += r.MicroUnits()
			return
		}
		if st.State == Committed || d == Held || d == "" && st.Reason != "abandoned" && st.Resolution == "" {
			t.Fatalf("%s: %s at the payer's region, %q at the payee's", s.o.ID, st.State, d)
		}
	case Declined:
		if d != "" {
			t.Fatalf("%s: declined by the payer's ledger, yet the receiver decided %q", s.o.ID, d)
		}
	default:
		t.Fatalf("%s: %s at rest", s.o.ID, st.State)
	}
}
