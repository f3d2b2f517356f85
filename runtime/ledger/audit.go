package ledger

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"math/big"
	"strings"

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
	a := &auditor{l: l, total: new(big.Int), liab: new(big.Int), recv: new(big.Int), budget: l.auditMaxEntries}
	if a.budget <= 0 {
		a.budget = auditMaxEntries
	}
	// One pass checks every log and, if the entries naming transfers fit
	// the budget, gathers them all to check against the records.
	a.entries = map[string]*auditEntry{}
	if err := a.accounts(ctx, true, 0, 1); err != nil {
		return a.rep, err
	}
	if a.entries != nil {
		a.flushDups()
		if err := a.transfers(ctx, 0, 1); err != nil {
			return a.rep, err
		}
		a.unused()
	} else {
		// They did not: check them in parts, by transfer, each part one
		// more walk of the logs, so memory stays within the budget. Parts
		// aim at half the budget, so that a part the hash made larger
		// than its share still fits (a part is never cut short: a missing
		// entry would read as an anomaly).
		parts := 2*a.withTransfer/a.budget + 2
		for part := range parts {
			a.entries, a.dups = map[string]*auditEntry{}, nil
			if err := a.accounts(ctx, false, part, parts); err != nil {
				return a.rep, err
			}
			a.flushDups()
			if err := a.transfers(ctx, part, parts); err != nil {
				return a.rep, err
			}
			a.unused()
		}
	}
	rep, total, liab, recv, bad := &a.rep, a.total, a.liab, a.recv, a.bad
	if total.Sign() != 0 {
		bad("money not conserved: balances sum to %s", bigString(total))
	}
	if liab.Cmp(recv) != 0 {
		bad("liabilities %s differ from receivables %s", bigString(liab), bigString(recv))
	}
	rep.Total, rep.Liabilities, rep.Receivables = bigString(total), bigString(liab), bigString(recv)
	if len(rep.Anomalies) > 0 {
		return *rep, fmt.Errorf("%w: %d, first: %s", ErrAudit, len(rep.Anomalies), rep.Anomalies[0])
	}
	return *rep, nil
}

// auditMaxEntries is how many entries naming transfers Audit holds in
// memory at most (about 200 bytes each); past it, it checks them against
// the transfer records in parts (see auditor).
const auditMaxEntries = 1_000_000

// auditor is one Audit's state. Entries are cross-checked against transfer
// records in parts: part p holds the entries (and checks the records) of
// the transfers whose id hashes to p, so memory is bounded by the budget
// whatever the ledger's size, at the price of one walk of the logs per part.
type auditor struct {
	l                 *Ledger
	rep               AuditReport
	total, liab, recv *big.Int
	budget            int
	withTransfer      int                    // entries naming a transfer, counted by the first walk
	entries           map[string]*auditEntry // this part's; nil once the first walk exceeded the budget
	dups              []string               // this part's duplicate entries, reported with its check
}

func (a *auditor) bad(format string, args ...any) {
	if len(a.rep.Anomalies) < maxAnomalies {
		a.rep.Anomalies = append(a.rep.Anomalies, fmt.Sprintf(format, args...))
	}
}

// partOf is the part a transfer (by id, or by its record's key) belongs to.
func partOf(id string, parts int) int {
	if parts == 1 {
		return 0
	}
	id = strings.TrimPrefix(id, transfersPre)
	if dec, err := store.DecodeName(id); err == nil {
		id = dec
	}
	h := fnv.New32a()
	_, _ = h.Write([]byte(id))
	return int(h.Sum32() % uint32(parts))
}

