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

func amt(s string) ledger.Amount { return ledger.MustParse(s) }

func wantBalance(t *testing.T, r *region, acc, want string) {
	t.Helper()
	if got := r.balance(t, acc); got != amt(want) {
		t.Fatalf("%s in %s: balance %s, want %s", acc, r.name, got, want)
	}
}

func TestTransferBothWaysAndAuditsAgree(t *testing.T) {
	a, b, clk := pair(t, faultstore.Options{})
	alice, bob := a.user("alice", "100"), b.user("bob", "50")
	st, err := a.send(Out{ID: "xt-1", From: alice, Peer: b.url, To: bob, Amount: amt("30")}, 1)
	if err != nil || st.State != Committed || st.PeerDecided != Credited {
		t.Fatalf("send: %+v %v", st, err)
	}
	st, err = b.send(Out{ID: "xt-1", From: bob, Peer: a.url, To: alice, Amount: amt("5.5")}, 1) // same id, other direction: no clash
	if err != nil || st.State != Committed {
		t.Fatalf("send back: %+v %v", st, err)
	}
	// A retry pays once and answers the same.
	again, err := a.send(Out{ID: "xt-1", From: alice, Peer: b.url, To: bob, Amount: amt("30")}, 1)
	if err != nil || again.State != Committed || again.Finish != st.Finish && again.Finish != finishID("xt-1") {
		t.Fatalf("retry: %+v %v", again, err)
	}
	// The same id with other content is a conflict and moves nothing.
	_, err = a.send(Out{ID: "xt-1", From: alice, Peer: b.url, To: bob, Amount: amt("31")}, 1)
	if !errors.Is(err, ErrConflict) {
		t.Fatalf("conflict: %v", err)
	}
	settle(t, clk, a, b)
	wantBalance(t, a, alice, "75.5")
	wantBalance(t, b, bob, "74.5")
	pa, pb := agree(t, a, b)
	if pa.Owed != amt("24.5") || pb.Owed != amt("-24.5") {
		t.Fatalf("positions %+v %+v", pa, pb)
	}
	sa, _ := a.current()
	if st, err := sa.Status(context.Background(), "xt-1"); err != nil || st.State != Committed {
		t.Fatalf("status: %+v %v", st, err)
	}
}

func TestDeclinedForFundsMovesNothing(t *testing.T) {
	a, b, clk := pair(t, faultstore.Options{})
	alice, bob := a.user("alice", "10"), b.user("bob", "0")
	st, err := a.send(Out{ID: "xt-big", From: alice, Peer: b.url, To: bob, Amount: amt("10.000001")}, 1)
	if !errors.Is(err, ledger.ErrInsufficientFunds) || st.State != Declined {
		t.Fatalf("%+v %v", st, err)
	}
	if d := b.decision(t, a, "xt-big"); d != "" {
		t.Fatalf("the peer was asked: %s", d)
	}
	settle(t, clk, a, b)
	wantBalance(t, a, alice, "10")
	wantBalance(t, b, bob, "0")
	agree(t, a, b)
}

// A payee that does not exist, the mint, a settlement account: the peer
// decides "refused" and the payer's money comes back, exactly.
func TestPeerRefusalReturnsTheMoney(t *testing.T) {
	a, b, clk := pair(t, faultstore.Options{})
	alice := a.user("alice", "10")
	for i, to := range []string{"acct-nobody", ledger.MintAccount, PositionAccount(a.url), EscrowAccount(a.url)} {
		id := fmt.Sprintf("xt-r%d", i)
		st, err := a.send(Out{ID: id, From: alice, Peer: b.url, To: to, Amount: amt("4")}, 1)
		if !errors.Is(err, ErrAborted) || st.State != Returned || st.PeerDecided != Refused {
			t.Fatalf("to %s: %+v %v", to, st, err)
		}
	}
	settle(t, clk, a, b)
	wantBalance(t, a, alice, "10")
	agree(t, a, b)
}

