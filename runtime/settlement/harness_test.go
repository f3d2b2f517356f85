package settlement

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/openacquire/acquire/runtime/clock"
	"github.com/openacquire/acquire/runtime/ledger"
	"github.com/openacquire/acquire/runtime/store"
	"github.com/openacquire/acquire/runtime/store/faultstore"
	"github.com/openacquire/acquire/runtime/store/memstore"
)

// The harness: two regions, each an accounting service's ledger and
// Settler over its own store (a faultstore over memory, so writes can be
// refused, lose their answer, or kill the process), linked by in-process
// Peers that can drop a request before it arrives or lose its answer
// after (a partition). A crash kills the region's process; restart opens a
// fresh one over the same store, as a new instance of the service would.

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

type region struct {
	t     *testing.T
	name  string
	url   string
	clk   *clock.Manual
	fs    *faultstore.Store
	links map[string]*link // by peer URL

	mu       sync.Mutex
	proc     *faultstore.Process
	led      *ledger.Ledger
	set      *Settler
	restarts atomic.Int64
	all      []*Settler // every instance started, for their background finishes

	writes    []string // named writes, while recording
	recording bool
}

// point names the protocol's writes (and the ledger's), so a test can
// force a fault at each; the ledger's best-effort writes are left free.
func (r *region) point(op, key string) string {
	if op == faultstore.OpGet || op == faultstore.OpList {
		return ""
	}
	name := ""
	for _, p := range []string{outPre, duePre, inPre, "ledger/transfers/", "ledger/resolutions/", "ledger/index/", "ledger/expiry/"} {
		if strings.HasPrefix(key, p) {
			name = op + " " + p
		}
	}
	if rest, ok := strings.CutPrefix(key, "ledger/accounts/"); ok && strings.Contains(rest, "/items/") {
		acc := rest[:strings.Index(rest, "/")]
		switch {
		case strings.HasPrefix(acc, PositionPrefix):
			acc = "position"
		case strings.HasPrefix(acc, EscrowPrefix):
			acc = "escrow"
		default:
			acc = "user"
		}
		name = op + " item of " + acc
	}
	if name == "" || strings.HasSuffix(key, "/head") {
		return ""
	}
	r.mu.Lock()
	if r.recording {
		r.writes = append(r.writes, name)
	}
	r.mu.Unlock()
	return name
}

func newRegion(t *testing.T, name string, clk *clock.Manual, opt faultstore.Options) *region {
	t.Helper()
	r := &region{t: t, name: name, url: "http://" + name + ".example/accounting", clk: clk, links: map[string]*link{}}
	opt.Point = r.point
	fs, err := faultstore.New(memstore.New(), opt)
	if err != nil {
		t.Fatal(err)
	}
	r.fs = fs
	return r
}

// start opens the region's service: a fresh process, ledger and Settler,
// retried while the store's faults stop it.
func (r *region) start() {
	r.t.Helper()
	for i := 0; ; i++ {
		if i > 1000 {
			r.t.Fatalf("%s: cannot start", r.name)
		}
		proc := r.fs.Process()
		b := store.NewBucket(proc)
		led, err := ledger.New(context.Background(), b, ledger.WithClock(r.clk.Now), ledger.WithLogger(quiet), ledger.WithInlineBackground())
		if err != nil {
			continue
		}
		set, err := New(Config{Self: r.url, Bucket: b, Ledger: led, Clock: r.clk.Now, Log: quiet,
			Peers: func(u string) (Peer, bool) { l, ok := r.links[u]; return l, ok }})
		if err != nil {
			r.t.Fatal(err)
		}
		r.mu.Lock()
		r.proc, r.led, r.set = proc, led, set
		r.all = append(r.all, set)
		r.mu.Unlock()
		return
	}
}

// current is the live instance.
func (r *region) current() (*Settler, *faultstore.Process) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.set, r.proc
}

// recover restarts the region if proc (the instance a call used) died and
// nobody restarted it yet.
func (r *region) recover(proc *faultstore.Process) {
	if !proc.Crashed() {
		return
	}
	r.mu.Lock()
	same := r.proc == proc
	r.mu.Unlock()
	if same {
		r.restarts.Add(1)
		r.start()
	}
}

// link is region from's Peer for region to: it can drop a request before
// it arrives, or lose the answer after the peer decided.
type link struct {
	from, to         *region
	dropBefore, lose float64
	seed             uint64
	n                atomic.Uint64
	down             atomic.Bool
	forceBefore      atomic.Int64 // the next n calls are dropped before arriving
	forceLose        atomic.Int64 // the next n calls lose their answer
}

