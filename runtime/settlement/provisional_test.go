package settlement

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/openacquire/acquire/runtime/ledger"
	"github.com/openacquire/acquire/runtime/store/faultstore"
)

// provisional is a cross-region transfer held at the payee's region until
// receiptBy after the shared clock's now.
func provisional(id, from string, to *region, payee, amount string, clk interface{ Now() time.Time }, receiptBy time.Duration) Out {
	return Out{ID: id, From: from, Peer: to.url, To: payee, Amount: amt(amount), ReceiptBy: clk.Now().Add(receiptBy)}
}

func wantHeld(t *testing.T, st Status, err error) {
	t.Helper()
	if err != nil || st.State != Held || st.PeerCredit == "" || st.ReceiptBy.IsZero() {
		t.Fatalf("want held: %+v %v", st, err)
	}
}

// wantState reads the balance, liability and receivable of acc.
func wantState(t *testing.T, r *region, acc, balance, liability, receivable string) {
	t.Helper()
	set, _ := r.current()
	b, err := set.c.Ledger.Balance(context.Background(), acc)
	if err != nil {
		t.Fatal(err)
	}
	if b.Balance != amt(balance) || b.Liability != amt(liability) || b.Receivable != amt(receivable) {
		t.Fatalf("%s in %s: balance %s liability %s receivable %s, want %s %s %s", acc, r.name, b.Balance, b.Liability,
			b.Receivable, balance, liability, receivable)
	}
}

// Each way a hold at the payee's region ends: receipted in full, in part,
// refunded, expired there. The payer's region learns each exactly once (a
// retry of the same transfer, or its sweep) and moves the receipted part
// to the position and the rest back to the payer.
func TestProvisionalOutcomes(t *testing.T) {
	a, b, clk := pair(t, faultstore.Options{})
	alice, bob := a.user("alice", "100"), b.user("bob", "0")
	outs := map[string]Out{}
	for _, c := range []struct{ id, amount string }{{"full", "10"}, {"part", "10"}, {"refund", "10"}, {"expire", "10"}} {
		o := provisional("xt-"+c.id, alice, b, bob, c.amount, clk, 30*time.Second)
		outs[c.id] = o
		st, err := a.send(o, 1)
		wantHeld(t, st, err)
	}
	// Held: the payer's money is in escrow here, the payee's receivable
	// there, the peer's credit (its position's available) in use.
	wantState(t, a, alice, "60", "0", "0")
	wantState(t, b, bob, "0", "0", "40")
	// Its status, which asks no peer, says it is held there, until when,
	// and that the payee there decides.
	sa0, _ := a.current()
	if st, err := sa0.Status(context.Background(), "xt-full"); err != nil || st.State != Held || st.PeerCredit == "" ||
		st.DecidedBy != DecidedByPayee || !st.ReceiptBy.Equal(outs["full"].ReceiptBy) {
		t.Fatalf("status while held: %+v %v", st, err)
	}
	// A retry while held answers held again and moves nothing.
	if st, err := a.send(outs["full"], 1); err != nil || st.State != Held {
		t.Fatalf("retry while held: %+v %v", st, err)
	}
	if err := b.resolve(a, "xt-full", amt("10"), 1); err != nil {
		t.Fatal(err)
	}
	if err := b.resolve(a, "xt-part", amt("3.5"), 1); err != nil {
		t.Fatal(err)
	}
	if err := b.resolve(a, "xt-refund", ledger.Zero, 1); err != nil {
		t.Fatal(err)
	}
	wantState(t, b, bob, "13.5", "0", "10")
	for id, want := range map[string]struct {
		state, receipted string
	}{"full": {Committed, "10"}, "part": {Committed, "3.5"}, "refund": {Returned, "0"}} {
		st, err := a.send(outs[id], 1)
		if err != nil || st.State != want.state || st.Receipted == nil || *st.Receipted != amt(want.receipted) || st.PeerDecided != Settled {
			t.Fatalf("%s: %+v %v", id, st, err)
		}
		again, err := a.send(outs[id], 1) // the same answer, nothing more moved
		if err != nil || again.State != st.State || *again.Receipted != *st.Receipted {
			t.Fatalf("%s again: %+v %v", id, again, err)
		}
	}
	wantState(t, a, alice, "76.5", "0", "0") // 100 - 10 (expire, still held) - 10 - 3.5
	// The last one expires at the payee's region by its own sweep; the
	// payer's sweep learns it.
	clk.Advance(31 * time.Second)
	sb, _ := b.current()
	if n, err := sb.c.Ledger.Expire(context.Background(), clk.Now()); err != nil || n != 1 {
		t.Fatalf("expire at the payee's region: %d %v", n, err)
	}
	sa, _ := a.current()
	if n, err := sa.Sweep(context.Background(), clk.Now()); err != nil || n != 1 {
		t.Fatalf("sweep at the payer's region: %d %v", n, err)
	}
	st, err := sa.Status(context.Background(), "xt-expire")
	if err != nil || st.State != Returned || st.Resolution != ledger.ResolveExpire || *st.Receipted != ledger.Zero {
		t.Fatalf("status of the expired one: %+v %v", st, err)
	}
	if st, err := sa.Status(context.Background(), "xt-part"); err != nil || st.State != Committed || *st.Receipted != amt("3.5") ||
		st.Return != returnID("xt-part") || st.DecidedBy != "" {
		t.Fatalf("status of the part-receipted one: %+v %v", st, err)
	}
	settle(t, clk, a, b)
	wantBalance(t, a, alice, "86.5")
	wantBalance(t, b, bob, "13.5")
	if pa, _ := agree(t, a, b); pa.Owed != amt("13.5") {
		t.Fatalf("position %+v", pa)
	}
}

