package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/openacquire/acquire/runtime/access"
	"github.com/openacquire/acquire/runtime/accounting"
	"github.com/openacquire/acquire/runtime/call"
	"github.com/openacquire/acquire/runtime/compute"
	"github.com/openacquire/acquire/runtime/crypto"
	"github.com/openacquire/acquire/runtime/identity"
	"github.com/openacquire/acquire/runtime/ledger"
	"github.com/openacquire/acquire/runtime/service"
	"github.com/openacquire/acquire/runtime/storage"
)

// The operations whose cost is counted, in the order printed.
const (
	CostRegister      = "register"
	CostLogin         = "login (request + approve)"
	CostBalance       = "balance read"
	CostTransfer      = "transfer"
	CostProvisional   = "provisional transfer + receipt"
	CostChequeCash    = "cheque cash"
	CostInvoiceIssue  = "invoice issue"
	CostInvoicePay    = "invoice pay"
	CostUpload        = "upload via service"
	CostDownload      = "download via service"
	CostJob           = "job, submit to settled"
	costPerOp         = "operation"
	costPerMiB        = "MiB"
	costAmountMicros  = 10_000
	costChequeMicros  = 10_000
	costReceiptWithin = time.Hour
)

func costLines(cfg CostConfig) []costLine {
	mib := float64(cfg.FileBytes) / (1 << 20)
	return []costLine{
		{name: CostRegister, per: costPerOp, units: 1, setup: setupRegister},
		{name: CostLogin, per: costPerOp, units: 1, setup: setupLogin},
		{name: CostBalance, per: costPerOp, units: 1, setup: setupBalance},
		{name: CostTransfer, per: costPerOp, units: 1, setup: setupTransfer},
		{name: CostProvisional, per: costPerOp, units: 1, setup: setupProvisional},
		{name: CostChequeCash, per: costPerOp, units: 1, setup: setupCheque},
		{name: CostInvoiceIssue, per: costPerOp, units: 1, setup: setupInvoice(false)},
		{name: CostInvoicePay, per: costPerOp, units: 1, setup: setupInvoice(true)},
		{name: CostUpload, per: costPerMiB, units: mib, setup: setupFiles(cfg.FileBytes, true)},
		{name: CostDownload, per: costPerMiB, units: mib, setup: setupFiles(cfg.FileBytes, false)},
		{name: CostJob, per: costPerOp, units: 1, setup: setupJob},
	}
}

type costOp = func(ctx context.Context, i int) error
type costCheck = func(ctx context.Context) error

func identityOf(env *hostEnv) (*call.Client, *identity.Client) {
	c := call.NewClient(&call.MemoryPins{})
	return c, &identity.Client{C: c, URL: env.h.ServiceURL(identity.Kind)}
}

func setupRegister(_ context.Context, env *hostEnv, _ int) (costOp, costCheck, error) {
	_, id := identityOf(env)
	run := "r" + service.NewID()[:10]
	return func(ctx context.Context, i int) error {
		_, err := id.Register(ctx, fmt.Sprintf("%s-%d", run, i), benchPassword)
		return err
	}, nil, nil
}

func setupLogin(ctx context.Context, env *hostEnv, ops int) (costOp, costCheck, error) {
	c, id := identityOf(env)
	key, err := crypto.GenerateKey()
	if err != nil {
		return nil, nil, err
	}
	codes, err := recoveryCodes(ctx, id, ops, "cost-"+service.NewID()[:8])
	if err != nil {
		return nil, nil, err
	}
	return func(ctx context.Context, i int) error {
		ss, err := pendingSessions(ctx, c, id.URL, key, codes[i:i+1])
		if err != nil {
			return err
		}
		_, err = id.Approve(ctx, ss[0], benchPassword, identity.LoginOptions{RecoveryCode: codes[i].code})
		return err
	}, nil, nil
}

// payers makes two funded users, as the transfers step does.
func payers(ctx context.Context, env *hostEnv) (*transferEnv, error) {
	return newTransferEnv(ctx, env, 2)
}

func setupBalance(ctx context.Context, env *hostEnv, _ int) (costOp, costCheck, error) {
	te, err := payers(ctx, env)
	if err != nil {
		return nil, nil, err
	}
	p := te.payers[0]
	return func(ctx context.Context, _ int) error {
		_, err := te.acc.Balance(ctx, p.s, p.out, time.Time{})
		return err
	}, nil, nil
}

