package main

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/openacquire/acquire/runtime/accounting"
)

// The invoice error classes' exit codes, beside the account ones (see
// exitCodes): registered here so the invoice commands stay in one file.
func init() {
	exitCodes["InvoiceConflictError"] = exitNotFound
	exitCodes["InvoiceStateError"] = exitRefused
	exitCodes["PayAttemptLimitError"] = exitRefused
}

func newInvoiceCmd(g *globals) *cobra.Command {
	af := &accountFlags{}
	cmd := groupCmd("invoice", "List and pay the invoices sent to your accounts; admins issue them",
		`A service asks for money by invoicing one of your accounts: the invoice names
its payee account (the service's), the amount, a description and a due time.
You list the invoices of an account and pay them; the service may cancel an
invoice while it is open. An admin of the accounting service may issue one in
that service's name ('acquire invoice issue'), for what the operator bills
directly; that admin may also cancel it. Paying is exactly once: paying an invoice again
returns the first payment. A payment refused for insufficient funds leaves
the invoice open: pay it again once the money is there (up to 16 refusals).

An ACCOUNT argument is an account id (acct-...) or the name of one of yours.
The accounting service is found as for 'acquire account'.

Besides the exit codes listed in 'acquire --help', these commands exit 7 on
InsufficientFundsError, InvoiceStateError (the invoice was cancelled) and
PayAttemptLimitError; and 5 on NotFoundError.`)
	pf := cmd.PersistentFlags()
	pf.StringVar(&af.accountingURL, "accounting", "", "accounting service URL (default $"+envAccountingURL+", else derived from the identity URL)")
	pf.StringVarP(&af.username, "username", "u", "", "use this user's saved session (default: the last one logged in)")
	cmd.AddCommand(newInvoiceListCmd(g, af), newInvoicePayCmd(g, af), newInvoiceIssueCmd(g, af))
	return cmd
}

func newInvoiceListCmd(g *globals, af *accountFlags) *cobra.Command {
	var state, token string
	var size int
	cmd := &cobra.Command{
		Use:   "list ACCOUNT [--state open|paid|cancelled] [--page-size N] [--page-token TOKEN]",
		Short: "List the invoices of one of your accounts, oldest first",
		Long: `List the invoices addressed to one of your accounts (or issued to it, for a
service's account), oldest first, optionally only those in one state. When
more follow, the output ends with the token for --page-token (JSON: "next");
a page filtered by --state may be short, even empty, with more to follow.`,
		Example: "  acquire invoice list main --state open\n  acquire invoice list main -o json | jq -r '.invoices[] | .id + \" \" + .amount'",
		Args:    exactArgs(1, "exactly one ACCOUNT"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if size < 0 || size > accounting.MaxInvoicePage {
				return usagef("--page-size must be 1..%d", accounting.MaxInvoicePage)
			}
			switch accounting.InvoiceState(state) {
			case "", accounting.InvoiceOpen, accounting.InvoicePaid, accounting.InvoiceCancelled:
			default:
				return usagef("--state must be open, paid or cancelled")
			}
			list, err := accountingCall(g, cmd, af, func(ctx context.Context, a *accountingSession) (*accounting.InvoiceList, error) {
				id, err := a.resolve(ctx, args[0])
				if err != nil {
					return nil, err
				}
				return a.c.ListInvoices(ctx, a.s, id, accounting.InvoiceQuery{State: accounting.InvoiceState(state), PageToken: token, PageSize: size})
			})
			if err != nil {
				return err
			}
			return g.emit(list, func(w io.Writer) { printInvoices(w, list) })
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&state, "state", "", "only invoices in this state: open, paid or cancelled")
	fl.IntVar(&size, "page-size", accounting.DefaultInvoicePage, fmt.Sprintf("invoices per page, 1..%d", accounting.MaxInvoicePage))
	fl.StringVar(&token, "page-token", "", "continue after a previous page")
	return cmd
}

func printInvoices(w io.Writer, list *accounting.InvoiceList) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSTATE\tAMOUNT\tDUE\tPAYER\tPAYEE\tISSUER\tDESCRIPTION")
	for _, inv := range list.Invoices {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", inv.ID, inv.State, inv.Amount, when(inv.Due), inv.Payer, inv.Payee,
			shown(inv.Issuer), dash(shown(inv.Description)))
	}
	_ = tw.Flush()
	if list.Next != "" {
		fmt.Fprintf(w, "more: --page-token %s\n", list.Next)
	}
}

