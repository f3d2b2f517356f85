package main

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"path"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/openacquire/acquire/runtime/accounting"
	"github.com/openacquire/acquire/runtime/identity"
	"github.com/openacquire/acquire/runtime/ledger"
)

const envAccountingURL = "ACQUIRE_ACCOUNTING_URL"

// accountFlags are the flags every account command shares.
type accountFlags struct {
	accountingURL string
	username      string
}

func newAccountCmd(g *globals) *cobra.Command {
	af := &accountFlags{}
	cmd := groupCmd("account", "Accounts, balances, statements and transfers",
		`Create accounts at the accounting service, read their balances and statements,
and move money between them. Every call is signed with the saved session (see
'acquire user login'): only an account's owners may pay from it or read it;
anyone may pay into it, by its id.

Amounts are exact decimals with up to 6 places ("12.5", "0.000001").

An ACCOUNT argument is an account id (acct-...) or the name of one of your
own accounts.

The accounting service is --accounting, else $`+envAccountingURL+`, else the
identity service's URL with its last path segment replaced by "accounting".

Besides the exit codes listed in 'acquire --help', these commands exit 7 when
the ledger refuses the operation: InsufficientFundsError, PayeeLimitError,
OverReceiptError, AlreadyResolvedError, TransferExpiredError,
TransferRefusedError, NotProvisionalError, OverdraftError, AccountLimitError;
and 5 on
TransferConflictError (a transfer id reused with other content).`)
	pf := cmd.PersistentFlags()
	pf.StringVar(&af.accountingURL, "accounting", "", "accounting service URL (default $"+envAccountingURL+", else derived from the identity URL)")
	pf.StringVarP(&af.username, "username", "u", "", "use this user's saved session (default: the last one logged in)")
	cmd.AddCommand(newAccountCreateCmd(g, af), newAccountListCmd(g, af), newAccountBalanceCmd(g, af),
		newAccountStatementCmd(g, af), newAccountTransferCmd(g, af), newAccountReceiptCmd(g, af),
		newAccountRefundCmd(g, af), newAccountDepositCmd(g, af), newAccountSetOverdraftCmd(g, af),
		newAccountTransferStatusCmd(g, af), newAccountSettlementCmd(g, af), newAccountAuditCmd(g, af))
	return cmd
}

// accountingSession is what every account command needs: the typed client
// and the saved session.
type accountingSession struct {
	c *accounting.Client
	s *identity.Session
}

func (g *globals) accounting(af *accountFlags) (*accountingSession, error) {
	id, s, err := g.session(af.username)
	if err != nil {
		return nil, err
	}
	u := strings.TrimSpace(af.accountingURL)
	if u == "" {
		u = strings.TrimSpace(g.getenv(envAccountingURL))
	}
	if u == "" {
		if u, err = siblingURL(id.URL, accounting.Kind); err != nil {
			return nil, err
		}
	}
	if !strings.HasPrefix(u, "http://") && !strings.HasPrefix(u, "https://") {
		return nil, usagef("accounting service URL %q must start with http:// or https://", u)
	}
	c, err := g.callClient()
	if err != nil {
		return nil, err
	}
	return &accountingSession{c: &accounting.Client{C: c, URL: u}, s: s}, nil
}

// siblingURL replaces the last path segment of a service URL with kind.
func siblingURL(serviceURL, kind string) (string, error) {
	u, err := url.Parse(serviceURL)
	if err != nil {
		return "", usagef("identity service URL %q: %v", serviceURL, err)
	}
	p := strings.TrimRight(u.Path, "/")
	u.Path = path.Join(path.Dir(p), kind)
	u.RawQuery, u.Fragment = "", ""
	return u.String(), nil
}

// resolve turns an ACCOUNT argument into an account id: an id as it is,
// else the name of one of the caller's accounts.
func (a *accountingSession) resolve(ctx context.Context, arg string) (string, error) {
	arg = strings.TrimSpace(arg)
	if arg == "" {
		return "", usagef("empty ACCOUNT")
	}
	if strings.HasPrefix(arg, "acct-") {
		return arg, nil
	}
	list, err := a.c.ListAccounts(ctx, a.s)
	if err != nil {
		return "", err
	}
	for _, acc := range list.Accounts {
		if acc.Name == arg {
			return acc.ID, nil
		}
	}
	return "", usagef("you have no account named %q (give an account id acct-... for someone else's)", arg)
}

// isDuration says whether a time flag was given relative to now.
func isDuration(s string) bool {
	_, err := time.ParseDuration(s)
	return err == nil
}

