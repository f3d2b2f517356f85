package bench

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"sync/atomic"
	"time"

	"github.com/openacquire/acquire/runtime/accounting"
	"github.com/openacquire/acquire/runtime/call"
	"github.com/openacquire/acquire/runtime/crypto"
	"github.com/openacquire/acquire/runtime/identity"
	"github.com/openacquire/acquire/runtime/ledger"
	"github.com/openacquire/acquire/runtime/service"
)

// Each measured transfer moves transferMicros; each payer is funded with
// fundsUnits up front, enough for 10^8 transfers: far more than any run
// makes, so no transfer is refused for want of money.
const (
	transferMicros = 10_000 // 0.01
	fundsUnits     = 1_000_000
)

// transferBoundName says what a transfer's crypto bound counts.
const transferBoundName = "2 RSA decrypts + 2 RSA signs + 1 RSA verify per transfer, on one core or all cores at once"

// benchTransfers measures transfers through the accounting service with
// the full envelope: (a) every client paying from its own account into
// an account no other client touches, (b) every client paying into one
// hot account. Each client is its own logged-in user.
func benchTransfers(ctx context.Context, env *hostEnv, cfg Config, rep *Report, progress func(string)) error {
	users := slices.Max(cfg.Concurrency)
	progress(fmt.Sprintf("transfers: registering %d users and funding their accounts", users))
	te, err := newTransferEnv(ctx, env, users)
	if err != nil {
		return err
	}
	measure := func(c *Costs) { env.meter.rsa(c); env.meter.transfer(c) }
	var distinctOps, hotOps int
	for _, n := range cfg.Concurrency {
		progress(fmt.Sprintf("transfers between distinct accounts, %d concurrent", n))
		d, dc, err := measured(ctx, measure, te.workload(n, cfg.Duration, te.distinctPayee))
		if err != nil {
			return err
		}
		progress(fmt.Sprintf("transfers into one hot account, %d concurrent", n))
		h, hc, err := measured(ctx, measure, te.workload(n, cfg.Duration, func(int) string { return te.hot }))
		if err != nil {
			return err
		}
		rep.Figures = append(rep.Figures, transferFigures(n, rep.Cores, d, dc, h, hc)...)
		distinctOps, hotOps = distinctOps+d.Ops, hotOps+h.Ops
	}
	return te.check(ctx, distinctOps, hotOps)
}

// transferFigures names the figures of one level. The hot account's
// target is relative to the distinct one (contention may cost at most
// half the rate), so it gets its own line whose bound is that figure.
func transferFigures(n, cores int, d Figure, dc Costs, h Figure, hc Costs) []Figure {
	d.Name, d.BoundName, d.BoundPerSec, d.Target, d.Costs = "transfers, distinct accounts", transferBoundName, transferBound(n, cores, dc), targetAt(n, cores, 0.75), dc
	h.Name, h.BoundName, h.BoundPerSec, h.Costs = "transfers, one hot account", transferBoundName, transferBound(n, cores, hc), hc
	r := h
	r.Name, r.BoundName, r.BoundPerSec, r.Target = "transfers, hot vs distinct", "the distinct-accounts figure at these clients", d.PerSecond, 0.5
	return []Figure{withRatio(d), withRatio(h), withRatio(r)}
}

// transferBound: the caller signs its authorisation, the envelope costs 2
// decrypts and a sign, and the service verifies the authorisation (its
// session cache is warm).
func transferBound(n, cores int, c Costs) float64 {
	return bound(n, cores, 2*c.DecryptMs+2*c.SignMs+c.VerifyMs, c.TransferParallelPerSec)
}

// transfer samples the all-cores rate of a transfer's RSA work.
func (m *meter) transfer(c *Costs) {
	c.TransferParallelPerSec = parallelRate(runtime.NumCPU(), 8, func() {
		_, _ = m.key.Sign(m.msg)
		_, _ = m.key.Decrypt(m.ct)
		_, _ = m.key.Decrypt(m.ct)
		_, _ = m.key.Sign(m.ct)
		_ = m.key.Public().Verify(m.msg, m.sig)
	})
}

// payer is one client's user: it pays from its funded account out, and
// the client before it pays into its account in.
type payer struct {
	s       *identity.Session
	out, in string
}

type transferEnv struct {
	c      *call.Client
	id     *identity.Client
	acc    *accounting.Client
	key    *crypto.PrivateKey
	run    string // prefix of this run's user names and transfer ids: a --store may hold earlier runs
	admin  *identity.Session
	hot    string // the admin's account every client pays into
	payers []payer
	ids    atomic.Int64
}

