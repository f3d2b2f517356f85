package main

// Cross-region transfers (runtime/settlement): 'acquire account transfer
// --to-service', 'acquire account transfer-status' and 'acquire account
// settlement'.

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/openacquire/acquire/runtime/accounting"
	"github.com/openacquire/acquire/runtime/ledger"
	"github.com/openacquire/acquire/runtime/settlement"
)

func init() {
	exitCodes["PeerUnreachableError"] = exitUnreachable
	exitCodes["PeerNotTrustedError"] = exitAuth
	exitCodes["TransferAbortedError"] = exitRefused
	exitCodes["AuditAnomaliesError"] = exitAnomalies
}

const transferOutHelp = `--to-service URL pays into an account of another region: --to is then an
account id (acct-...) at that accounting service, which must be a settlement
peer of yours (its operator and yours list each other). The money is held here
while the other side decides, once, whether it credits the payee; then it
either moves to the other region or comes back to you, never both. The answer
is state "committed" (paid), or an error: TransferAbortedError (exit 7: the
other side did not credit it, e.g. no such account; your money is back),
PeerUnreachableError (exit 6: the other side did not answer in time; your
money stays held until it does: run the same command with the same --id, or
wait for the service's sweep, and see 'acquire account transfer-status').
The same --id never pays twice.

With --receipt-by a cross-region transfer is provisional: the other side holds
it for the payee (state "held"; peer_transfer is the held transfer's id there,
xr-...), who receipts (part of) it or refunds it at their own accounting
service with 'acquire account receipt' / 'refund'; at --receipt-by it expires
there by that region's rules. Your money stays held here meanwhile. Run the
same command with the same --id (or wait for the sweep) to learn the outcome:
"committed" with the receipted amount (the rest comes back to you) or
"returned" (refunded or expired: all of it back). A --receipt-by given as a
duration is kept in your wallet under the --id until a day after it, so such a
retry means the first run's instant.`

type outFlags struct {
	from, to, toService, id, desc, receiptBy string
}

// resolveService turns --to-service into a service URL. Today it takes a
// URL; a service UID resolved through the registries (federation) plugs
// in here.
var resolveService = func(_ context.Context, _ *accountingSession, ref string) (string, error) {
	ref = strings.TrimRight(strings.TrimSpace(ref), "/")
	if !strings.HasPrefix(ref, "http://") && !strings.HasPrefix(ref, "https://") {
		return "", usagef("--to-service %q must be the other accounting service's URL (http:// or https://)", ref)
	}
	return ref, nil
}

func transferOut(g *globals, cmd *cobra.Command, af *accountFlags, f outFlags, amt ledger.Amount) error {
	rb, err := parseTime("receipt-by", f.receiptBy, g.now())
	if err != nil {
		return err
	}
	retried := f.id != ""
	if !strings.HasPrefix(f.to, "acct-") {
		return usagef("--to must be an account id (acct-...) at the other accounting service, not a name")
	}
	if f.id == "" {
		f.id = "t-" + randomHex(16)
	}
	st, err := accountingCall(g, cmd, af, func(ctx context.Context, a *accountingSession) (*settlement.Status, error) {
		fromID, err := a.resolve(ctx, f.from)
		if err != nil {
			return nil, err
		}
		peer, err := resolveService(ctx, a, f.toService)
		if err != nil {
			return nil, err
		}
		if retried && isDuration(f.receiptBy) {
			// A retry means the first run's instant, not a later one; kept
			// a day past it, as the same --id is run after receipt_by to
			// learn the outcome.
			if rb, err = g.firstRunTimeUntil(a.s, rb, rb.Add(24*time.Hour), "transfer-out receipt-by", f.id); err != nil {
				return nil, err
			}
		}
		return a.c.TransferOut(ctx, a.s, accounting.OutTransfer{ID: f.id, From: fromID, Peer: peer, To: f.to, Amount: amt,
			Description: f.desc, ReceiptBy: rb})
	})
	if err != nil {
		return err
	}
	return g.emit(st, func(w io.Writer) { printSettlement(w, st) })
}

func printSettlement(w io.Writer, st *settlement.Status) {
	fmt.Fprintf(w, "Transfer %s: %s %s from %s to %s at %s", st.ID, st.State, st.Amount, st.From, st.To, st.Peer)
	switch {
	case st.State == settlement.Held:
		fmt.Fprintf(w, " (held there as %s until %s: %s)", st.PeerCredit, st.ReceiptBy.Format(time.RFC3339), heldDecider(st))
	case st.Receipted != nil:
		fmt.Fprintf(w, " (%s receipted", st.Receipted)
		if st.Resolution != "" {
			fmt.Fprintf(w, ", %s", st.Resolution)
		}
		fmt.Fprint(w, ")")
	}
	if st.Reason != "" {
		fmt.Fprintf(w, " (%s)", shown(st.Reason))
	}
	fmt.Fprintln(w)
}

// heldDecider says who settles a held transfer, and how the payer learns it.
func heldDecider(st *settlement.Status) string {
	if st.DecidedBy != settlement.DecidedByPayee {
		return "the other side decides"
	}
	return "the payee there receipts (part of) it or refunds it; if neither by then, it expires there and comes back to you. " +
		"Run the transfer again with the same --id, or wait for the sweep, to learn which"
}