// add gathers one entry of this part, noting duplicates; past the budget
// it drops the gathering (the parts will do it).
func (a *auditor) add(acc string, n uint64, e Entry, part, parts int) {
	if a.entries == nil || partOf(e.Transfer, parts) != part {
		return
	}
	key := acc + "\x00" + e.Transfer + "\x00" + e.Leg.side()
	if old, dup := a.entries[key]; dup {
		a.dups = append(a.dups, fmt.Sprintf("account %s: transfer %s %s twice (items %d and %d)", acc, e.Transfer, e.Leg.side(), old.n, n))
		return
	}
	if parts == 1 && len(a.entries) >= a.budget {
		a.entries, a.dups = nil, nil
		return
	}
	a.entries[key] = &auditEntry{acc: acc, n: n, e: e}
}

func (a *auditor) flushDups() {
	for _, d := range a.dups {
		a.bad("%s", d)
	}
}

// collect walks one account's log for a later part's entries only (its
// log was checked by the first walk).
func (a *auditor) collect(ctx context.Context, acc string, part, parts int) error {
	err := a.l.eachItem(ctx, acc, func(it *Item) error {
		for _, e := range it.Entries {
			if e.Transfer != "" {
				a.add(acc, it.N, e, part, parts)
			}
		}
		return nil
	})
	if errors.Is(err, errNoItemZero) || errors.Is(err, errLogGap) {
		return nil // reported by the first walk
	}
	return err
}

func (a *auditor) take(acc, id string, g Leg) *auditEntry {
	e := a.entries[acc+"\x00"+id+"\x00"+g.side()]
	if e != nil {
		e.used = true
	}
	return e
}

func (a *auditor) unused() {
	for _, e := range a.entries {
		if !e.used {
			a.bad("account %s item %d: entry for unrecorded or mismatched transfer %s (%s)", e.acc, e.n, e.e.Transfer, e.e.Leg)
		}
	}
}

// accounts walks every account log: with checks, the first walk (every
// check of a log, the totals, and this part's entries); without, a later
// part's entries only.
func (a *auditor) accounts(ctx context.Context, checks bool, part, parts int) error {
	l := a.l
	return eachObject(ctx, l.b, accountIndexPre, func(o store.ObjectInfo) error {
		acc, err := store.DecodeName(o.Key[len(accountIndexPre):])
		if err != nil {
			a.bad("bad account index key %q", o.Key)
			return nil
		}
		if !checks {
			return a.collect(ctx, acc, part, parts)
		}
		a.rep.Accounts++
		var prev *Item
		err = l.eachItem(ctx, acc, func(it *Item) error {
			a.rep.Items++
			if it.N == 0 {
				if it.Account != acc || !it.Balance.IsZero() || !it.Liability.IsZero() || !it.Receivable.IsZero() ||
					len(it.Entries) != 1 || it.Entries[0].Leg != LegOpen || it.Unlimited != (acc == MintAccount) {
					a.bad("account %s: bad item 0", acc)
				}
			} else if err := checkItem(prev, it); err != nil {
				a.bad("account %s: %v", acc, err)
			}
			for _, e := range it.Entries {
				a.rep.Entries++
				if e.Transfer != "" {
					a.withTransfer++
					a.add(acc, it.N, e, part, parts)
				}
			}
			prev = it
			return nil
		})
		switch {
		case errors.Is(err, errNoItemZero):
			a.bad("account %s: indexed but never opened (no item 0)", acc)
			return nil
		case errors.Is(err, errLogGap):
			a.bad("account %s: %v", acc, err)
		case err != nil:
			return err
		}
		if prev != nil {
			a.total.Add(a.total, big.NewInt(prev.Balance.MicroUnits()))
			a.liab.Add(a.liab, big.NewInt(prev.Liability.MicroUnits()))
			a.recv.Add(a.recv, big.NewInt(prev.Receivable.MicroUnits()))
		}
		return nil
	})
}

