package accounting

import (
	"context"
	"time"

	"github.com/openacquire/acquire/runtime/auth"
	"github.com/openacquire/acquire/runtime/call"
	"github.com/openacquire/acquire/runtime/ledger"
	"github.com/openacquire/acquire/runtime/service"
)

// Client is the typed client of an accounting service. Each method signs
// the authorisation its function needs: with a user's session
// (*identity.Session) or as a service in its own name (*service.Service).
type Client struct {
	C   *call.Client
	URL string
}

// authCall signs an authorisation for resource and calls fn. Calls that
// change something carry a fresh idempotency key, so the call client
// retries them safely and the service answers a retry from its first run.
func (c *Client) authCall(ctx context.Context, s auth.Signer, fn, resource string, args func(auth.Credentials) any, out any, idem bool) error {
	return service.SignedCall(ctx, c.C, c.URL, s, fn, resource, args, out, idem)
}

// CreateAccount creates an account of the caller's, named name (unique per
// user), with an overdraft limit: zero unless the caller is an admin of the
// accounting service (others are refused with PermissionError).
func (c *Client) CreateAccount(ctx context.Context, s auth.Signer, name string, overdraft ledger.Amount) (*AccountInfo, error) {
	var out AccountInfo
	return &out, c.authCall(ctx, s, "create_account", CreateAccountResource(name, overdraft), func(a auth.Credentials) any {
		return &CreateAccountArgs{Credentials: a, Name: name, Overdraft: overdraft}
	}, &out, true)
}

// SetOverdraft sets an account's overdraft limit (admins only) and returns
// its balance after the change.
func (c *Client) SetOverdraft(ctx context.Context, s auth.Signer, account string, limit ledger.Amount) (*ledger.Balance, error) {
	var out ledger.Balance
	return &out, c.authCall(ctx, s, "set_overdraft", SetOverdraftResource(account, limit), func(a auth.Credentials) any {
		return &SetOverdraftArgs{Credentials: a, Account: account, Limit: limit}
	}, &out, true)
}

// ListAccounts lists the caller's accounts with their balances.
func (c *Client) ListAccounts(ctx context.Context, s auth.Signer) (*AccountList, error) {
	var out AccountList
	return &out, c.authCall(ctx, s, "list_accounts", ListAccountsResource, func(a auth.Credentials) any {
		return &AuthArgs{Credentials: a}
	}, &out, false)
}

// Balance reads one of the caller's accounts now (zero at) or at a past time.
func (c *Client) Balance(ctx context.Context, s auth.Signer, account string, at time.Time) (*ledger.Balance, error) {
	var out ledger.Balance
	return &out, c.authCall(ctx, s, "balance", BalanceResource(account), func(a auth.Credentials) any {
		return &BalanceArgs{Credentials: a, Account: account, At: at}
	}, &out, false)
}

// StatementQuery selects a statement page: entries in [From, To) (zero To:
// up to now), PageSize per page (0: DefaultStatementPage).
type StatementQuery struct {
	From, To  time.Time
	PageToken string
	PageSize  int
	Newest    bool // newest first
}

// Statement reads one page of one of the caller's accounts.
func (c *Client) Statement(ctx context.Context, s auth.Signer, account string, q StatementQuery) (*ledger.StatementPage, error) {
	var out ledger.StatementPage
	return &out, c.authCall(ctx, s, "statement", StatementResource(account), func(a auth.Credentials) any {
		return &StatementArgs{Credentials: a, Account: account, From: q.From, To: q.To, PageToken: q.PageToken, PageSize: q.PageSize, Newest: q.Newest}
	}, &out, false)
}

// Transfer is what the caller asks to move; a zero ReceiptBy makes a
// direct transfer.
type Transfer struct {
	ID          string
	From, To    string
	Amount      ledger.Amount
	Description string
	ReceiptBy   time.Time
}

// Transfer moves money from one of the caller's accounts. Calling it again
// with the same t returns the first result. t.ID is the caller's own
// idempotency key; the result's ID is the ledger's id of the transfer (the
// one statements show and the payee receipts or refunds).
func (c *Client) Transfer(ctx context.Context, s auth.Signer, t Transfer) (*ledger.TransferResult, error) {
	args := &TransferArgs{ID: t.ID, From: t.From, To: t.To, Amount: t.Amount, Description: t.Description}
	if !t.ReceiptBy.IsZero() {
		args.ReceiptBy = receiptBy(t.ReceiptBy)
	}
	var out ledger.TransferResult
	return &out, c.authCall(ctx, s, "transfer", TransferResource(args), func(a auth.Credentials) any {
		args.Credentials = a
		return args
	}, &out, true)
}

// Receipt takes amount of a provisional transfer into the caller's
// account; the rest goes back to the payer.
func (c *Client) Receipt(ctx context.Context, s auth.Signer, id string, amount ledger.Amount) (*ledger.TransferResult, error) {
	var out ledger.TransferResult
	return &out, c.authCall(ctx, s, "receipt", ReceiptResource(id, amount), func(a auth.Credentials) any {
		return &ReceiptArgs{Credentials: a, ID: id, Amount: amount}
	}, &out, true)
}

// Refund gives a provisional transfer into the caller's account back.
func (c *Client) Refund(ctx context.Context, s auth.Signer, id string) (*ledger.TransferResult, error) {
	var out ledger.TransferResult
	return &out, c.authCall(ctx, s, "refund", RefundResource(id), func(a auth.Credentials) any {
		return &RefundArgs{Credentials: a, ID: id}
	}, &out, true)
}

// Deposit creates money in an account from the mint (admins only), under
// the transfer id id.
func (c *Client) Deposit(ctx context.Context, s auth.Signer, id, account string, amount ledger.Amount, description string) (*ledger.TransferResult, error) {
	args := &DepositArgs{ID: id, Account: account, Amount: amount, Description: description}
	var out ledger.TransferResult
	return &out, c.authCall(ctx, s, "deposit", DepositResource(args), func(a auth.Credentials) any {
		args.Credentials = a
		return args
	}, &out, true)
}