var errPartition = errors.New("test: partition")

func (l *link) Credit(ctx context.Context, req CreditRequest) (CreditAnswer, error) {
	n := l.n.Add(1)
	x := rand.New(rand.NewPCG(l.seed, n)).Float64()
	if l.down.Load() || l.forceBefore.Add(-1) >= 0 || x < l.dropBefore {
		return CreditAnswer{}, errPartition
	}
	set, proc := l.to.current()
	ans, err := set.Credit(ctx, l.from.url, req)
	l.to.recover(proc)
	if err != nil {
		return CreditAnswer{}, fmt.Errorf("peer answered: %w", err)
	}
	if l.forceLose.Add(-1) >= 0 || x > 1-l.lose {
		return CreditAnswer{}, errPartition
	}
	return ans, nil
}

// pair links two regions both ways.
func pair(t *testing.T, opt faultstore.Options) (a, b *region, clk *clock.Manual) {
	t.Helper()
	clk = clock.NewManual(time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC))
	a, b = newRegion(t, "eu", clk, opt), newRegion(t, "us", clk, opt)
	a.links[b.url] = &link{from: a, to: b, seed: opt.Seed + 1}
	b.links[a.url] = &link{from: b, to: a, seed: opt.Seed + 2}
	a.start()
	b.start()
	return a, b, clk
}

// user creates a funded user account in the region's ledger.
func (r *region) user(name string, funds string) string {
	r.t.Helper()
	id := "acct-" + r.name + "-" + name
	for i := 0; ; i++ {
		set, proc := r.current()
		_, err := set.c.Ledger.CreateAccount(context.Background(), ledger.AccountSpec{ID: id, Owner: name, Name: name})
		if err == nil && funds != "0" {
			_, err = set.c.Ledger.Transfer(context.Background(), ledger.TransferRequest{ID: "dep-" + id, From: ledger.MintAccount,
				To: id, Amount: ledger.MustParse(funds)})
		}
		if err == nil {
			return id
		}
		r.recover(proc)
		if i > 1000 {
			r.t.Fatalf("creating %s: %v", id, err)
		}
	}
}

// send sends o from region r, retrying (after restarting a crashed
// instance) up to attempts times while the outcome is unknown. It returns
// the last status and error.
func (r *region) send(o Out, attempts int) (Status, error) {
	var st Status
	var err error
	for range attempts {
		set, proc := r.current()
		st, err = set.Send(context.Background(), o)
		r.recover(proc)
		if final(st, err) {
			return st, err
		}
	}
	return st, err
}

// final says whether a Send's answer is an outcome the payer may act on.
func final(st Status, err error) bool {
	switch {
	case err == nil:
		// Held: the payer's answer for a provisional transfer until the
		// payee's region settles the hold; Returned without an error: a
		// hold refunded or expired there.
		return st.State == Committed || st.State == Held || st.State == Returned
	case errors.Is(err, ErrAborted):
		return st.State == Returned
	case ledger.Refused(err):
		return st.State == Declined
	}
	return false
}

// settle heals everything, restarts both regions, moves the clock past
// every window and sweeps both until nothing is in flight.
func settle(t *testing.T, clk *clock.Manual, rs ...*region) {
	t.Helper()
	for _, r := range rs {
		r.fs.SetEnabled(false)
		for _, l := range r.links {
			l.down.Store(false)
			l.dropBefore, l.lose = 0, 0
			l.forceBefore.Store(0)
			l.forceLose.Store(0)
		}
		r.mu.Lock()
		all := r.all
		r.mu.Unlock()
		for _, old := range all {
			_ = old.Close() // old instances' background finishes end (or fail on their dead process)
		}
		r.start()
	}
	clk.Advance(2*DefaultWindow + DefaultSweepAge)
	for round := 0; ; round++ {
		left := 0
		for _, r := range rs {
			set, _ := r.current()
			if _, err := set.c.Ledger.Expire(context.Background(), clk.Now()); err != nil {
				left++ // holds past receipt_by expire here; the settlement sweep then learns it
			}
		}
		for _, r := range rs {
			set, _ := r.current()
			if _, err := set.Sweep(context.Background(), clk.Now()); err != nil {
				left++
				if round > 5 {
					t.Fatalf("%s: sweep: %v", r.name, err)
				}
			}
			page, err := set.c.Bucket.List(context.Background(), duePre, "", 10)
			if err != nil {
				t.Fatal(err)
			}
			left += len(page.Items)
		}
		if left == 0 {
			return
		}
		if round > 5 {
			t.Fatalf("index entries left after %d sweeps", round)
		}
	}
}