// firstRunTime answers the time t computed by the first run of a command
// retried under id (kept in the wallet until it passes), so "--receipt-by 1h"
// means the same instant on every retry, not an hour from each.
func (g *globals) firstRunTime(s *identity.Session, t time.Time, purpose, id string) (time.Time, error) {
	return g.firstRunTimeUntil(s, t, t, purpose, id)
}

// firstRunTimeUntil is firstRunTime kept in the wallet until until.
func (g *globals) firstRunTimeUntil(s *identity.Session, t, until time.Time, purpose, id string) (time.Time, error) {
	w, err := g.wallet()
	if err != nil {
		return t, err
	}
	key, err := w.DeriveID("", purpose, s.IdentityURL, s.UserUID, id)
	if err != nil {
		return t, err
	}
	v, err := w.Remember(key, t.UTC().Format(time.RFC3339Nano), until)
	if err != nil {
		return t, err
	}
	return time.Parse(time.RFC3339Nano, v)
}

func parseAmount(flag, s string) (ledger.Amount, error) {
	a, err := ledger.ParseAmount(strings.TrimSpace(s))
	if err != nil {
		return ledger.Amount{}, usagef("--%s %q: %v", flag, s, err)
	}
	return a, nil
}

// parseTime reads an RFC 3339 time, or a duration counted from now
// (negative for the past).
func parseTime(flag, s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if d, err := time.ParseDuration(s); err == nil {
		return now.Add(d), nil
	}
	return time.Time{}, usagef("--%s %q: want an RFC 3339 time (2026-01-02T15:04:05Z) or a duration from now (1h, -24h)", flag, s)
}

func (g *globals) accountError(a *accountingSession, err error) error {
	if a == nil {
		return err
	}
	return g.closedRemotely(a.s, err)
}

// ---- create, list, balance ----

func newAccountCreateCmd(g *globals, af *accountFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "create NAME",
		Short: "Create an account of yours",
		Long: `Create an account owned by you, with no overdraft. NAME is unique among your
accounts: 1-64 of A-Z, a-z, 0-9, '_', '.', ':', '-'. Only an admin of the
accounting service grants an overdraft (see 'acquire account set-overdraft').`,
		Example: "  acquire account create main\n  acquire account create savings -o json",
		Args:    exactArgs(1, "exactly one NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			info, err := accountingCall(g, cmd, af, func(ctx context.Context, a *accountingSession) (*accounting.AccountInfo, error) {
				return a.c.CreateAccount(ctx, a.s, args[0], ledger.Zero)
			})
			if err != nil {
				return err
			}
			return g.emit(info, func(w io.Writer) {
				fmt.Fprintf(w, "Created account %s (%s).\n", info.Name, info.ID)
			})
		},
	}
}

func newAccountSetOverdraftCmd(g *globals, af *accountFlags) *cobra.Command {
	var limit string
	cmd := &cobra.Command{
		Use:   "set-overdraft ACCOUNT --limit AMOUNT",
		Short: "Set an account's overdraft limit (admins of the accounting service only)",
		Long: `Let ACCOUNT's balance go down to minus --limit (0 takes the overdraft away). A
limit below what the balance already uses is refused (OverdraftError). Only
admins of the accounting service may set one, on anyone's account.`,
		Example: "  acquire account set-overdraft acct-0123... --limit 50",
		Args:    exactArgs(1, "exactly one ACCOUNT"),
		RunE: func(cmd *cobra.Command, args []string) error {
			amt, err := parseAmount("limit", limit)
			if err != nil {
				return err
			}
			b, err := accountingCall(g, cmd, af, func(ctx context.Context, a *accountingSession) (*ledger.Balance, error) {
				acc, err := a.resolve(ctx, args[0])
				if err != nil {
					return nil, err
				}
				return a.c.SetOverdraft(ctx, a.s, acc, amt)
			})
			if err != nil {
				return err
			}
			return g.emit(b, func(w io.Writer) {
				fmt.Fprintf(w, "Account %s: overdraft %s, available %s.\n", b.Account, b.Overdraft, b.Available)
			})
		},
	}
	cmd.Flags().StringVar(&limit, "limit", "", "overdraft limit, e.g. 50")
	_ = cmd.MarkFlagRequired("limit")
	return cmd
}