func setupTransfer(ctx context.Context, env *hostEnv, ops int) (costOp, costCheck, error) {
	te, err := payers(ctx, env)
	if err != nil {
		return nil, nil, err
	}
	p := te.payers[0]
	return func(ctx context.Context, _ int) error { return te.pay(ctx, p.s, p.out, te.payers[1].in) },
		func(ctx context.Context) error {
			return te.expect(ctx, te.payers[1].s, te.payers[1].in, int64(ops)*transferMicros)
		}, nil
}

func setupProvisional(ctx context.Context, env *hostEnv, ops int) (costOp, costCheck, error) {
	te, err := payers(ctx, env)
	if err != nil {
		return nil, nil, err
	}
	payer, payee := te.payers[0], te.payers[1]
	amount, _ := ledger.Micros(costAmountMicros)
	return func(ctx context.Context, i int) error {
			res, err := te.acc.Transfer(ctx, payer.s, accounting.Transfer{ID: fmt.Sprintf("%s-p%d", te.run, i), From: payer.out, To: payee.in,
				Amount: amount, ReceiptBy: time.Now().Add(costReceiptWithin)})
			if err != nil {
				return err
			}
			_, err = te.acc.Receipt(ctx, payee.s, res.ID, amount)
			return err
		}, func(ctx context.Context) error {
			return te.expect(ctx, payee.s, payee.in, int64(ops)*costAmountMicros)
		}, nil
}

// setupCheque: the payer writes a cheque to the host's access service
// (no request: it is signed on the client), which cashes it into its
// income account.
func setupCheque(ctx context.Context, env *hostEnv, ops int) (costOp, costCheck, error) {
	te, err := payers(ctx, env)
	if err != nil {
		return nil, nil, err
	}
	svc := env.h.Service(access.Kind)
	income, err := te.acc.CreateAccount(ctx, svc, access.IncomeAccount, ledger.Zero)
	if err != nil {
		return nil, nil, err
	}
	payer := te.payers[0]
	amount, _ := ledger.Micros(costChequeMicros)
	return func(ctx context.Context, _ int) error {
			now := time.Now()
			ch, err := accounting.WriteCheque(payer.s, accounting.ChequeSpec{Bank: te.acc.URL, Account: payer.out, Recipient: svc.URL(),
				Max: amount, Expires: now.Add(time.Hour), For: "cost"}, now)
			if err != nil {
				return err
			}
			res, err := te.acc.CashCheque(ctx, svc, ch, amount, income.ID, now.Add(costReceiptWithin))
			if err == nil && res.State != ledger.StatePending {
				err = fmt.Errorf("cashed cheque is %s, not pending", res.State)
			}
			return err
		}, func(ctx context.Context) error {
			b, err := te.acc.Balance(ctx, payer.s, payer.out, time.Time{})
			if err == nil && b.Liability.MicroUnits() != int64(ops)*costChequeMicros {
				err = fmt.Errorf("payer holds %d micro-units for cheques, want %d", b.Liability.MicroUnits(), int64(ops)*costChequeMicros)
			}
			return err
		}, nil
}

// setupInvoice: a service (the host's identity service, as any of the
// host's own) invoices the payer; the line counts either issuing or
// paying (then the invoices are issued in the setup).
func setupInvoice(pay bool) func(context.Context, *hostEnv, int) (costOp, costCheck, error) {
	return func(ctx context.Context, env *hostEnv, ops int) (costOp, costCheck, error) {
		te, err := payers(ctx, env)
		if err != nil {
			return nil, nil, err
		}
		shop := env.h.Service(identity.Kind)
		takings, err := te.acc.CreateAccount(ctx, shop, "takings-"+te.run, ledger.Zero)
		if err != nil {
			return nil, nil, err
		}
		payer := te.payers[0]
		amount, _ := ledger.Micros(costAmountMicros)
		issue := func(ctx context.Context, i int) (*accounting.Invoice, error) {
			return te.acc.CreateInvoice(ctx, shop, accounting.NewInvoice{Ref: fmt.Sprintf("%s-%d", te.run, i), Payee: takings.ID, Payer: payer.out,
				Amount: amount, Description: "cost", Due: time.Now().Add(24 * time.Hour)})
		}
		if !pay {
			return func(ctx context.Context, i int) error { _, err := issue(ctx, i); return err }, nil, nil
		}
		ids := make([]string, ops)
		for i := range ids {
			inv, err := issue(ctx, i)
			if err != nil {
				return nil, nil, err
			}
			ids[i] = inv.ID
		}
		return func(ctx context.Context, i int) error {
				_, err := te.acc.PayInvoice(ctx, payer.s, ids[i], amount)
				return err
			}, func(ctx context.Context) error {
				b, err := te.acc.Balance(ctx, shop, takings.ID, time.Time{})
				if err == nil && b.Balance.MicroUnits() != int64(ops)*costAmountMicros {
					err = fmt.Errorf("the payee holds %d micro-units, want %d", b.Balance.MicroUnits(), int64(ops)*costAmountMicros)
				}
				return err
			}, nil
	}
}