// audit checks one region's ledger and returns its settlement position
// with peer.
func (r *region) audit(t *testing.T, peer *region) Position {
	t.Helper()
	set, _ := r.current()
	rep, err := set.c.Ledger.Audit(context.Background())
	if err != nil || len(rep.Anomalies) != 0 || rep.Total != "0.000000" {
		t.Fatalf("%s: audit: %v %+v", r.name, err, rep)
	}
	p, err := set.Position(context.Background(), peer.url)
	if err != nil {
		t.Fatal(err)
	}
	if !p.InFlight.IsZero() {
		t.Fatalf("%s: %s still in escrow at rest", r.name, p.InFlight)
	}
	return p
}

// agree checks that two regions' audits agree: each ledger clean, nothing
// in flight, and what one owes the other is exactly what the other is
// owed.
func agree(t *testing.T, a, b *region) (Position, Position) {
	t.Helper()
	pa, pb := a.audit(t, b), b.audit(t, a)
	if sum, err := pa.Owed.Add(pb.Owed); err != nil || !sum.IsZero() {
		t.Fatalf("positions disagree: %s owes %s, %s owes %s", a.name, pa.Owed, b.name, pb.Owed)
	}
	return pa, pb
}

func (r *region) balance(t *testing.T, acc string) ledger.Amount {
	t.Helper()
	set, _ := r.current()
	b, err := set.c.Ledger.Balance(context.Background(), acc)
	if err != nil {
		t.Fatal(err)
	}
	if !b.Liability.IsZero() || !b.Receivable.IsZero() {
		t.Fatalf("%s: liability %s receivable %s at rest", acc, b.Liability, b.Receivable)
	}
	return b.Balance
}

// decision reads the receiving side's decision on from's transfer id ("" if
// it never heard of it).
func (r *region) decision(t *testing.T, from *region, id string) string {
	t.Helper()
	set, _ := r.current()
	var rec inRecord
	_, err := set.c.Bucket.GetJSON(context.Background(), inKey(from.url, id), &rec)
	if errors.Is(err, store.ErrNotFound) {
		return ""
	}
	if err != nil {
		t.Fatal(err)
	}
	if rec.Decision != decideCredit {
		return rec.Decision
	}
	if !rec.Request.ReceiptBy.IsZero() {
		st, _ := r.hold(t, from, id)
		return st
	}
	res, err := set.c.Ledger.Complete(context.Background(), creditID(from.url, id))
	if ledger.Refused(err) {
		return Refused
	}
	if err != nil || res.State != ledger.StateApplied {
		t.Fatalf("credit of %s: %+v %v", id, res, err)
	}
	return Credited
}

// hold reads the receiving side's hold of from's provisional transfer id:
// Held while unresolved, Settled with the receipted part once resolved,
// Refused if the ledger refused it.
func (r *region) hold(t *testing.T, from *region, id string) (string, ledger.Amount) {
	t.Helper()
	set, _ := r.current()
	res, err := set.c.Ledger.Complete(context.Background(), creditID(from.url, id))
	switch {
	case ledger.Refused(err):
		return Refused, ledger.Zero
	case err != nil:
		t.Fatalf("hold of %s: %v", id, err)
	case res.Resolution == nil:
		return Held, ledger.Zero
	}
	return Settled, res.Resolution.Receipted
}

// resolve receipts (amount > 0) or refunds (amount 0) from's provisional
// transfer id held at r, as its payee would, retrying through faults and
// restarts; it returns the ledger's last error (nil: done).
func (r *region) resolve(from *region, id string, amount ledger.Amount, attempts int) error {
	var err error
	for range attempts {
		set, proc := r.current()
		if amount.IsZero() {
			_, err = set.c.Ledger.Refund(context.Background(), creditID(from.url, id), "payee")
		} else {
			_, err = set.c.Ledger.Receipt(context.Background(), creditID(from.url, id), amount, "payee")
		}
		r.recover(proc)
		if err == nil || errors.Is(err, ledger.ErrExpired) || errors.Is(err, ledger.ErrAlreadyResolved) {
			return err
		}
	}
	return err
}

// decisionOrEmpty reads the receiving side's decision record's decision
// ("" if none).
func (r *region) decisionOrEmpty(t *testing.T, from *region, id string) string {
	t.Helper()
	set, _ := r.current()
	var rec inRecord
	_, err := set.c.Bucket.GetJSON(context.Background(), inKey(from.url, id), &rec)
	if errors.Is(err, store.ErrNotFound) {
		return ""
	}
	if err != nil {
		t.Fatal(err)
	}
	return rec.Decision
}