func newTransferEnv(ctx context.Context, env *hostEnv, users int) (*transferEnv, error) {
	c := call.NewClient(&call.MemoryPins{})
	// One session key for every user: generating keys is the client's
	// cost, not the service's, and would only slow the setup.
	key, err := crypto.GenerateKey()
	if err != nil {
		return nil, err
	}
	te := &transferEnv{c: c, id: &identity.Client{C: c, URL: env.h.ServiceURL(identity.Kind)},
		acc: &accounting.Client{C: c, URL: env.h.ServiceURL(accounting.Kind)}, key: key, run: "t" + service.NewID()[:10],
		payers: make([]payer, users)}
	if te.admin, err = te.login(ctx, "admin"); err != nil {
		return nil, err
	}
	if err := env.h.Accounting.AddAdmin(ctx, te.id.URL, te.admin.UserUID); err != nil {
		return nil, err
	}
	hot, err := te.acc.CreateAccount(ctx, te.admin, "hot", ledger.Zero)
	if err != nil {
		return nil, err
	}
	te.hot = hot.ID
	// Registration hashes a password: overlap it with the calls' waits.
	s := runSlice(ctx, 2*runtime.NumCPU(), 0, 0, users, func(ctx context.Context, _, i int) error {
		return te.addPayer(ctx, i)
	})
	if s.firstErr != nil {
		return nil, s.firstErr
	}
	return te, ctx.Err() // a cancelled setup stops early without an error of its own
}

// login registers a user and logs it in with a recovery code.
func (te *transferEnv) login(ctx context.Context, who string) (*identity.Session, error) {
	reg, err := te.id.Register(ctx, te.run+"-"+who, benchPassword)
	if err != nil {
		return nil, err
	}
	ss, err := pendingSessions(ctx, te.c, te.id.URL, te.key, []userCode{{user: reg.Username}})
	if err != nil {
		return nil, err
	}
	_, err = te.id.Approve(ctx, ss[0], benchPassword, identity.LoginOptions{RecoveryCode: reg.RecoveryCodes[0]})
	return ss[0], err
}

// addPayer makes payer i: a user with a funded account and an empty one.
// Reading the funded balance back checks the deposit and warms the
// service's session and account caches, as the bound assumes.
func (te *transferEnv) addPayer(ctx context.Context, i int) error {
	s, err := te.login(ctx, fmt.Sprintf("payer-%d", i))
	if err != nil {
		return err
	}
	out, err := te.acc.CreateAccount(ctx, s, "out", ledger.Zero)
	if err != nil {
		return err
	}
	in, err := te.acc.CreateAccount(ctx, s, "in", ledger.Zero)
	if err != nil {
		return err
	}
	funds, err := ledger.Units(fundsUnits)
	if err != nil {
		return err
	}
	if _, err := te.acc.Deposit(ctx, te.admin, te.run+"-fund-"+out.ID, out.ID, funds, "bench funds"); err != nil {
		return err
	}
	te.payers[i] = payer{s: s, out: out.ID, in: in.ID}
	return te.expect(ctx, s, out.ID, funds.MicroUnits())
}

// distinctPayee is the account client pays into: the next payer's, so
// no two clients touch one account at any level.
func (te *transferEnv) distinctPayee(client int) string {
	return te.payers[(client+1)%len(te.payers)].in
}

func (te *transferEnv) workload(n int, d time.Duration, payee func(client int) string) workload {
	return workload{conc: n, d: d, rounds: timedRounds, op: func(ctx context.Context, client, _ int) error {
		p := te.payers[client]
		return te.pay(ctx, p.s, p.out, payee(client))
	}}
}

// pay makes one transfer under a fresh id (the ledger is exactly-once per id).
func (te *transferEnv) pay(ctx context.Context, s *identity.Session, from, to string) error {
	amount, err := ledger.Micros(transferMicros)
	if err != nil {
		return err
	}
	id := fmt.Sprintf("%s-%d", te.run, te.ids.Add(1))
	res, err := te.acc.Transfer(ctx, s, accounting.Transfer{ID: id, From: from, To: to, Amount: amount})
	if err == nil && res.State != ledger.StateApplied {
		err = fmt.Errorf("bench: transfer %s is %s, not applied", id, res.State)
	}
	return err
}

// check reads the payees' balances back: every transfer counted in a
// figure must have arrived, once.
func (te *transferEnv) check(ctx context.Context, distinctOps, hotOps int) error {
	if err := te.expect(ctx, te.admin, te.hot, int64(hotOps)*transferMicros); err != nil {
		return err
	}
	var sum int64
	for _, p := range te.payers {
		b, err := te.acc.Balance(ctx, p.s, p.in, time.Time{})
		if err != nil {
			return err
		}
		sum += b.Balance.MicroUnits()
	}
	if want := int64(distinctOps) * transferMicros; sum != want {
		return fmt.Errorf("bench: distinct payees hold %d micro-units, want %d from %d transfers", sum, want, distinctOps)
	}
	return nil
}

func (te *transferEnv) expect(ctx context.Context, s *identity.Session, account string, micros int64) error {
	b, err := te.acc.Balance(ctx, s, account, time.Time{})
	if err != nil {
		return err
	}
	if got := b.Balance.MicroUnits(); got != micros {
		return fmt.Errorf("bench: account %s holds %d micro-units, want %d", account, got, micros)
	}
	return nil
}