func newAccountListCmd(g *globals, af *accountFlags) *cobra.Command {
	return &cobra.Command{
		Use:     "list",
		Short:   "List your accounts with their balances",
		Example: "  acquire account list\n  acquire account list -o json | jq -r '.accounts[] | .id'",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			list, err := accountingCall(g, cmd, af, func(ctx context.Context, a *accountingSession) (*accounting.AccountList, error) {
				return a.c.ListAccounts(ctx, a.s)
			})
			if err != nil {
				return err
			}
			return g.emit(list, func(w io.Writer) {
				tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
				fmt.Fprintln(tw, "NAME\tID\tBALANCE\tAVAILABLE\tLIABILITY\tRECEIVABLE")
				for _, acc := range list.Accounts {
					b := acc.Balance
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", shown(acc.Name), acc.ID, b.Balance, b.Available, b.Liability, b.Receivable)
				}
				_ = tw.Flush()
			})
		},
	}
}

func newAccountBalanceCmd(g *globals, af *accountFlags) *cobra.Command {
	var at string
	cmd := &cobra.Command{
		Use:   "balance ACCOUNT [--at TIME]",
		Short: "Show an account's balance, now or at a past time",
		Long: `Show an account's balance, liability (provisional payments out, not yet
settled), receivable (provisional payments in), overdraft and available
(balance - liability + overdraft).`,
		Example: "  acquire account balance main\n  acquire account balance main --at 2026-01-02T00:00:00Z -o json",
		Args:    exactArgs(1, "exactly one ACCOUNT"),
		RunE: func(cmd *cobra.Command, args []string) error {
			t, err := parseTime("at", at, g.now())
			if err != nil {
				return err
			}
			b, err := accountingCall(g, cmd, af, func(ctx context.Context, a *accountingSession) (*ledger.Balance, error) {
				id, err := a.resolve(ctx, args[0])
				if err != nil {
					return nil, err
				}
				return a.c.Balance(ctx, a.s, id, t)
			})
			if err != nil {
				return err
			}
			return g.emit(b, func(w io.Writer) {
				tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
				fmt.Fprintf(tw, "account\t%s\nbalance\t%s\navailable\t%s\nliability\t%s\nreceivable\t%s\noverdraft\t%s\nas of\t%s\n",
					b.Account, b.Balance, b.Available, b.Liability, b.Receivable, b.Overdraft, when(b.Time))
				_ = tw.Flush()
			})
		},
	}
	cmd.Flags().StringVar(&at, "at", "", "a past time (RFC 3339, or a duration from now such as -24h)")
	return cmd
}

// ---- statement ----

