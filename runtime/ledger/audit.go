package ledger

import (
	"context"
	"errors"
	"fmt"
	"math/big"

	"github.com/openacquire/acquire/runtime/store"
)

// AuditReport is what Audit found. Sums are exact (big integers of
// micro-units, printed as decimals), since a sum over many accounts may
// exceed the bounds of one Amount.
type AuditReport struct {
	Accounts    int      `json:"accounts"`
	Items       int      `json:"items"`
	Entries     int      `json:"entries"`
	Transfers   int      `json:"transfers"`
	Applied     int      `json:"applied"`
	Refused     int      `json:"refused"`
	Provisional int      `json:"provisional"`
	Resolved    int      `json:"resolved"`
	Total       string   `json:"total"`       // sum of all balances: must be 0
	Liabilities string   `json:"liabilities"` // must equal Receivables
	Receivables string   `json:"receivables"`
	Anomalies   []string `json:"anomalies,omitempty"`
}

const maxAnomalies = 1000

type auditEntry struct {
	acc  string
	n    uint64
	e    Entry
	used bool
}

// auditPage is how many keys Audit lists at a time: it walks the account
// index and the transfer records page by page, never holding a listing of
// them whole (and so never refusing a ledger for its size).
const auditPage = 1000

// eachObject calls fn for every object under prefix, a page at a time.
func eachObject(ctx context.Context, b *store.Bucket, prefix string, fn func(store.ObjectInfo) error) error {
	token := ""
	for {
		page, err := b.List(ctx, prefix, token, auditPage)
		if err != nil {
			return err
		}
		for _, o := range page.Items {
			if err := fn(o); err != nil {
				return err
			}
		}
		if page.Next == "" {
			return nil
		}
		token = page.Next
	}
}

func bigString(x *big.Int) string {
	neg := x.Sign() < 0
	a := new(big.Int).Abs(x)
	q, r := new(big.Int).QuoRem(a, big.NewInt(microsPerUnit), new(big.Int))
	s := fmt.Sprintf("%s.%06d", q.String(), r.Int64())
	if neg {
		s = "-" + s
	}
	return s
}