// The payer's region is down (cut off, its process gone) when the hold's
// receipt_by passes: the hold expires at the payee's region by that
// region's own sweep, the payee's receivable and the peer's credit are
// released there at once; when the payer's region returns, its sweep
// learns the expiry and the money goes back to the payer, exactly.
func TestProvisionalExpiresWhilePayerRegionIsDown(t *testing.T) {
	a, b, clk := pair(t, faultstore.Options{})
	alice, bob := a.user("alice", "100"), b.user("bob", "0")
	o := provisional("xt-h", alice, b, bob, "25", clk, 5*time.Second)
	st, err := a.send(o, 1)
	wantHeld(t, st, err)
	a.links[b.url].down.Store(true) // a is gone: nothing of a runs or answers
	b.links[a.url].down.Store(true)
	clk.Advance(6 * time.Second)
	sb, _ := b.current()
	if n, err := sb.c.Ledger.Expire(context.Background(), clk.Now()); err != nil || n != 1 {
		t.Fatalf("expiry at b while a is down: %d %v", n, err)
	}
	wantState(t, b, bob, "0", "0", "0")
	if err := b.resolve(a, o.ID, amt("25"), 1); !errors.Is(err, ledger.ErrExpired) {
		t.Fatalf("receipt after expiry: %v", err)
	}
	// a returns.
	a.links[b.url].down.Store(false)
	b.links[a.url].down.Store(false)
	clk.Advance(DefaultSweepAge)
	sa, _ := a.current()
	if n, err := sa.Sweep(context.Background(), clk.Now()); err != nil || n != 1 {
		t.Fatalf("a's sweep after it returned: %d %v", n, err)
	}
	wantBalance(t, a, alice, "100")
	settle(t, clk, a, b)
	wantBalance(t, b, bob, "0")
	if pa, _ := agree(t, a, b); !pa.Owed.IsZero() {
		t.Fatalf("position %+v", pa)
	}
}

// The payee's region is cut off when receipt_by passes: the payer's region
// cannot know whether the payee receipted in time, so the money stays
// held (returning it on a timer would pay twice); the hold expires at the
// payee's region by its rule on the first touch after receipt_by (no
// receipt can succeed from then on), and the payer's next ask learns it.
// A receipt made in time while cut off is honoured when the link heals.
func TestProvisionalPayeeRegionCutOff(t *testing.T) {
	a, b, clk := pair(t, faultstore.Options{})
	alice, bob := a.user("alice", "100"), b.user("bob", "0")
	late := provisional("xt-late", alice, b, bob, "10", clk, 5*time.Second)
	kept := provisional("xt-kept", alice, b, bob, "20", clk, 5*time.Second)
	for _, o := range []Out{late, kept} {
		st, err := a.send(o, 1)
		wantHeld(t, st, err)
	}
	a.links[b.url].down.Store(true)
	if err := b.resolve(a, kept.ID, amt("20"), 1); err != nil { // in time, a does not hear it
		t.Fatal(err)
	}
	clk.Advance(DefaultSweepAge)
	sa, _ := a.current()
	if _, err := sa.Sweep(context.Background(), clk.Now()); !errors.Is(err, ErrSweepIncomplete) {
		t.Fatalf("sweep while b is cut off: %v", err)
	}
	wantState(t, a, alice, "70", "0", "0") // both held in escrow, not returned
	if err := b.resolve(a, late.ID, amt("10"), 1); !errors.Is(err, ledger.ErrExpired) {
		t.Fatalf("a receipt after receipt_by, before any sweep there: %v", err)
	}
	a.links[b.url].down.Store(false)
	if n, err := sa.Sweep(context.Background(), clk.Now()); err != nil || n != 2 {
		t.Fatalf("sweep after healing: %d %v", n, err)
	}
	settle(t, clk, a, b)
	wantBalance(t, a, alice, "80")
	wantBalance(t, b, bob, "20")
	agree(t, a, b)
}