func newAccountStatementCmd(g *globals, af *accountFlags) *cobra.Command {
	var from, to, token string
	var size int
	var oldestFirst bool
	cmd := &cobra.Command{
		Use:   "statement ACCOUNT [--from TIME] [--to TIME] [--oldest-first] [--page-size N] [--page-token TOKEN]",
		Short: "List an account's entries, newest first, one page at a time",
		Long: `List the entries of an account's log written in [--from, --to), newest first
(recent activity first; --oldest-first reads forwards from --from instead).
Either way a page costs the same however long the account's history is.
Each names its transfer, leg, counterparty, the change and the state after it,
and who authorised it. When more entries follow, the output ends with the
token for --page-token (JSON: "next"); pass the same --oldest-first with it.`,
		Example: "  acquire account statement main\n  acquire account statement main --from -24h --oldest-first\n  acquire account statement main -o json --page-size 1000",
		Args:    exactArgs(1, "exactly one ACCOUNT"),
		RunE: func(cmd *cobra.Command, args []string) error {
			now := g.now()
			f, err := parseTime("from", from, now)
			if err != nil {
				return err
			}
			t, err := parseTime("to", to, now)
			if err != nil {
				return err
			}
			if size < 0 || size > accounting.MaxStatementPage {
				return usagef("--page-size must be 1..%d", accounting.MaxStatementPage)
			}
			page, err := accountingCall(g, cmd, af, func(ctx context.Context, a *accountingSession) (*ledger.StatementPage, error) {
				id, err := a.resolve(ctx, args[0])
				if err != nil {
					return nil, err
				}
				return a.c.Statement(ctx, a.s, id, accounting.StatementQuery{From: f, To: t, PageToken: token, PageSize: size, Newest: !oldestFirst})
			})
			if err != nil {
				return err
			}
			return g.emit(page, func(w io.Writer) {
				tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
				fmt.Fprintln(tw, "TIME\tTRANSFER\tLEG\tCOUNTERPARTY\tCHANGE\tBALANCE\tLIABILITY\tRECEIVABLE\tDESCRIPTION")
				for _, l := range page.Lines {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", when(l.Time), dash(l.Transfer), l.Leg, dash(l.Counterparty),
						l.DBalance, l.Balance, l.Liability, l.Receivable, dash(shown(l.Description)))
				}
				_ = tw.Flush()
				if page.Next != "" {
					fmt.Fprintf(w, "more: --page-token %s\n", page.Next)
				}
			})
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&from, "from", "", "first time (RFC 3339, or a duration from now such as -24h); default the beginning")
	fl.StringVar(&to, "to", "", "end time, exclusive; default now")
	fl.IntVar(&size, "page-size", accounting.DefaultStatementPage, fmt.Sprintf("entries per page, 1..%d", accounting.MaxStatementPage))
	fl.StringVar(&token, "page-token", "", "continue after a previous page")
	fl.BoolVar(&oldestFirst, "oldest-first", false, "list oldest first, from --from forwards (default: newest first)")
	return cmd
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// ---- transfer, receipt, refund, deposit ----

func printTransfer(w io.Writer, verb string, r *ledger.TransferResult) {
	fmt.Fprintf(w, "%s %s: %s %s", verb, r.ID, r.State, r.Amount)
	if r.Resolution != nil {
		fmt.Fprintf(w, " (%s, %s moved to the payee)", r.Resolution.Kind, r.Resolution.Receipted)
	}
	fmt.Fprintln(w)
}

func newAccountTransferCmd(g *globals, af *accountFlags) *cobra.Command {
	var from, to, amount, id, desc, receiptBy, toService string
	cmd := &cobra.Command{
		Use:   "transfer --from ACCOUNT --to ACCOUNT [--to-service URL] --amount AMOUNT [--id ID] [--receipt-by TIME]",
		Short: "Pay from one of your accounts into any account",
		Long: `Move --amount from one of your accounts to any account. --id is your
idempotency key for it (default: a fresh random one): running the same
transfer again with the same --id returns the first result and moves nothing
more; the same --id with other content is refused (TransferConflictError).
Your ids are yours alone: nobody else's transfer can take one. The answer's id
is the ledger's id of the transfer (tx-...), which statements show and the
payee receipts or refunds. A refused transfer stays refused under its id. A
--receipt-by given as a duration is kept in your wallet under the --id, so a
retry means the same instant, not a later one.

--receipt-by makes the transfer provisional: the amount is held (your
liability, the payee's receivable) until the payee receipts it (in full or in
part), refunds it, or the time passes and it returns to you.

` + transferOutHelp,
		Example: `  acquire account transfer --from main --to acct-0123... --amount 12.50
  acquire account transfer --from main --to acct-0123... --amount 5 --receipt-by 1h --id order-42 -o json`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if from == "" || to == "" || amount == "" {
				return usagef("--from, --to and --amount are required")
			}
			amt, err := parseAmount("amount", amount)
			if err != nil {
				return err
			}
			if toService != "" {
				return transferOut(g, cmd, af, outFlags{from: from, to: to, toService: toService, id: id, desc: desc,
					receiptBy: receiptBy}, amt)
			}
			rb, err := parseTime("receipt-by", receiptBy, g.now())
			if err != nil {
				return err
			}
			retried := id != ""
			if id == "" {
				id = "t-" + randomHex(16)
			}
			res, err := accountingCall(g, cmd, af, func(ctx context.Context, a *accountingSession) (*ledger.TransferResult, error) {
				fromID, err := a.resolve(ctx, from)
				if err != nil {
					return nil, err
				}
				toID, err := a.resolve(ctx, to)
				if err != nil {
					return nil, err
				}
				if retried && isDuration(receiptBy) {
					if rb, err = g.firstRunTime(a.s, rb, "transfer receipt-by", id); err != nil {
						return nil, err
					}
				}
				return a.c.Transfer(ctx, a.s, accounting.Transfer{ID: id, From: fromID, To: toID, Amount: amt,
					Description: desc, ReceiptBy: rb})
			})
			if err != nil {
				return err
			}
			return g.emit(res, func(w io.Writer) { printTransfer(w, "Transfer", res) })
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&from, "from", "", "your account to pay from (id or name)")
	fl.StringVar(&to, "to", "", "account to pay into (id; or the name of one of yours)")
	fl.StringVar(&amount, "amount", "", "amount, e.g. 12.50")
	fl.StringVar(&id, "id", "", "transfer id (idempotency key): [A-Za-z0-9][A-Za-z0-9_.:-]{0,127}")
	fl.StringVar(&desc, "description", "", "description recorded with the transfer")
	fl.StringVar(&receiptBy, "receipt-by", "", "make it provisional until this time (RFC 3339, or a duration from now such as 1h)")
	fl.StringVar(&toService, "to-service", "", "pay into an account at this other region's accounting service (URL): a cross-region transfer")
	return cmd
}

func newAccountReceiptCmd(g *globals, af *accountFlags) *cobra.Command {
	var amount string
	cmd := &cobra.Command{
		Use:   "receipt TRANSFER_ID --amount AMOUNT",
		Short: "Take (part of) a provisional payment into your account",
		Long: `Settle a provisional transfer paid into one of your accounts: --amount (at most
the transfer's) becomes yours, the rest returns to the payer. Only the payee's
owners may receipt.`,
		Example: "  acquire account receipt tx-0123... --amount 5",
		Args:    exactArgs(1, "exactly one TRANSFER_ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			amt, err := parseAmount("amount", amount)
			if err != nil {
				return err
			}
			res, err := accountingCall(g, cmd, af, func(ctx context.Context, a *accountingSession) (*ledger.TransferResult, error) {
				return a.c.Receipt(ctx, a.s, args[0], amt)
			})
			if err != nil {
				return err
			}
			return g.emit(res, func(w io.Writer) { printTransfer(w, "Receipted", res) })
		},
	}
	cmd.Flags().StringVar(&amount, "amount", "", "amount to take (at most the transfer's)")
	_ = cmd.MarkFlagRequired("amount")
	return cmd
}

func newAccountRefundCmd(g *globals, af *accountFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "refund TRANSFER_ID",
		Short: "Give a provisional payment into your account back",
		Long: `Return the whole of a provisional transfer paid into one of your accounts to
the payer. Only the payee's owners may refund: the payer cannot take a
provisional payment back (it returns by itself at its receipt-by time).`,
		Example: "  acquire account refund tx-0123...",
		Args:    exactArgs(1, "exactly one TRANSFER_ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			res, err := accountingCall(g, cmd, af, func(ctx context.Context, a *accountingSession) (*ledger.TransferResult, error) {
				return a.c.Refund(ctx, a.s, args[0])
			})
			if err != nil {
				return err
			}
			return g.emit(res, func(w io.Writer) { printTransfer(w, "Refunded", res) })
		},
	}
}