// Audit walks every account and every transfer and checks: each log is
// contiguous from item 0 and every item is a correct successor of the one
// before (running totals add up, no account below minus its overdraft,
// liability and receivable never negative); no (transfer, side) appears
// twice in a log; every recorded transfer is applied on both sides with
// equal amounts, or refused with nothing moved; every resolution is settled
// on both sides exactly when it is recorded; no entry names an unrecorded
// transfer; and the sum of all balances is exactly zero. Run it when no
// transfer is in flight (an in-flight one shows as half-applied). It
// returns ErrAudit if it found anomalies, listed in the report.
func (l *Ledger) Audit(ctx context.Context) (AuditReport, error) {
	var rep AuditReport
	bad := func(format string, args ...any) {
		if len(rep.Anomalies) < maxAnomalies {
			rep.Anomalies = append(rep.Anomalies, fmt.Sprintf(format, args...))
		}
	}
	total, liab, recv := new(big.Int), new(big.Int), new(big.Int)
	entries := map[string]*auditEntry{} // acc \x00 transfer \x00 side

	err := eachObject(ctx, l.b, accountIndexPre, func(o store.ObjectInfo) error {
		acc, err := store.DecodeName(o.Key[len(accountIndexPre):])
		if err != nil {
			bad("bad account index key %q", o.Key)
			return nil
		}
		rep.Accounts++
		var prev *Item
		err = l.eachItem(ctx, acc, maxAuditObjects, func(it *Item) error {
			rep.Items++
			if it.N == 0 {
				if it.Account != acc || !it.Balance.IsZero() || !it.Liability.IsZero() || !it.Receivable.IsZero() ||
					len(it.Entries) != 1 || it.Entries[0].Leg != LegOpen || it.Unlimited != (acc == MintAccount) {
					bad("account %s: bad item 0", acc)
				}
			} else if err := checkItem(prev, it); err != nil {
				bad("account %s: %v", acc, err)
			}
			for _, e := range it.Entries {
				rep.Entries++
				if e.Transfer == "" {
					continue
				}
				key := acc + "\x00" + e.Transfer + "\x00" + e.Leg.side()
				if old, dup := entries[key]; dup {
					bad("account %s: transfer %s %s twice (items %d and %d)", acc, e.Transfer, e.Leg.side(), old.n, it.N)
					continue
				}
				entries[key] = &auditEntry{acc: acc, n: it.N, e: e}
			}
			prev = it
			return nil
		})
		switch {
		case errors.Is(err, errNoItemZero):
			bad("account %s: indexed but never opened (no item 0)", acc)
			return nil
		case errors.Is(err, errLogGap):
			bad("account %s: %v", acc, err)
		case err != nil:
			return err
		}
		if prev != nil {
			total.Add(total, big.NewInt(prev.Balance.MicroUnits()))
			liab.Add(liab, big.NewInt(prev.Liability.MicroUnits()))
			recv.Add(recv, big.NewInt(prev.Receivable.MicroUnits()))
		}
		return nil
	})
	if err != nil {
		return rep, err
	}

	take := func(acc, id string, g Leg) *auditEntry {
		e := entries[acc+"\x00"+id+"\x00"+g.side()]
		if e != nil {
			e.used = true
		}
		return e
	}
	err = eachObject(ctx, l.b, transfersPre, func(o store.ObjectInfo) error {
		var rec transferRecord
		if _, err := l.b.GetJSON(ctx, o.Key, &rec); err != nil {
			return err
		}
		rep.Transfers++
		want, wantC, err := legs(&rec)
		if err != nil {
			bad("%v", err)
			return nil
		}
		d := take(rec.From, rec.ID, LegDebit)
		c := take(rec.To, rec.ID, LegCredit)
		sd := take(rec.From, rec.ID, LegSettleDebit)
		sc := take(rec.To, rec.ID, LegSettleCredit)
		switch {
		case d == nil:
			bad("transfer %s: recorded but not applied to the payer %s", rec.ID, rec.From)
			return nil
		case d.e.Leg == LegRefused:
			rep.Refused++
			if c != nil || sd != nil || sc != nil {
				bad("transfer %s: refused yet has other entries", rec.ID)
			}
			return nil
		case c == nil:
			bad("transfer %s: debited but not credited to %s", rec.ID, rec.To)
			return nil
		}
		rep.Applied++
		if sameMovement(want, d.e) != nil || sameMovement(wantC, c.e) != nil || checkBalanced(rec.ID, d.e, c.e) != nil {
			bad("transfer %s: entries do not match the record or do not balance", rec.ID)
		}
		if !rec.provisional() {
			if sd != nil || sc != nil {
				bad("transfer %s: direct transfer with settle entries", rec.ID)
			}
			return nil
		}
		rep.Provisional++
		r, err := l.resolution(ctx, rec.ID)
		if err != nil {
			return err
		}
		if r == nil {
			if sd != nil || sc != nil {
				bad("transfer %s: settled without a recorded resolution", rec.ID)
			}
			return nil
		}
		rep.Resolved++
		if sd == nil || sc == nil {
			bad("transfer %s: resolution %s not settled on both sides", rec.ID, r.Kind)
			return nil
		}
		if sd.n <= d.n || sc.n <= c.n {
			bad("transfer %s: settled before it was applied", rec.ID)
		}
		if sd.e.Receipted == nil || sc.e.Receipted == nil || *sd.e.Receipted != r.Receipted || *sc.e.Receipted != r.Receipted ||
			sd.e.DBalance != r.Receipted.Neg() || sc.e.DBalance != r.Receipted ||
			sd.e.DLiability != rec.Amount.Neg() || sc.e.DReceivable != rec.Amount.Neg() {
			bad("transfer %s: settlement entries do not match resolution %s %s", rec.ID, r.Kind, r.Receipted)
		}
		return nil
	})
	if err != nil {
		return rep, err
	}
	for _, e := range entries {
		if !e.used {
			bad("account %s item %d: entry for unrecorded or mismatched transfer %s (%s)", e.acc, e.n, e.e.Transfer, e.e.Leg)
		}
	}
	if total.Sign() != 0 {
		bad("money not conserved: balances sum to %s", bigString(total))
	}
	if liab.Cmp(recv) != 0 {
		bad("liabilities %s differ from receivables %s", bigString(liab), bigString(recv))
	}
	rep.Total, rep.Liabilities, rep.Receivables = bigString(total), bigString(liab), bigString(recv)
	if len(rep.Anomalies) > 0 {
		return rep, fmt.Errorf("%w: %d, first: %s", ErrAudit, len(rep.Anomalies), rep.Anomalies[0])
	}
	return rep, nil
}