// The receiving side decided to hold, and its process died before the
// hold was in its ledger; by the time anyone asks again receipt_by has
// passed. The hold is still recorded (the decision was made in time) and
// expires at once: the payer gets the money back, the payee can never
// receipt it, and nothing is left undecided.
func TestProvisionalDecidedThenStalledPastReceiptBy(t *testing.T) {
	a, b, clk := pair(t, faultstore.Options{})
	alice, bob := a.user("alice", "100"), b.user("bob", "0")
	b.arm(t, faultstore.OpPutIfAbsent+" "+inPre, 0, faultstore.CrashAfter)
	o := provisional("xt-stall", alice, b, bob, "10", clk, 5*time.Second)
	if _, err := a.send(o, 1); !errors.Is(err, ErrPeerUnreachable) {
		t.Fatalf("first ask: %v", err)
	}
	if d := b.decisionRecord(t, a, o.ID); d != decideCredit {
		t.Fatalf("decision %q", d)
	}
	clk.Advance(6 * time.Second)
	st, err := a.send(o, 1)
	if err != nil || st.State != Returned || st.Resolution != ledger.ResolveExpire {
		t.Fatalf("after the stall: %+v %v", st, err)
	}
	if err := b.resolve(a, o.ID, amt("10"), 1); !errors.Is(err, ledger.ErrExpired) {
		t.Fatalf("receipt of a hold recorded late: %v", err)
	}
	settle(t, clk, a, b)
	wantBalance(t, a, alice, "100")
	wantBalance(t, b, bob, "0")
	agree(t, a, b)
}

func (r *region) decisionRecord(t *testing.T, from *region, id string) string {
	t.Helper()
	set, _ := r.current()
	var rec inRecord
	if _, err := set.c.Bucket.GetJSON(context.Background(), inKey(from.url, id), &rec); err != nil {
		t.Fatal(err)
	}
	return rec.Decision
}