// setupFiles counts a file's upload (each op a new name) or download
// (each op the same file, uploaded in the setup).
func setupFiles(size int64, up bool) func(context.Context, *hostEnv, int) (costOp, costCheck, error) {
	return func(ctx context.Context, env *hostEnv, _ int) (costOp, costCheck, error) {
		fe, err := costFileEnv(ctx, env)
		if err != nil {
			return nil, nil, err
		}
		data, err := randomBytes(size)
		if err != nil {
			return nil, nil, err
		}
		put := func(ctx context.Context, name string) error {
			_, err := fe.c.Upload(ctx, fe.s, "bench", name, bytes.NewReader(data), size, storage.UploadOptions{})
			return err
		}
		if up {
			return func(ctx context.Context, i int) error { return put(ctx, fmt.Sprintf("up-%d.bin", i)) }, nil, nil
		}
		if err := put(ctx, "down.bin"); err != nil {
			return nil, nil, err
		}
		return func(ctx context.Context, _ int) error {
			var n countingWriter
			if _, err := fe.c.Download(ctx, fe.s, "bench", "down.bin", &n, storage.DownloadOptions{}); err != nil {
				return err
			}
			if int64(n) != size {
				return fmt.Errorf("downloaded %d bytes of %d", n, size)
			}
			return nil
		}, nil, nil
	}
}

// fileEnvs are the counted hosts' file users: drive names are the
// storage service's own, so both file lines share one.
var fileEnvs sync.Map // *hostEnv → *fileEnv

func costFileEnv(ctx context.Context, env *hostEnv) (*fileEnv, error) {
	if fe, ok := fileEnvs.Load(env); ok {
		return fe.(*fileEnv), nil
	}
	fe, err := newFileEnv(ctx, env)
	if err == nil {
		fileEnvs.Store(env, fe)
	}
	return fe, err
}

type countingWriter int64

func (w *countingWriter) Write(p []byte) (int, error) {
	*w += countingWriter(len(p))
	return len(p), nil
}

var _ io.Writer = (*countingWriter)(nil)

// setupJob: a user requests a job through access (a cheque, the request,
// access cashing it and submitting the job to compute); an agent claims
// it and reports it finished, and compute settles through access (settle,
// receipt). The agent's protocol is driven here, one claim per job, so
// an idle agent's polling is not counted.
func setupJob(ctx context.Context, env *hostEnv, ops int) (costOp, costCheck, error) {
	je, err := newJobEnv(ctx, env)
	if err != nil {
		return nil, nil, err
	}
	ag := &compute.AgentClient{C: je.c, URL: je.cc.URL, Key: je.key, Agent: "cost"}
	var jobs []string
	zero := 0
	return func(ctx context.Context, _ int) error {
			id, err := je.submit(ctx, 0)
			if err != nil {
				return err
			}
			j, err := ag.Claim(ctx)
			if err != nil {
				return err
			}
			if j == nil || j.ID != id {
				return errors.New("the agent did not claim the job just submitted")
			}
			if _, err := ag.Finish(ctx, j.ID, j.Attempt, compute.StateSucceeded, &zero, "", ""); err != nil {
				return err
			}
			jobs = append(jobs, id)
			return nil
		}, func(ctx context.Context) error {
			for _, id := range jobs {
				j, err := je.cc.Status(ctx, je.users[0], id)
				if err != nil {
					return err
				}
				if !j.Settled || j.State != compute.StateSucceeded {
					return fmt.Errorf("job %s is %s, settled %v", id, j.State, j.Settled)
				}
			}
			if len(jobs) != ops {
				return fmt.Errorf("%d jobs ran, want %d", len(jobs), ops)
			}
			return nil
		}, nil
}