func newInvoicePayCmd(g *globals, af *accountFlags) *cobra.Command {
	var amount string
	cmd := &cobra.Command{
		Use:   "pay INVOICE_ID --amount AMOUNT",
		Short: "Pay an invoice from the account it is addressed to",
		Long: `Pay an invoice addressed to one of your accounts: its amount moves from that
account to the service's. --amount must be the invoice's amount (see
'acquire invoice list'): you authorise paying exactly what you saw. Paying a
paid invoice again returns the first payment and moves nothing.`,
		Example: "  acquire invoice pay inv-0123... --amount 12.50",
		Args:    exactArgs(1, "exactly one INVOICE_ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if amount == "" {
				return usagef("--amount is required: the invoice's amount (see 'acquire invoice list')")
			}
			amt, err := parseAmount("amount", amount)
			if err != nil {
				return err
			}
			p, err := accountingCall(g, cmd, af, func(ctx context.Context, a *accountingSession) (*accounting.InvoicePayment, error) {
				return a.c.PayInvoice(ctx, a.s, args[0], amt)
			})
			if err != nil {
				return err
			}
			return g.emit(p, func(w io.Writer) {
				fmt.Fprintf(w, "Paid invoice %s: %s from %s to %s (transfer %s).\n", p.Invoice.ID, p.Invoice.Amount,
					p.Invoice.Payer, p.Invoice.Payee, p.Transfer.ID)
			})
		},
	}
	cmd.Flags().StringVar(&amount, "amount", "", "the invoice's amount, e.g. 12.50 (required)")
	return cmd
}

func newInvoiceIssueCmd(g *globals, af *accountFlags) *cobra.Command {
	var payee, amount, ref, due, desc string
	cmd := &cobra.Command{
		Use:   "issue PAYER_ACCOUNT --payee ACCOUNT --amount AMOUNT --ref REF [--due TIME] [--description TEXT]",
		Short: "Issue an invoice in the accounting service's name (its admins)",
		Long: `Ask the owner of PAYER_ACCOUNT (an account id) for AMOUNT, paid into --payee,
one of your own accounts. Only admins of the accounting service issue
invoices this way, in that service's name; services issue their own. --ref is
the invoice's own id: issuing again with the same --ref and content answers
the same invoice (a --due given as a duration is kept in your wallet under the
--ref, so a retry asks for the same time), other content under it is
InvoiceConflictError (exit 5).`,
		Example: "  acquire invoice issue acct-0123... --payee billing --amount 2.50 --ref hosting-2026-12 --due 168h --description 'hosting, December'",
		Args:    exactArgs(1, "exactly one PAYER_ACCOUNT"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if payee == "" || amount == "" || ref == "" {
				return usagef("--payee, --amount and --ref are required")
			}
			amt, err := parseAmount("amount", amount)
			if err != nil {
				return err
			}
			dueAt, err := parseTime("due", due, g.now())
			if err != nil {
				return err
			}
			inv, err := accountingCall(g, cmd, af, func(ctx context.Context, a *accountingSession) (*accounting.Invoice, error) {
				payeeID, err := a.resolve(ctx, payee)
				if err != nil {
					return nil, err
				}
				if isDuration(due) {
					if dueAt, err = g.firstRunTime(a.s, dueAt, "invoice due", ref); err != nil {
						return nil, err
					}
				}
				return a.c.CreateInvoice(ctx, a.s, accounting.NewInvoice{Ref: ref, Payee: payeeID, Payer: args[0],
					Amount: amt, Description: desc, Due: dueAt})
			})
			if err != nil {
				return err
			}
			return g.emit(inv, func(w io.Writer) {
				fmt.Fprintf(w, "Invoice %s: %s from %s to %s, due %s (%s).\n", inv.ID, inv.Amount, inv.Payer, inv.Payee,
					when(inv.Due), inv.State)
			})
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&payee, "payee", "", "your account the payment goes to (an id or the name of one of yours; required)")
	fl.StringVar(&amount, "amount", "", "what is asked, e.g. 2.50 (required)")
	fl.StringVar(&ref, "ref", "", "the invoice's own id, its idempotency key (required)")
	fl.StringVar(&due, "due", "168h", "when it is due (RFC 3339, or a duration from now)")
	fl.StringVar(&desc, "description", "", "what it is for, shown to the payer")
	return cmd
}
