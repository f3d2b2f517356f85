package accounting

// Deposits are listed from the ledger itself rather than from records of
// their own: a deposit is a transfer out of the mint, so the mint's log is
// exactly the list of all deposits, and an account's deposits are the
// credit entries from the mint in its own log. That costs no write per
// deposit and cannot disagree with the money. The price: listing one
// account's deposits scans its statement, so a page examines at most
// maxDepositScan entries and may come back short (even empty) with a Next
// token when deposits are sparse among many transfers.

import (
	"context"
	"time"

	"github.com/openacquire/acquire/runtime/auth"
	"github.com/openacquire/acquire/runtime/call"
	"github.com/openacquire/acquire/runtime/ledger"
	"github.com/openacquire/acquire/runtime/service"
)

const (
	// MaxDepositPage bounds one list_deposits page.
	MaxDepositPage = 1000
	// DefaultDepositPage is the page size when none is asked for.
	DefaultDepositPage = 100
	// maxDepositScan bounds the statement entries one page examines, and
	// maxDepositRounds the ledger reads it makes to do so.
	maxDepositScan   = 4 * ledger.MaxPageSize
	maxDepositRounds = 8
)

// ListDepositsArgs asks one page of deposits made in [From, To) (zero To:
// up to now): into Account (its owners, or admins), or, with no Account,
// all deposits (admins only).
type ListDepositsArgs struct {
	auth.Credentials
	Account   string    `json:"account,omitempty"`
	From      time.Time `json:"from,omitzero"`
	To        time.Time `json:"to,omitzero"`
	PageToken string    `json:"page_token,omitempty"`
	PageSize  int       `json:"page_size,omitempty"`
}

// Deposit is one deposit, as the ledger recorded it.
type Deposit struct {
	Transfer      string        `json:"transfer"`
	Account       string        `json:"account"`
	Amount        ledger.Amount `json:"amount"`
	Description   string        `json:"description,omitempty"`
	Authorisation string        `json:"authorisation"` // who deposited
	Time          time.Time     `json:"time"`
}

// DepositList is one page of deposits, oldest first; Next is "" only on
// the last page (a page may be short with more to follow).
type DepositList struct {
	Deposits []*Deposit `json:"deposits"`
	Next     string     `json:"next,omitempty"`
}

// ListDepositsResource is "list_deposits <account>", or "list_deposits *"
// for all deposits.
func ListDepositsResource(account string) string {
	if account == "" {
		account = "*"
	}
	return "list_deposits " + account
}

// DepositQuery selects a page of deposits.
type DepositQuery struct {
	From, To  time.Time
	PageToken string
	PageSize  int
}

// ListDeposits lists deposits into one of the caller's accounts, or all
// deposits (account "": admins only).
func (c *Client) ListDeposits(ctx context.Context, s auth.Signer, account string, q DepositQuery) (*DepositList, error) {
	var out DepositList
	return &out, c.authCall(ctx, s, "list_deposits", ListDepositsResource(account), func(a auth.Credentials) any {
		return &ListDepositsArgs{Credentials: a, Account: account, From: q.From, To: q.To, PageToken: q.PageToken, PageSize: q.PageSize}
	}, &out, false)
}

func (a *Accounting) registerDeposits() {
	service.Handle(a.svc, "list_deposits", service.Options{}, a.handleListDeposits)
}

func (a *Accounting) handleListDeposits(ctx context.Context, args *ListDepositsArgs) (*DepositList, error) {
	if args.PageSize < 0 || args.PageSize > MaxDepositPage {
		return nil, call.Errorf(call.ErrBadArguments, "page_size must be 1..%d", MaxDepositPage)
	}
	if args.PageSize == 0 {
		args.PageSize = DefaultDepositPage
	}
	if !args.To.IsZero() && !args.From.Before(args.To) {
		return nil, call.Errorf(call.ErrBadArguments, "from must be before to")
	}
	c, err := a.authorise(ctx, args.Credentials, ListDepositsResource(args.Account))
	if err != nil {
		return nil, err
	}
	if err := a.mayListDeposits(ctx, c, args.Account); err != nil {
		return nil, err
	}
	if args.Account == "" {
		return a.scanDeposits(ctx, ledger.MintAccount, args, func(l *ledger.Line) bool { return l.Leg == ledger.LegDebit })
	}
	return a.scanDeposits(ctx, args.Account, args, func(l *ledger.Line) bool {
		return l.Leg == ledger.LegCredit && l.Counterparty == ledger.MintAccount
	})
}

// mayListDeposits: an account's owners see deposits into it; admins see
// any account's and all of them.
func (a *Accounting) mayListDeposits(ctx context.Context, c *caller, account string) error {
	if account != "" {
		if _, err := a.owned(ctx, c, account); err == nil {
			return nil
		}
	}
	admin := false
	if c.ServiceURL == "" {
		var err error
		if admin, err = a.svc.IsAdmin(ctx, c.IdentityURL, c.UserUID); err != nil {
			return err
		}
	}
	switch {
	case admin && account != "":
		_, err := a.account(ctx, account)
		return err
	case admin:
		return nil
	case account == "":
		return call.Errorf(call.ErrPermission, "only admins of the accounting service may list all deposits")
	}
	return call.Errorf(call.ErrPermission, "account %q is not yours", clip(account))
}

// scanDeposits reads acc's statement from the page token and keeps the
// entries deposit says are deposits, until the page is full, the
// statement ends, or the scan budget is spent. Each ledger read asks at
// most for the deposits still missing, so the page never overflows and
// the ledger's own token continues exactly after the last entry examined.
func (a *Accounting) scanDeposits(ctx context.Context, acc string, args *ListDepositsArgs, deposit func(*ledger.Line) bool) (*DepositList, error) {
	out := &DepositList{Deposits: []*Deposit{}}
	token, scanned := args.PageToken, 0
	for range maxDepositRounds {
		want := args.PageSize - len(out.Deposits)
		page, err := a.l.Statement(ctx, acc, args.From, args.To, token, want)
		if err != nil {
			return nil, typed(err)
		}
		for i := range page.Lines {
			if l := &page.Lines[i]; deposit(l) {
				out.Deposits = append(out.Deposits, depositOf(acc, l))
			}
		}
		token, scanned = page.Next, scanned+len(page.Lines)
		if token == "" || len(out.Deposits) == args.PageSize || scanned >= maxDepositScan {
			break
		}
	}
	out.Next = token
	return out, nil
}

func depositOf(acc string, l *ledger.Line) *Deposit {
	d := &Deposit{Transfer: l.Transfer, Account: acc, Amount: l.Amount, Description: l.Description,
		Authorisation: l.Authorisation, Time: l.Time}
	if acc == ledger.MintAccount {
		d.Account = l.Counterparty
	}
	return d
}
