package accounting

// The admins' audit over the wire: the ledger's own audit (runtime/ledger,
// walked in parts within a fixed memory budget) and the settlement
// positions with every peer, so "both regions' audits agree" can be
// checked by an admin with the CLI, not only by a test holding the store.

import (
	"context"
	"errors"

	"github.com/openacquire/acquire/runtime/auth"
	"github.com/openacquire/acquire/runtime/call"
	"github.com/openacquire/acquire/runtime/ledger"
	"github.com/openacquire/acquire/runtime/settlement"
)

// AuditResource is "ledger_audit".
const AuditResource = "ledger_audit"

// ErrAuditBusy: an audit of this service is already running in this
// process; one walk of the whole ledger at a time is enough.
var ErrAuditBusy = call.NewClass("AuditBusyError")

// Audit is what ledger_audit answers. Clean is the audit's verdict: no
// anomaly in the ledger (every log contiguous and consistent, every
// transfer applied on both sides or refused, balances summing to zero).
// Positions are read after the walk; a peer's Owed for this service is
// minus this one's when both are at rest (InFlight zero on both sides),
// which only the two services' answers side by side can show.
type Audit struct {
	Clean     bool                  `json:"clean"`
	Ledger    ledger.AuditReport    `json:"ledger"`
	Positions []settlement.Position `json:"positions"`
}

func (a *Accounting) handleAudit(ctx context.Context, args *AuthArgs) (*Audit, error) {
	c, err := a.authorise(ctx, args.Credentials, AuditResource)
	if err != nil {
		return nil, err
	}
	if err := a.admin(ctx, c, "audit the ledger"); err != nil {
		return nil, err
	}
	if !a.auditing.TryLock() {
		return nil, call.Errorf(ErrAuditBusy, "an audit of this ledger is already running; try again when it ends")
	}
	defer a.auditing.Unlock()
	return a.Audit(ctx)
}

// Audit runs the ledger's audit and reads the settlement positions. Found
// anomalies are the answer, not an error; an error means the audit could
// not finish (a store failure).
func (a *Accounting) Audit(ctx context.Context) (*Audit, error) {
	rep, err := a.l.Audit(ctx)
	if err != nil && !errors.Is(err, ledger.ErrAudit) {
		return nil, typed(err)
	}
	ps, err := a.SettlementPositions(ctx)
	if err != nil {
		return nil, err
	}
	return &Audit{Clean: len(rep.Anomalies) == 0, Ledger: rep, Positions: ps.Positions}, nil
}

// Audit runs the service's ledger audit (admins only).
func (c *Client) Audit(ctx context.Context, s auth.Signer) (*Audit, error) {
	var out Audit
	return &out, c.authCall(ctx, s, "ledger_audit", AuditResource, func(a auth.Credentials) any {
		return &AuthArgs{Credentials: a}
	}, &out, false)
}