// A partition at the ask fails fast with ErrPeerUnreachable and holds the
// money; a retry once it heals finishes the transfer; a partition that
// outlasts credit_by ends in the money returned, decided by the peer.
func TestPartitionHoldsThenFinishes(t *testing.T) {
	a, b, clk := pair(t, faultstore.Options{})
	alice, bob := a.user("alice", "100"), b.user("bob", "0")
	l := a.links[b.url]
	l.down.Store(true)
	o := Out{ID: "xt-p1", From: alice, Peer: b.url, To: bob, Amount: amt("10")}
	st, err := a.send(o, 1)
	if !errors.Is(err, ErrPeerUnreachable) || st.State != Pending {
		t.Fatalf("partitioned: %+v %v", st, err)
	}
	sa, _ := a.current()
	if bal, _ := sa.c.Ledger.Balance(context.Background(), alice); bal.Balance != amt("90") {
		t.Fatalf("held: %+v", bal)
	}
	// The sweep while still partitioned leaves it held.
	clk.Advance(DefaultSweepAge)
	if _, err := sa.Sweep(context.Background(), clk.Now()); !errors.Is(err, ErrSweepIncomplete) {
		t.Fatalf("sweep under partition: %v", err)
	}
	l.down.Store(false)
	if st, err := a.send(o, 1); err != nil || st.State != Committed {
		t.Fatalf("after healing: %+v %v", st, err)
	}
	// Outlasting credit_by: the peer aborts on first hearing of it.
	l.down.Store(true)
	o2 := Out{ID: "xt-p2", From: alice, Peer: b.url, To: bob, Amount: amt("7")}
	if _, err := a.send(o2, 1); !errors.Is(err, ErrPeerUnreachable) {
		t.Fatal(err)
	}
	clk.Advance(DefaultWindow + time.Second)
	l.down.Store(false)
	_ = sa.Close() // xt-p1's finish, in the background, is done
	if n, err := sa.Sweep(context.Background(), clk.Now()); err != nil || n != 1 {
		t.Fatalf("sweep: %d %v", n, err)
	}
	if st, err := sa.Status(context.Background(), o2.ID); err != nil || st.State != Returned {
		t.Fatalf("status: %+v %v", st, err)
	}
	if d := b.decision(t, a, o2.ID); d != Aborted {
		t.Fatalf("peer decided %q", d)
	}
	settle(t, clk, a, b)
	wantBalance(t, a, alice, "90")
	wantBalance(t, b, bob, "10")
	agree(t, a, b)
}

// A lost answer: the peer credited, the sender did not hear. The retry
// learns the same decision and commits; nothing is paid twice.
func TestLostAnswerCommitsOnce(t *testing.T) {
	a, b, clk := pair(t, faultstore.Options{})
	alice, bob := a.user("alice", "100"), b.user("bob", "0")
	a.links[b.url].forceLose.Store(2)
	o := Out{ID: "xt-lost", From: alice, Peer: b.url, To: bob, Amount: amt("10")}
	for range 2 {
		if _, err := a.send(o, 1); !errors.Is(err, ErrPeerUnreachable) {
			t.Fatal(err)
		}
	}
	if d := b.decision(t, a, o.ID); d != Credited {
		t.Fatalf("peer: %q", d)
	}
	// Past credit_by, with the peer cut off, the sender cannot know what
	// the peer decided: the money stays held (returning it now would pay
	// twice, since the peer credited).
	clk.Advance(DefaultWindow + DefaultSweepAge)
	sa, _ := a.current()
	a.links[b.url].down.Store(true)
	if _, err := sa.Sweep(context.Background(), clk.Now()); !errors.Is(err, ErrSweepIncomplete) {
		t.Fatalf("sweep under partition: %v", err)
	}
	if st, err := sa.Status(context.Background(), o.ID); err != nil || st.State != Pending {
		t.Fatalf("status under partition: %+v %v", st, err)
	}
	// Once the peer answers, its decision stands, late as it is: commit.
	a.links[b.url].down.Store(false)
	if n, err := sa.Sweep(context.Background(), clk.Now()); err != nil || n != 1 {
		t.Fatalf("sweep: %d %v", n, err)
	}
	settle(t, clk, a, b)
	wantBalance(t, a, alice, "90")
	wantBalance(t, b, bob, "10")
	agree(t, a, b)
}