func newAccountDepositCmd(g *globals, af *accountFlags) *cobra.Command {
	var amount, id, desc string
	cmd := &cobra.Command{
		Use:   "deposit ACCOUNT --amount AMOUNT [--id ID]",
		Short: "Create money in an account (admins of the accounting service only)",
		Long: `Move --amount from the ledger's mint into an account, so the sum of all
balances stays zero. Only admins of the accounting service may deposit. --id
works as for transfer.`,
		Example: "  acquire account deposit acct-0123... --amount 100 --description 'cash in'",
		Args:    exactArgs(1, "exactly one ACCOUNT"),
		RunE: func(cmd *cobra.Command, args []string) error {
			amt, err := parseAmount("amount", amount)
			if err != nil {
				return err
			}
			if id == "" {
				id = "dep-" + randomHex(16)
			}
			res, err := accountingCall(g, cmd, af, func(ctx context.Context, a *accountingSession) (*ledger.TransferResult, error) {
				acc, err := a.resolve(ctx, args[0])
				if err != nil {
					return nil, err
				}
				return a.c.Deposit(ctx, a.s, id, acc, amt, desc)
			})
			if err != nil {
				return err
			}
			return g.emit(res, func(w io.Writer) { printTransfer(w, "Deposit", res) })
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&amount, "amount", "", "amount, e.g. 100")
	fl.StringVar(&id, "id", "", "deposit id (idempotency key)")
	fl.StringVar(&desc, "description", "", "description recorded with the deposit")
	_ = cmd.MarkFlagRequired("amount")
	return cmd
}

// accountingCall runs one call with the wallet's session for the
// accounting service, under the call timeout, and reports a session the
// service says is closed as such: what every accounting command does.
func accountingCall[T any](g *globals, cmd *cobra.Command, af *accountFlags, fn func(context.Context, *accountingSession) (T, error)) (T, error) {
	var zero T
	a, err := g.accounting(af)
	if err != nil {
		return zero, err
	}
	ctx, cancel := g.callContext(cmd)
	defer cancel()
	out, err := fn(ctx, a)
	if err != nil {
		return zero, g.accountError(a, err)
	}
	return out, nil
}