// Abuse of provisional cross-region transfers: a payee receipting more
// than is held, receipting after expiry, replaying a receipt or changing
// it, the same id with another receipt_by, receipt_by in the past or too
// far ahead, and a peer asking for a hold that expires before it may be
// decided. Each is refused with its typed error and moves nothing.
func TestProvisionalAbuse(t *testing.T) {
	a, b, clk := pair(t, faultstore.Options{})
	alice, bob := a.user("alice", "100"), b.user("bob", "0")
	o := provisional("xt-abuse", alice, b, bob, "10", clk, 30*time.Second)
	st, err := a.send(o, 1)
	wantHeld(t, st, err)
	if err := b.resolve(a, o.ID, amt("10.000001"), 1); !errors.Is(err, ledger.ErrOverReceipt) {
		t.Fatalf("over-receipt: %v", err)
	}
	if err := b.resolve(a, o.ID, amt("4"), 1); err != nil {
		t.Fatal(err)
	}
	if err := b.resolve(a, o.ID, amt("4"), 1); err != nil { // the same receipt again: the same result
		t.Fatalf("replayed receipt: %v", err)
	}
	if err := b.resolve(a, o.ID, amt("5"), 1); !errors.Is(err, ledger.ErrAlreadyResolved) {
		t.Fatalf("a second, other receipt: %v", err)
	}
	if err := b.resolve(a, o.ID, ledger.Zero, 1); !errors.Is(err, ledger.ErrAlreadyResolved) {
		t.Fatalf("refund after receipt: %v", err)
	}
	other := o
	other.ReceiptBy = o.ReceiptBy.Add(time.Second)
	if _, err := a.send(other, 1); !errors.Is(err, ErrConflict) {
		t.Fatalf("same id, other receipt_by: %v", err)
	}
	direct := o
	direct.ReceiptBy = time.Time{}
	if _, err := a.send(direct, 1); !errors.Is(err, ErrConflict) {
		t.Fatalf("same id, direct: %v", err)
	}
	if _, err := a.send(provisional("xt-past", alice, b, bob, "1", clk, -time.Second), 1); !errors.Is(err, ErrInvalid) {
		t.Fatalf("receipt_by in the past: %v", err)
	}
	if _, err := a.send(provisional("xt-far", alice, b, bob, "1", clk, MaxReceiptBy+time.Hour), 1); !errors.Is(err, ErrInvalid) {
		t.Fatalf("receipt_by too far: %v", err)
	}
	sb, _ := b.current()
	now := clk.Now()
	if _, err := sb.Credit(context.Background(), a.url, CreditRequest{ID: "xt-odd", To: bob, Amount: amt("1"),
		CreditBy: now.Add(time.Minute), ReceiptBy: now.Add(time.Second)}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("a hold expiring before its credit_by: %v", err)
	}
	// A peer cannot turn a held transfer into a direct credit: the same
	// id without receipt_by is a conflict at the receiving side.
	rec, err := sa(a).outRecord(context.Background(), o.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sb.Credit(context.Background(), a.url, CreditRequest{ID: o.ID, To: bob, Amount: rec.Amount, CreditBy: rec.CreditBy}); !errors.Is(err, ErrConflict) {
		t.Fatalf("the hold asked as a direct credit: %v", err)
	}
	if st, err := a.send(o, 1); err != nil || st.State != Committed || *st.Receipted != amt("4") {
		t.Fatalf("after the receipt: %+v %v", st, err)
	}
	settle(t, clk, a, b)
	wantBalance(t, a, alice, "96")
	wantBalance(t, b, bob, "4")
	agree(t, a, b)
}

func sa(r *region) *Settler { s, _ := r.current(); return s }

// Every write of a provisional transfer, on either side, through its
// whole life (hold, receipt in part at the payee's region, the payer
// learning it; and, separately, the hold expiring there), in turn:
// refused, landed with its answer lost, and the writing process killed
// just before and just after it. Each run must end with exactly the
// receipted part moved and the rest back, both audits agreeing.
func TestProvisionalCrashAtEveryStep(t *testing.T) {
	type life struct {
		name      string
		receipted string // "" : left to expire
	}
	runs := 0
	for _, l := range []life{{"receipt", "6"}, {"expire", ""}} {
		run := func(t *testing.T, a, b *region, clk interface {
			Now() time.Time
			Advance(time.Duration)
		}, alice, bob string) {
			o := Out{ID: "xt-1", From: alice, Peer: b.url, To: bob, Amount: amt("10"), ReceiptBy: clk.Now().Add(30 * time.Second)}
			st, err := a.send(o, 6)
			if err != nil || st.State != Held {
				t.Fatalf("send: %+v %v", st, err)
			}
			if l.receipted != "" {
				if err := b.resolve(a, o.ID, amt(l.receipted), 6); err != nil {
					t.Fatalf("receipt: %v", err)
				}
			} else {
				clk.Advance(31 * time.Second)
				for i := 0; ; i++ {
					set, proc := b.current()
					_, err := set.c.Ledger.Expire(context.Background(), clk.Now())
					b.recover(proc)
					if err == nil {
						break
					}
					if i > 6 {
						t.Fatalf("expire: %v", err)
					}
				}
			}
			st, err = a.send(o, 6)
			want := Committed
			if l.receipted == "" {
				want = Returned
			}
			if err != nil || st.State != want {
				t.Fatalf("learning the outcome: %+v %v", st, err)
			}
		}
		a, b, clk := pair(t, faultstore.Options{})
		alice, bob := a.user("alice", "100"), b.user("bob", "0")
		var aw, bw []string
		aw = a.record(func() { bw = b.record(func() { run(t, a, b, clk, alice, bob) }) })
		if len(aw) < 8 || len(bw) < 6 {
			t.Fatalf("%s: recorded writes: sender %q receiver %q", l.name, aw, bw)
		}
		t.Logf("%s: sender writes %d %q; receiver writes %d %q", l.name, len(aw), aw, len(bw), bw)
		faults := []faultstore.Fault{faultstore.FailBefore, faultstore.FailAfter, faultstore.CrashBefore, faultstore.CrashAfter}
		for side, writes := range map[string][]string{"sender": aw, "receiver": bw} {
			seen := map[string]int{}
			for _, point := range writes {
				occ := seen[point]
				seen[point]++
				for _, f := range faults {
					t.Run(fmt.Sprintf("%s/%s/%s#%d/%s", l.name, side, point, occ, f), func(t *testing.T) {
						a, b, clk := pair(t, faultstore.Options{})
						alice, bob := a.user("alice", "100"), b.user("bob", "0")
						target := a
						if side == "receiver" {
							target = b
						}
						target.arm(t, point, occ, f)
						run(t, a, b, clk, alice, bob)
						settle(t, clk, a, b)
						got := "0"
						if l.receipted != "" {
							got = l.receipted
						}
						wantBalance(t, b, bob, got)
						moved := amt(got)
						left, _ := amt("100").Sub(moved)
						if bal := a.balance(t, alice); bal != left {
							t.Fatalf("alice %s, want %s", bal, left)
						}
						if pa, _ := agree(t, a, b); pa.Owed != moved {
							t.Fatalf("position %+v", pa)
						}
					})
					runs++
				}
			}
		}
	}
	t.Logf("%d faulted runs", runs)
}
