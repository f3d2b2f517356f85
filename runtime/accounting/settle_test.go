package accounting_test

import (
	"context"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/openacquire/acquire/runtime/accounting"
	"github.com/openacquire/acquire/runtime/auth"
	"github.com/openacquire/acquire/runtime/call"
	"github.com/openacquire/acquire/runtime/host"
	"github.com/openacquire/acquire/runtime/host/hosttest"
	"github.com/openacquire/acquire/runtime/identity"
	"github.com/openacquire/acquire/runtime/ledger"
	"github.com/openacquire/acquire/runtime/service"
	"github.com/openacquire/acquire/runtime/settlement"
	"github.com/openacquire/acquire/runtime/store"
)

// cuttable is a listener that can be cut off: cutting closes every open
// connection, and while cut every connection it accepts is closed at once
// (the caller sees the peer unreachable).
type cuttable struct {
	net.Listener
	cut   atomic.Bool
	mu    sync.Mutex
	conns []net.Conn
}

func (c *cuttable) Accept() (net.Conn, error) {
	for {
		conn, err := c.Listener.Accept()
		if err != nil || !c.cut.Load() {
			if err == nil {
				c.mu.Lock()
				c.conns = append(c.conns, conn)
				c.mu.Unlock()
			}
			return conn, err
		}
		_ = conn.Close()
	}
}

