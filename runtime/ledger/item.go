package ledger

import (
	"time"
)

// Leg names what one entry in an account's log does.
type Leg string

// The legs. A transfer has a debit (or refused) entry in the payer's log
// and a credit entry in the payee's; a provisional transfer later has a
// settle-debit entry in the payer's log and a settle-credit entry in the
// payee's, whatever its resolution (receipt, refund, void or expiry).
const (
	LegOpen         Leg = "open"          // item 0: the account is created
	LegDebit        Leg = "debit"         // payer side of a transfer
	LegRefused      Leg = "refused"       // payer side of a refused transfer: no change
	LegCredit       Leg = "credit"        // payee side of a transfer
	LegSettleDebit  Leg = "settle-debit"  // payer side of a provisional resolution
	LegSettleCredit Leg = "settle-credit" // payee side of a provisional resolution
	LegOverdraft    Leg = "overdraft"     // overdraft limit change
)

// RefusalPayeeLimit is the reason of a transfer refused because the payee
// could not take its credit within MaxAmount (see creditRefusal).
const RefusalPayeeLimit = "payee-limit"

// side is the slot a leg occupies in one account for one transfer: the
// debit and refused legs share a slot, so a transfer's payer side is
// decided once, one way or the other.
func (g Leg) side() string {
	switch g {
	case LegDebit, LegRefused:
		return "debit"
	case LegSettleDebit:
		return "settle-debit"
	case LegSettleCredit:
		return "settle-credit"
	}
	return string(g)
}

// Entry is one change to an account inside an item. Every entry names the
// transfer and the authorisation that caused it, its deltas, and the
// account's state after it, so a statement needs nothing else.
type Entry struct {
	Transfer      string    `json:"transfer,omitempty"`
	Leg           Leg       `json:"leg"`
	Counterparty  string    `json:"counterparty,omitempty"`
	Amount        Amount    `json:"amount"`              // the transfer's amount (or the new overdraft limit)
	Receipted     *Amount   `json:"receipted,omitempty"` // settle legs: the amount that moved
	Resolution    string    `json:"resolution,omitempty"`
	Provisional   bool      `json:"provisional,omitempty"`
	ReceiptBy     time.Time `json:"receipt_by,omitzero"`
	Authorisation string    `json:"authorisation,omitempty"`
	Description   string    `json:"description,omitempty"`
	// Refusal says why a refused entry refused: "" for insufficient funds
	// (every refusal written before reasons existed), RefusalPayeeLimit.
	Refusal string `json:"refusal,omitempty"`

	DBalance    Amount `json:"d_balance"`
	DLiability  Amount `json:"d_liability"`
	DReceivable Amount `json:"d_receivable"`

	Balance    Amount `json:"balance"`
	Liability  Amount `json:"liability"`
	Receivable Amount `json:"receivable"`
	Overdraft  Amount `json:"overdraft"`
}

// Item is one immutable record in an account's log, at index N. Item 0 opens
// the account. An item may batch several entries; its totals are the state
// after the last one.
type Item struct {
	Account   string    `json:"account"`
	N         uint64    `json:"n"`
	Time      time.Time `json:"time"`
	Owner     string    `json:"owner,omitempty"` // item 0 only
	Name      string    `json:"name,omitempty"`  // item 0 only
	Unlimited bool      `json:"unlimited,omitempty"`

	Balance    Amount  `json:"balance"`
	Liability  Amount  `json:"liability"`
	Receivable Amount  `json:"receivable"`
	Overdraft  Amount  `json:"overdraft"`
	Entries    []Entry `json:"entries"`
}

// available is balance − liability + overdraft.
func available(balance, liability, overdraft Amount) (Amount, error) {
	a, err := balance.Sub(liability)
	if err != nil {
		return Amount{}, err
	}
	return a.Add(overdraft)
}

// checkState asserts the per-state invariants: liability and receivable
// never negative, overdraft in [0, MaxAmount], and (unless unlimited) the
// account never below minus its overdraft: available >= 0.
func checkState(acc string, unlimited bool, balance, liability, receivable, overdraft Amount) error {
	if liability.IsNegative() || receivable.IsNegative() {
		return internal("account %s: negative liability %s or receivable %s", acc, liability, receivable)
	}
	if overdraft.IsNegative() {
		return internal("account %s: negative overdraft %s", acc, overdraft)
	}
	if unlimited {
		return nil
	}
	av, err := available(balance, liability, overdraft)
	if err != nil {
		return internal("account %s: %v", acc, err)
	}
	if av.IsNegative() {
		return internal("account %s: available %s below zero", acc, av)
	}
	return nil
}

// checkItem asserts that an item is a correct successor of prev: index,
// account, time order, every entry's after-state equals the state before
// plus its deltas, the item's totals equal the last entry's after-state,
// and every state along the way satisfies checkState. Nothing is written
// unless this passes; Audit runs it over every item too.
func checkItem(prev, it *Item) error {
	if it.Account != prev.Account || it.N != prev.N+1 || it.Unlimited != prev.Unlimited {
		return internal("item %s/%d does not follow %s/%d", it.Account, it.N, prev.Account, prev.N)
	}
	if it.Time.Before(prev.Time) {
		return internal("item %s/%d goes back in time", it.Account, it.N)
	}
	if len(it.Entries) == 0 || len(it.Entries) > maxEntriesPerItem {
		return internal("item %s/%d has %d entries", it.Account, it.N, len(it.Entries))
	}
	b, li, r, od := prev.Balance, prev.Liability, prev.Receivable, prev.Overdraft
	seen := map[string]bool{}
	for i, e := range it.Entries {
		var err error
		if b, err = b.Add(e.DBalance); err != nil {
			return internal("item %s/%d entry %d: %v", it.Account, it.N, i, err)
		}
		if li, err = li.Add(e.DLiability); err != nil {
			return internal("item %s/%d entry %d: %v", it.Account, it.N, i, err)
		}
		if r, err = r.Add(e.DReceivable); err != nil {
			return internal("item %s/%d entry %d: %v", it.Account, it.N, i, err)
		}
		if e.Leg == LegOverdraft {
			od = e.Amount
		}
		if e.Balance != b || e.Liability != li || e.Receivable != r || e.Overdraft != od {
			return internal("item %s/%d entry %d: running totals do not add up", it.Account, it.N, i)
		}
		if err := checkState(it.Account, it.Unlimited, b, li, r, od); err != nil {
			return err
		}
		if e.Leg == LegRefused && (!e.DBalance.IsZero() || !e.DLiability.IsZero() || !e.DReceivable.IsZero()) {
			return internal("item %s/%d entry %d: a refusal that moves money", it.Account, it.N, i)
		}
		if e.Transfer != "" {
			k := e.Transfer + "\x00" + e.Leg.side()
			if seen[k] {
				return internal("item %s/%d: transfer %s %s twice", it.Account, it.N, e.Transfer, e.Leg.side())
			}
			seen[k] = true
		}
	}
	if it.Balance != b || it.Liability != li || it.Receivable != r || it.Overdraft != od {
		return internal("item %s/%d: totals do not match its entries", it.Account, it.N)
	}
	return nil
}