// transfers checks this part's transfer records against its entries:
// the record objects, then the record runs (a record both an object and
// in a run, between a compaction's run put and its deletes, is checked
// once, from its run).
func (a *auditor) transfers(ctx context.Context, part, parts int) error {
	l := a.l
	l.runs.mu.Lock()
	err := l.refreshRuns(ctx, true)
	l.runs.mu.Unlock()
	if err != nil {
		return err
	}
	err = eachObject(ctx, l.b, transfersPre, func(o store.ObjectInfo) error {
		if partOf(o.Key, parts) != part {
			return nil // another pass's
		}
		var rec transferRecord
		if _, err := l.b.GetJSON(ctx, o.Key, &rec); err != nil {
			return err
		}
		if run, err := l.lookupRecord(ctx, rec.ID, false); err != nil || run != nil {
			return err
		}
		return a.record(ctx, &rec)
	})
	if err != nil {
		return err
	}
	return l.eachRun(ctx, func(key string, r *recordRun, earlier func(string) (bool, error)) error {
		for i := range r.Records {
			rec := &r.Records[i]
			if partOf(rec.ID, parts) != part {
				continue
			}
			if dup, err := earlier(rec.ID); err != nil || dup {
				return err
			}
			if err := a.record(ctx, rec); err != nil {
				return err
			}
		}
		return nil
	})
}

// record checks one transfer record against its entries.
func (a *auditor) record(ctx context.Context, rec *transferRecord) error {
	l := a.l
	a.rep.Transfers++
	want, wantC, err := legs(rec)
	if err != nil {
		a.bad("%v", err)
		return nil
	}
	d := a.take(rec.From, rec.ID, LegDebit)
	c := a.take(rec.To, rec.ID, LegCredit)
	sd := a.take(rec.From, rec.ID, LegSettleDebit)
	sc := a.take(rec.To, rec.ID, LegSettleCredit)
	switch {
	case d == nil:
		a.bad("transfer %s: recorded but not applied to the payer %s", rec.ID, rec.From)
		return nil
	case d.e.Leg == LegRefused:
		a.rep.Refused++
		if c != nil || sd != nil || sc != nil {
			a.bad("transfer %s: refused yet has other entries", rec.ID)
		}
		return nil
	case c == nil:
		a.bad("transfer %s: debited but not credited to %s", rec.ID, rec.To)
		return nil
	}
	a.rep.Applied++
	if rec.final && (d.n != rec.DebitItem || c.n != rec.CreditItem) {
		a.bad("transfer %s: its record run names items %d and %d, the logs %d and %d", rec.ID, rec.DebitItem, rec.CreditItem, d.n, c.n)
	}
	if sameMovement(want, d.e) != nil || sameMovement(wantC, c.e) != nil || checkBalanced(rec.ID, d.e, c.e) != nil {
		a.bad("transfer %s: entries do not match the record or do not balance", rec.ID)
	}
	if !rec.provisional() {
		if sd != nil || sc != nil {
			a.bad("transfer %s: direct transfer with settle entries", rec.ID)
		}
		return nil
	}
	a.rep.Provisional++
	r := rec.Resolution
	if r == nil {
		var err error
		if r, err = l.resolution(ctx, rec); err != nil {
			return err
		}
	}
	if r == nil {
		if sd != nil || sc != nil {
			a.bad("transfer %s: settled without a recorded resolution", rec.ID)
		}
		return nil
	}
	a.rep.Resolved++
	if sd == nil || sc == nil {
		a.bad("transfer %s: resolution %s not settled on both sides", rec.ID, r.Kind)
		return nil
	}
	if sd.n <= d.n || sc.n <= c.n {
		a.bad("transfer %s: settled before it was applied", rec.ID)
	}
	if sd.e.Receipted == nil || sc.e.Receipted == nil || *sd.e.Receipted != r.Receipted || *sc.e.Receipted != r.Receipted ||
		sd.e.DBalance != r.Receipted.Neg() || sc.e.DBalance != r.Receipted ||
		sd.e.DLiability != rec.Amount.Neg() || sc.e.DReceivable != rec.Amount.Neg() {
		a.bad("transfer %s: settlement entries do not match resolution %s %s", rec.ID, r.Kind, r.Receipted)
	}
	return nil
}