func (c *cuttable) setCut(on bool) {
	c.cut.Store(on)
	if !on {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, conn := range c.conns {
		_ = conn.Close()
	}
	c.conns = nil
}

// region is one host of a two-region test: its own store, identity,
// accounting (settling with the other), and users.
type xregion struct {
	env  *hosttest.Env
	acc  *accounting.Client
	ln   *cuttable
	user map[string]*identity.Session
}

func listen(t *testing.T) *cuttable {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return &cuttable{Listener: ln}
}

func accURL(ln net.Listener) string { return "http://" + ln.Addr().String() + "/accounting" }

// twoRegions starts two hosts that list each other as settlement peers,
// with users alice and carol (an admin) in the first, bob in the second.
func twoRegions(t *testing.T) (eu, us *xregion) {
	t.Helper()
	lnEU, lnUS := listen(t), listen(t)
	start := func(ln *cuttable, peer string, names ...string) *xregion {
		env := hosttest.Start(t, hosttest.Options{Kinds: host.Kinds, Listener: ln, SettlementPeers: []string{peer}})
		r := &xregion{env: env, acc: env.Accounting(), ln: ln, user: env.Users(t, pw, names...)}
		return r
	}
	eu = start(lnEU, accURL(lnUS), "alice", "carol")
	us = start(lnUS, accURL(lnEU), "bob", "dave")
	for _, r := range []*xregion{eu, us} {
		for _, admin := range []string{"carol", "dave"} {
			if s := r.user[admin]; s != nil {
				if err := r.env.Host.Accounting.AddAdmin(context.Background(), s.IdentityURL, s.UserUID); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	return eu, us
}

func (r *xregion) account(t *testing.T, user, name, deposit string) string {
	t.Helper()
	ctx := context.Background()
	a, err := r.acc.CreateAccount(ctx, r.user[user], name, amt("0"))
	if err != nil {
		t.Fatal(err)
	}
	if deposit != "0" {
		admin := r.user["carol"]
		if admin == nil {
			admin = r.user["dave"]
		}
		if _, err := r.acc.Deposit(ctx, admin, "dep-"+a.ID, a.ID, amt(deposit), ""); err != nil {
			t.Fatal(err)
		}
	}
	return a.ID
}

func (r *xregion) balance(t *testing.T, user, acc, want string) {
	t.Helper()
	b, err := r.acc.Balance(context.Background(), r.user[user], acc, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if b.Balance != amt(want) || !b.Liability.IsZero() || !b.Receivable.IsZero() {
		t.Fatalf("%s: %+v, want balance %s", acc, b, want)
	}
}

func (r *xregion) url() string { return r.env.Host.ServiceURL(accounting.Kind) }

// agree checks both ledgers' audits and that the positions cancel with
// nothing in flight; it returns eu's position with us.
func agreeRegions(t *testing.T, eu, us *xregion) ledger.Amount {
	t.Helper()
	ctx := context.Background()
	var owed []ledger.Amount
	for _, r := range []*xregion{eu, us} {
		admin := r.user["carol"]
		if admin == nil {
			admin = r.user["dave"]
		}
		// The admins' audit over the wire: the ledger's audit and the
		// positions, as `acquire account audit` shows them.
		rep, err := r.acc.Audit(ctx, admin)
		if err != nil || !rep.Clean || len(rep.Ledger.Anomalies) != 0 || rep.Ledger.Total != "0.000000" || rep.Ledger.Accounts == 0 {
			t.Fatalf("audit: %v %+v", err, rep)
		}
		ps, err := r.acc.SettlementPositions(ctx, admin)
		if err != nil || len(ps.Positions) != 1 || !ps.Positions[0].InFlight.IsZero() || len(rep.Positions) != 1 || rep.Positions[0] != ps.Positions[0] {
			t.Fatalf("positions: %+v %v (audit's: %+v)", ps, err, rep.Positions)
		}
		owed = append(owed, ps.Positions[0].Owed)
	}
	if sum, _ := owed[0].Add(owed[1]); !sum.IsZero() {
		t.Fatalf("positions disagree: %s and %s", owed[0], owed[1])
	}
	return owed[0]
}

// One pair of regions serves every cross-region test (starting hosts and
// registering users is most of their cost); the abuse test runs last, as
// it leaves the positions apart on purpose.
func TestCrossRegion(t *testing.T) {
	eu, us := twoRegions(t)
	for _, tc := range []struct {
		name string
		fn   func(*testing.T, *xregion, *xregion)
	}{{"TransferOverHTTP", crossTransfer}, {"PeerUnreachableThenSwept", crossUnreachable},
		{"ProvisionalOverHTTP", crossProvisional}, {"Abuse", crossAbuse}} {
		if !t.Run(tc.name, func(t *testing.T) { tc.fn(t, eu, us) }) {
			return
		}
	}
}

func crossTransfer(t *testing.T, eu, us *xregion) {
	ctx := context.Background()
	alice := eu.account(t, "alice", "main", "100")
	bob := us.account(t, "bob", "main", "20")
	out := accounting.OutTransfer{ID: "order-1", From: alice, Peer: us.url(), To: bob, Amount: amt("30"), Description: "rent"}
	st, err := eu.acc.TransferOut(ctx, eu.user["alice"], out)
	if err != nil || st.State != settlement.Committed || st.ID != accounting.SettlementID(accounting.Owner{IdentityURL: eu.user["alice"].IdentityURL, UserUID: eu.user["alice"].UserUID}, "order-1") {
		t.Fatalf("transfer: %+v %v", st, err)
	}
	// A retry pays once.
	if again, err := eu.acc.TransferOut(ctx, eu.user["alice"], out); err != nil || again.State != settlement.Committed || again.ID != st.ID {
		t.Fatalf("retry: %+v %v", again, err)
	}
	// Other content under the id is a conflict.
	out2 := out
	out2.Amount = amt("31")
	_, err = eu.acc.TransferOut(ctx, eu.user["alice"], out2)
	wantClass(t, err, accounting.ErrTransferConflict)
	// And back the other way.
	back := accounting.OutTransfer{ID: "order-1", From: bob, Peer: eu.url(), To: alice, Amount: amt("5")}
	if st, err := us.acc.TransferOut(ctx, us.user["bob"], back); err != nil || st.State != settlement.Committed {
		t.Fatalf("back: %+v %v", st, err)
	}
	for _, id := range []string{"order-1", st.ID} {
		if s, err := eu.acc.TransferStatus(ctx, eu.user["alice"], id); err != nil || s.State != settlement.Committed || s.Amount != amt("30") {
			t.Fatalf("status %s: %+v %v", id, s, err)
		}
	}
	eu.balance(t, "alice", alice, "75")
	us.balance(t, "bob", bob, "45")
	if owed := agreeRegions(t, eu, us); owed != amt("25") {
		t.Fatalf("eu owes %s", owed)
	}
}

// The peer cut off: the payer fails fast with PeerUnreachableError and
// its money stays held; once the peer is back, the sweep finishes it.
func crossUnreachable(t *testing.T, eu, us *xregion) {
	ctx := context.Background()
	alice := eu.account(t, "alice", "held", "100")
	bob := us.account(t, "bob", "held", "0")
	us.ln.setCut(true)
	begun := time.Now()
	_, err := eu.acc.TransferOut(ctx, eu.user["alice"], accounting.OutTransfer{ID: "p1", From: alice, Peer: us.url(), To: bob, Amount: amt("10")})
	wantClass(t, err, accounting.ErrPeerUnreachable)
	if d := time.Since(begun); d > settlement.DefaultPeerTimeout+5*time.Second {
		t.Fatalf("took %s to fail", d)
	}
	eu.balance(t, "alice", alice, "90") // held in escrow
	if s, err := eu.acc.TransferStatus(ctx, eu.user["alice"], "p1"); err != nil || s.State != settlement.Pending {
		t.Fatalf("status: %+v %v", s, err)
	}
	us.ln.setCut(false)
	eu.env.Clock.Advance(settlement.DefaultSweepAge + time.Second)
	if n, err := eu.env.Host.Accounting.Expire(ctx); err != nil || n != 1 {
		t.Fatalf("sweep: %d %v", n, err)
	}
	if s, err := eu.acc.TransferStatus(ctx, eu.user["alice"], "p1"); err != nil || s.State != settlement.Committed {
		t.Fatalf("status: %+v %v", s, err)
	}
	us.balance(t, "bob", bob, "10")
	agreeRegions(t, eu, us)
}

// A provisional cross-region transfer over HTTP: held at the payee's
// region, receipted there (in part) by the payee with the same receipt
// command as any provisional payment, refunded, or expired there; the
// payer's retry or sweep learns the outcome once. Abuse: someone else
// receipting, a payee receipting more than held, replaying a receipt,
// changing it, receipting after expiry, a receipt_by too far ahead.
func crossProvisional(t *testing.T, eu, us *xregion) {
	ctx := context.Background()
	alice := eu.account(t, "alice", "prov", "100")
	bob := us.account(t, "bob", "prov", "0")
	hold := func(id, amount string) (accounting.OutTransfer, *settlement.Status) {
		t.Helper()
		o := accounting.OutTransfer{ID: id, From: alice, Peer: us.url(), To: bob, Amount: amt(amount),
			ReceiptBy: eu.env.Clock.Now().Add(time.Minute)}
		st, err := eu.acc.TransferOut(ctx, eu.user["alice"], o)
		if err != nil || st.State != settlement.Held || !strings.HasPrefix(st.PeerCredit, "xr-") {
			t.Fatalf("hold %s: %+v %v", id, st, err)
		}
		return o, st
	}
	o1, st1 := hold("prov-1", "10")
	b, err := us.acc.Balance(ctx, us.user["bob"], bob, time.Time{})
	if err != nil || b.Receivable != amt("10") || !b.Balance.IsZero() {
		t.Fatalf("bob while held: %+v %v", b, err)
	}
	_, err = us.acc.Receipt(ctx, us.user["dave"], st1.PeerCredit, amt("1"))
	wantClass(t, err, call.ErrPermission)
	_, err = us.acc.Refund(ctx, us.user["dave"], st1.PeerCredit)
	wantClass(t, err, call.ErrPermission)
	_, err = us.acc.Receipt(ctx, us.user["bob"], st1.PeerCredit, amt("10.000001"))
	wantClass(t, err, accounting.ErrOverReceipt)
	for range 2 { // the same receipt again answers the same
		if r, err := us.acc.Receipt(ctx, us.user["bob"], st1.PeerCredit, amt("4")); err != nil || r.State != ledger.StateReceipted {
			t.Fatalf("receipt: %+v %v", r, err)
		}
	}
	_, err = us.acc.Receipt(ctx, us.user["bob"], st1.PeerCredit, amt("5"))
	wantClass(t, err, accounting.ErrAlreadyResolved)
	st, err := eu.acc.TransferOut(ctx, eu.user["alice"], o1)
	if err != nil || st.State != settlement.Committed || st.Receipted == nil || *st.Receipted != amt("4") {
		t.Fatalf("after the receipt: %+v %v", st, err)
	}

	o2, st2 := hold("prov-2", "7")
	if _, err := us.acc.Refund(ctx, us.user["bob"], st2.PeerCredit); err != nil {
		t.Fatal(err)
	}
	if st, err := eu.acc.TransferOut(ctx, eu.user["alice"], o2); err != nil || st.State != settlement.Returned ||
		st.Resolution != ledger.ResolveRefund {
		t.Fatalf("after the refund: %+v %v", st, err)
	}

	_, st3 := hold("prov-3", "5")
	eu.balance(t, "alice", alice, "91") // 100 - 4 - 5 held in escrow
	for _, r := range []*xregion{eu, us} {
		r.env.Clock.Advance(2 * time.Minute)
	}
	_, err = us.acc.Receipt(ctx, us.user["bob"], st3.PeerCredit, amt("5"))
	wantClass(t, err, accounting.ErrTransferExpired)
	if _, err := eu.env.Host.Accounting.Expire(ctx); err != nil {
		t.Fatal(err)
	}
	if s, err := eu.acc.TransferStatus(ctx, eu.user["alice"], "prov-3"); err != nil || s.State != settlement.Returned ||
		s.Resolution != ledger.ResolveExpire {
		t.Fatalf("status after expiry: %+v %v", s, err)
	}
	_, err = eu.acc.TransferOut(ctx, eu.user["alice"], accounting.OutTransfer{ID: "prov-far", From: alice, Peer: us.url(), To: bob,
		Amount: amt("1"), ReceiptBy: eu.env.Clock.Now().Add(accounting.MaxReceiptByAhead + time.Hour)})
	wantClass(t, err, call.ErrBadArguments)
	_, err = eu.acc.TransferOut(ctx, eu.user["alice"], accounting.OutTransfer{ID: "prov-past", From: alice, Peer: us.url(), To: bob,
		Amount: amt("1"), ReceiptBy: eu.env.Clock.Now().Add(-time.Second)})
	wantClass(t, err, call.ErrBadArguments)
	eu.balance(t, "alice", alice, "96")
	us.balance(t, "bob", bob, "4")
	agreeRegions(t, eu, us)
}

func crossAbuse(t *testing.T, eu, us *xregion) {
	ctx := context.Background()
	alice := eu.account(t, "alice", "abuse", "100")
	carolAcc := eu.account(t, "carol", "abuse", "100")
	bob := us.account(t, "bob", "abuse", "0")
	owed0, err := eu.env.Host.Accounting.Settler().Position(ctx, us.url())
	if err != nil {
		t.Fatal(err)
	}
	transfer := func(user, from, id, to, peer, amount string) (*settlement.Status, error) {
		return eu.acc.TransferOut(ctx, eu.user[user], accounting.OutTransfer{ID: id, From: from, Peer: peer, To: to, Amount: amt(amount)})
	}

	// Amounts: zero, negative, over the bound; a service that is no peer.
	for _, a := range []string{"0", "-1", "1000000000000.000001"} {
		x, err := ledger.ParseAmount(a)
		if err != nil {
			continue // unparseable is refused before any call
		}
		_, err = eu.acc.TransferOut(ctx, eu.user["alice"], accounting.OutTransfer{ID: "a-" + a, From: alice, Peer: us.url(), To: bob, Amount: x})
		wantClass(t, err, call.ErrBadArguments)
	}
	_, err = transfer("alice", alice, "np", bob, "http://127.0.0.1:1/accounting", "1")
	wantClass(t, err, accounting.ErrPeerNotTrusted)
	// Someone else's account, the mint, settlement accounts: refused here
	// or by the peer, the money back.
	_, err = transfer("alice", carolAcc, "steal", bob, us.url(), "1")
	wantClass(t, err, call.ErrPermission)
	for i, to := range []string{ledger.MintAccount, settlement.PositionAccount(eu.url()), settlement.EscrowAccount(eu.url()), "acct-nobody"} {
		_, err := transfer("alice", alice, "bad-"+string(rune('a'+i)), to, us.url(), "1")
		wantClass(t, err, accounting.ErrTransferAborted)
	}
	eu.balance(t, "alice", alice, "100")

	// Id collision across users: the same id of two users is two
	// transfers, and neither sees the other's.
	sa, err := transfer("alice", alice, "same", bob, us.url(), "1")
	if err != nil {
		t.Fatal(err)
	}
	sc, err := transfer("carol", carolAcc, "same", bob, us.url(), "2")
	if err != nil || sc.ID == sa.ID {
		t.Fatalf("carol's same id: %+v %v", sc, err)
	}
	_, err = eu.acc.TransferStatus(ctx, eu.user["carol"], sa.ID)
	wantClass(t, err, call.ErrNotFound)
	// The audit is for admins: alice (no admin) is refused and learns nothing.
	if rep, err := eu.acc.Audit(ctx, eu.user["alice"]); err == nil {
		t.Fatalf("a user's audit answered %+v", rep)
	} else {
		wantClass(t, err, call.ErrPermission)
	}

	// settle_credit: a user may not call it, an untrusted service may not,
	// a signature for other content is refused.
	req := settlement.CreditRequest{ID: "xt-forged", To: bob, Amount: amt("50"), CreditBy: us.env.Clock.Now().Add(time.Minute)}
	credit := func(cr auth.Credentials, r settlement.CreditRequest) error {
		var out settlement.CreditAnswer
		return us.env.Client.Call(ctx, us.url(), "settle_credit", &accounting.SettleCreditArgs{Credentials: cr, CreditRequest: r}, &out)
	}
	userCr, err := eu.user["alice"].Credentials(ctx, us.url(), accounting.SettleCreditResource(&req), eu.env.Clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	wantClass(t, credit(userCr, req), call.ErrPermission)
	stranger := strangerService(t, us.env.Clock.Now)
	strCr, err := stranger.Credentials(ctx, us.url(), accounting.SettleCreditResource(&req), time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	wantClass(t, credit(strCr, req), auth.ErrServiceNotTrusted)
	// The trusted peer's own signature, replayed for another amount.
	peerSvc := eu.env.Host.Service(accounting.Kind)
	peerCr, err := peerSvc.Credentials(ctx, us.url(), accounting.SettleCreditResource(&req), time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	more := req
	more.Amount = amt("5000")
	wantClass(t, credit(peerCr, more), auth.ErrAuthorisation)
	// Oversized amounts and far credit_by are refused by the peer's side.
	for _, r := range []settlement.CreditRequest{
		{ID: "xt-neg", To: bob, Amount: amt("-1"), CreditBy: req.CreditBy},
		{ID: "xt-far", To: bob, Amount: amt("1"), CreditBy: us.env.Clock.Now().Add(settlement.MaxWindow + time.Hour)},
	} {
		cr, _ := peerSvc.Credentials(ctx, us.url(), accounting.SettleCreditResource(&r), time.Time{})
		wantClass(t, credit(cr, r), call.ErrBadArguments)
	}
	// A credit after its credit_by is aborted, and stays aborted: a later
	// request for the id with a fresh credit_by is a conflict.
	late := settlement.CreditRequest{ID: "xt-late", To: bob, Amount: amt("3"), CreditBy: us.env.Clock.Now().Add(-time.Second)}
	var ans settlement.CreditAnswer
	if err := signedCredit(ctx, us, peerSvc, late, &ans); err != nil || ans.State != settlement.Aborted {
		t.Fatalf("late: %+v %v", ans, err)
	}
	late.CreditBy = us.env.Clock.Now().Add(time.Minute)
	wantClass(t, signedCredit(ctx, us, peerSvc, late, &ans), accounting.ErrTransferConflict)
	us.balance(t, "bob", bob, "3") // only alice's 1 and carol's 2 so far

	// A peer claiming a credit it never prepared: the trusted peer's
	// signature pays, from the PEER's own position (it owes it), once
	// however often it is replayed; and the positions no longer cancel,
	// which is how the two audits catch it.
	claim := settlement.CreditRequest{ID: "xt-never-prepared", To: bob, Amount: amt("7"), CreditBy: us.env.Clock.Now().Add(time.Minute)}
	for range 3 {
		if err := signedCredit(ctx, us, peerSvc, claim, &ans); err != nil || ans.State != settlement.Credited {
			t.Fatalf("claim: %+v %v", ans, err)
		}
	}
	us.balance(t, "bob", bob, "10")
	owed := map[string]ledger.Amount{}
	for name, r := range map[string]*xregion{"eu": eu, "us": us} {
		p, err := r.env.Host.Accounting.Settler().Position(ctx, map[string]string{"eu": us.url(), "us": eu.url()}[name])
		if err != nil {
			t.Fatal(err)
		}
		owed[name] = p.Owed
	}
	gap, _ := owed["eu"].Add(owed["us"])
	if d, _ := owed["eu"].Sub(owed0.Owed); d != amt("3") || gap != amt("-7") {
		t.Fatalf("positions after the unprepared claim: %v (want eu +3 since the start, and a gap of exactly the claim, -7)", owed)
	}
}

func signedCredit(ctx context.Context, to *xregion, from *service.Service, r settlement.CreditRequest, out *settlement.CreditAnswer) error {
	return service.SignedCall(ctx, to.env.Client, to.url(), from, "settle_credit", accounting.SettleCreditResource(&r),
		func(cr auth.Credentials) any { return &accounting.SettleCreditArgs{Credentials: cr, CreditRequest: r} }, out, false)
}

func strangerService(t *testing.T, now func() time.Time) *service.Service {
	t.Helper()
	ln := listen(t)
	_ = ln.Close()
	b := openMem(t)
	s, err := service.New(context.Background(), service.Config{Kind: "stranger", URL: "http://" + ln.Addr().String() + "/stranger", Bucket: b,
		Secret: "Stranger-Service-Secret-1", Clock: now})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func openMem(t *testing.T) *store.Bucket {
	t.Helper()
	b, err := store.Open(context.Background(), "mem://stranger-"+strings.ReplaceAll(t.Name(), "/", "-")+time.Now().Format("150405.000000000"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}