func newAccountTransferStatusCmd(g *globals, af *accountFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "transfer-status ID",
		Short: "Show where one of your cross-region transfers stands",
		Long: `Show a cross-region transfer (one made with 'transfer --to-service') from one of
your accounts: ID is the --id you gave it, or its xt-... id. Its state is
pending (in flight: the money is held here until the other side's decision is
learned), committed (paid into the other region; for a --receipt-by transfer,
the receipted part, the rest came back), returned (the other side did not
credit it, or its payee refunded it or it expired there; the money came back)
or declined (your account could not pay it; nothing moved). A --receipt-by
transfer the other side holds for its payee is held: peer_transfer is the
hold's id there, receipt_by its deadline, and decided_by "payee": the payee
receipts (part of) it or refunds it, and if neither by receipt_by it expires
there and the money comes back. This command asks only your own accounting
service: run the transfer again with the same --id (or wait for its sweep) to
learn the outcome, which it then shows.`,
		Example: "  acquire account transfer-status order-42 -o json",
		Args:    exactArgs(1, "exactly one ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := accountingCall(g, cmd, af, func(ctx context.Context, a *accountingSession) (*settlement.Status, error) {
				return a.c.TransferStatus(ctx, a.s, strings.TrimSpace(args[0]))
			})
			if err != nil {
				return err
			}
			return g.emit(st, func(w io.Writer) { printSettlement(w, st) })
		},
	}
}

func newAccountSettlementCmd(g *globals, af *accountFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "settlement",
		Short: "Show the accounting service's settlement position with each peer region (admins only)",
		Long: `Show, for each peer accounting service, what this one owes it (OWED; negative:
what it owes this one) and what is in flight to it (IN_FLIGHT, held from payers
here). At rest, a peer's OWED for this service is exactly minus this one's, and
IN_FLIGHT is zero on both sides.`,
		Example: "  acquire account settlement -o json",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ps, err := accountingCall(g, cmd, af, func(ctx context.Context, a *accountingSession) (*accounting.Positions, error) {
				return a.c.SettlementPositions(ctx, a.s)
			})
			if err != nil {
				return err
			}
			return g.emit(ps, func(w io.Writer) {
				tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
				fmt.Fprintln(tw, "PEER\tOWED\tIN_FLIGHT")
				for _, p := range ps.Positions {
					fmt.Fprintf(tw, "%s\t%s\t%s\n", p.Peer, p.Owed, p.InFlight)
				}
				_ = tw.Flush()
			})
		},
	}
}

const auditHelp = `Run the accounting service's audit (admins only) and print what it found:
the ledger's totals (the sum of all balances, mint included, must be exactly 0;
liabilities must equal receivables), the settlement position with each peer
accounting service of another region, and every anomaly (a log with a gap, a
transfer applied on one side only, an entry naming no transfer, ...).

The audit walks the whole ledger in parts within a fixed memory budget, so it
may take a while on a large ledger; run it when no transfer is in flight (one
in flight shows as half-applied). One audit at a time per service process
(AuditBusyError otherwise).

Across regions, run it on both accounting services: both must be clean, and at
rest (IN_FLIGHT 0 on both sides) each one's OWED for the other is exactly minus
the other's.

Exit codes: 0 clean; 8 anomalies found (AuditAnomaliesError; the report is
still printed, with -o json as one document); 1 PermissionError when you are
not an admin of the service; the usual codes otherwise (6 unreachable, ...).`

func newAccountAuditCmd(g *globals, af *accountFlags) *cobra.Command {
	return &cobra.Command{
		Use:     "audit",
		Short:   "Audit the accounting service's ledger and settlement positions (admins only)",
		Long:    auditHelp,
		Example: "  acquire account audit\n  acquire account audit -o json --accounting https://eu.example.org/accounting",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			rep, err := accountingCall(g, cmd, af, func(ctx context.Context, a *accountingSession) (*accounting.Audit, error) {
				return a.c.Audit(ctx, a.s)
			})
			if err != nil {
				return err
			}
			if err := g.emit(rep, func(w io.Writer) { printAudit(w, rep) }); err != nil {
				return err
			}
			if !rep.Clean || len(rep.Ledger.Anomalies) > 0 {
				return &answeredError{class: "AuditAnomaliesError", code: exitAnomalies,
					message: fmt.Sprintf("the audit found %d anomalies", len(rep.Ledger.Anomalies))}
			}
			return nil
		},
	}
}

func printAudit(w io.Writer, rep *accounting.Audit) {
	l := rep.Ledger
	verdict := "clean"
	if !rep.Clean {
		verdict = fmt.Sprintf("%d ANOMALIES", len(l.Anomalies))
	}
	fmt.Fprintf(w, "Audit: %s\n", verdict)
	fmt.Fprintf(w, "  accounts %d, items %d, entries %d, transfers %d (applied %d, refused %d), provisional %d (resolved %d)\n",
		l.Accounts, l.Items, l.Entries, l.Transfers, l.Applied, l.Refused, l.Provisional, l.Resolved)
	fmt.Fprintf(w, "  total %s, liabilities %s, receivables %s\n", l.Total, l.Liabilities, l.Receivables)
	if len(rep.Positions) > 0 {
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "PEER\tOWED\tIN_FLIGHT")
		for _, p := range rep.Positions {
			fmt.Fprintf(tw, "%s\t%s\t%s\n", p.Peer, p.Owed, p.InFlight)
		}
		_ = tw.Flush()
	}
	for _, a := range l.Anomalies {
		fmt.Fprintf(w, "anomaly: %s\n", shown(a))
	}
}
