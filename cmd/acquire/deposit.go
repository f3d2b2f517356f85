package main

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/openacquire/acquire/runtime/accounting"
)

func newDepositCmd(g *globals) *cobra.Command {
	af := &accountFlags{}
	cmd := groupCmd("deposit", "List deposits (money created into accounts by admins)",
		`Deposits are how money enters the ledger: an admin of the accounting service
moves it from the ledger's mint into an account ('acquire account deposit').
They are listed from the ledger's own entries. The accounting service is found
as for 'acquire account'.`)
	pf := cmd.PersistentFlags()
	pf.StringVar(&af.accountingURL, "accounting", "", "accounting service URL (default $"+envAccountingURL+", else derived from the identity URL)")
	pf.StringVarP(&af.username, "username", "u", "", "use this user's saved session (default: the last one logged in)")
	cmd.AddCommand(newDepositListCmd(g, af))
	return cmd
}

func newDepositListCmd(g *globals, af *accountFlags) *cobra.Command {
	var from, to, token string
	var size int
	var all bool
	cmd := &cobra.Command{
		Use:   "list (ACCOUNT | --all) [--from TIME] [--to TIME] [--page-size N] [--page-token TOKEN]",
		Short: "List the deposits into one of your accounts, or all deposits (admins)",
		Long: `List the deposits made in [--from, --to) into one of your accounts (admins: any
account), or with --all every deposit (admins only), oldest first. Each names
its transfer id and who deposited. When more follow, the output ends with the
token for --page-token (JSON: "next"); a page may be short, even empty, with
more to follow, since an account's deposits are found among its other entries.`,
		Example: "  acquire deposit list main\n  acquire deposit list --all --from -24h -o json",
		RunE: func(cmd *cobra.Command, args []string) error {
			if all == (len(args) == 1) || len(args) > 1 {
				return usagef("give exactly one ACCOUNT, or --all")
			}
			if size < 0 || size > accounting.MaxDepositPage {
				return usagef("--page-size must be 1..%d", accounting.MaxDepositPage)
			}
			now := g.now()
			f, err := parseTime("from", from, now)
			if err != nil {
				return err
			}
			t, err := parseTime("to", to, now)
			if err != nil {
				return err
			}
			list, err := accountingCall(g, cmd, af, func(ctx context.Context, a *accountingSession) (*accounting.DepositList, error) {
				id := ""
				if !all {
					var err error
					if id, err = a.resolve(ctx, args[0]); err != nil {
						return nil, err
					}
				}
				return a.c.ListDeposits(ctx, a.s, id, accounting.DepositQuery{From: f, To: t, PageToken: token, PageSize: size})
			})
			if err != nil {
				return err
			}
			return g.emit(list, func(w io.Writer) { printDeposits(w, list) })
		},
	}
	fl := cmd.Flags()
	fl.BoolVar(&all, "all", false, "every deposit into any account (admins only)")
	fl.StringVar(&from, "from", "", "first time (RFC 3339, or a duration from now such as -24h); default the beginning")
	fl.StringVar(&to, "to", "", "end time, exclusive; default now")
	fl.IntVar(&size, "page-size", accounting.DefaultDepositPage, fmt.Sprintf("deposits per page, 1..%d", accounting.MaxDepositPage))
	fl.StringVar(&token, "page-token", "", "continue after a previous page")
	return cmd
}

func printDeposits(w io.Writer, list *accounting.DepositList) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME\tTRANSFER\tACCOUNT\tAMOUNT\tAUTHORISED BY\tDESCRIPTION")
	for _, d := range list.Deposits {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", when(d.Time), d.Transfer, d.Account, d.Amount, shown(d.Authorisation), dash(shown(d.Description)))
	}
	_ = tw.Flush()
	if list.Next != "" {
		fmt.Fprintf(w, "more: --page-token %s\n", list.Next)
	}
}
