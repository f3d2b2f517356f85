package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/openacquire/acquire/runtime/access"
	"github.com/openacquire/acquire/runtime/accounting"
	"github.com/openacquire/acquire/runtime/call"
	"github.com/openacquire/acquire/runtime/ledger"
	"github.com/openacquire/acquire/runtime/wait"
)

const envAccessURL = "ACQUIRE_ACCESS_URL"

// The access service's and cheques' refusals exit 7 like the ledger's, a
// reused request id 5 like a reused transfer id. Registered here so the
// classes live beside the commands that meet them.
func init() {
	for _, c := range []string{"ChequeAlreadyCashedError", "ChequeExpiredError", "ChequeOverMaxError",
		"ChequeRecipientError", "ChequeInvalidError", "ChequeUsedError", "PaymentRefusedError",
		"FulfilmentFailedError", "AccessDeniedError", "CatalogueFullError"} {
		exitCodes[c] = exitRefused
	}
	exitCodes["RequestConflictError"] = exitNotFound
	exitCodes["FulfillerUnreachableError"] = exitUnreachable
}

type accessFlags struct {
	accountFlags
	accessURL string
}

func newAccessCmd(g *globals) *cobra.Command {
	xf := &accessFlags{}
	cmd := groupCmd("access", "Request resources from the access service and check grants",
		`Ask the access service for a resource from its catalogue, paying with a cheque
(see 'acquire cheque'), and ask what you may request or use. Admins of the
access service manage the catalogue with 'acquire access resource'.

The access service is --access, else $`+envAccessURL+`, else the identity
service's URL with its last path segment replaced by "access"; the accounting
service is found as for 'acquire account'.

Besides the exit codes listed in 'acquire --help', these commands exit 7 when
the request is refused: AccessDeniedError, FulfilmentFailedError (the payment
was refunded), PaymentRefusedError, ChequeUsedError, ChequeOverMaxError,
ChequeExpiredError, ChequeRecipientError, ChequeInvalidError,
ChequeAlreadyCashedError, CatalogueFullError; 5 on RequestConflictError
(a request id reused for another request); and 6 when the fulfilling service
cannot be reached: FulfillerUnreachableError (nothing ran and the payment was
refunded at once; try again later under a new --id) or
ServiceUnavailableError (it may have run: retry with the same --id, or the
held price returns at the time the message gives).`)
	pf := cmd.PersistentFlags()
	pf.StringVar(&xf.accessURL, "access", "", "access service URL (default $"+envAccessURL+", else derived from the identity URL)")
	pf.StringVar(&xf.accountingURL, "accounting", "", "accounting service URL (default $"+envAccountingURL+", else derived from the identity URL)")
	pf.StringVarP(&xf.username, "username", "u", "", "use this user's saved session (default: the last one logged in)")
	cmd.AddCommand(newAccessRequestCmd(g, xf), newAccessCheckCmd(g, xf), newAccessResourceCmd(g, xf))
	return cmd
}

// accessSession is what every access command needs.
type accessSession struct {
	*accountingSession
	ac *access.Client
}

func (g *globals) access(xf *accessFlags) (*accessSession, error) {
	a, err := g.accounting(&xf.accountFlags)
	if err != nil {
		return nil, err
	}
	u := strings.TrimSpace(xf.accessURL)
	if u == "" {
		u = strings.TrimSpace(g.getenv(envAccessURL))
	}
	if u == "" {
		if u, err = siblingURL(a.s.IdentityURL, access.Kind); err != nil {
			return nil, err
		}
	}
	if !strings.HasPrefix(u, "http://") && !strings.HasPrefix(u, "https://") {
		return nil, usagef("access service URL %q must start with http:// or https://", u)
	}
	return &accessSession{accountingSession: a, ac: &access.Client{C: a.c.C, URL: u}}, nil
}

func (x *accessSession) price(ctx context.Context, name string) (ledger.Amount, error) {
	cat, err := x.ac.ListResources(ctx, x.s)
	if err != nil {
		return ledger.Amount{}, err
	}
	for _, r := range cat.Resources {
		if r.Name == name {
			return r.Price, nil
		}
	}
	return ledger.Amount{}, usagef("no resource %q in the catalogue", name)
}

func newAccessRequestCmd(g *globals, xf *accessFlags) *cobra.Command {
	var o chequeOptions
	var max, id, details, chequeFile string
	cmd := &cobra.Command{
		Use:   "request RESOURCE (--account ACCOUNT [--max AMOUNT] | --cheque FILE) [--id ID] [--details TEXT]",
		Short: "Request a resource, paying with a cheque",
		Long: `Request RESOURCE from the access service. It is paid with a cheque: one written
here from --account for --max (default: the catalogue's price), or one written
before with 'acquire cheque write --to access' and given as --cheque FILE ('-'
for stdin). The service takes the price: kept if the resource is fulfilled,
refunded if not.

--id is the request's idempotency key (default: a fresh random one, printed):
running the same command again with the same --id answers the first outcome
and never pays twice. With --account the cheque's uid is derived from the id
(keyed by a secret in your wallet), so a retry from the same wallet, even
after logging in again, carries the same cheque; with --cheque, retry with the
same file.`,
		Example: `  acquire access request job/small --account main
  acquire cheque write --account main --to access --max 5 --out c.json
  acquire access request job/small --cheque c.json --id order-7 -o json`,
		Args: exactArgs(1, "exactly one RESOURCE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if (chequeFile == "") == (o.account == "") {
				return usagef("give --account (to write a cheque) or --cheque FILE, not both")
			}
			if id == "" {
				id = "req-" + randomHex(16)
				if g.output == outputText {
					fmt.Fprintf(g.stderr, "request id %s (give it as --id to retry)\n", id)
				}
			}
			x, err := g.access(xf)
			if err != nil {
				return err
			}
			ctx, cancel := g.callContext(cmd)
			defer cancel()
			ch, err := requestCheque(ctx, g, x, &o, id, args[0], max, chequeFile)
			if err != nil {
				return g.accountError(x.accountingSession, err)
			}
			gr, err := x.request(ctx, id, args[0], details, ch)
			if err != nil {
				return g.accountError(x.accountingSession, err)
			}
			return g.emit(gr, func(w io.Writer) {
				fmt.Fprintf(w, "Granted %s (request %s) for %s, paid by transfer %s.\n", gr.Resource, gr.RequestID, gr.Price, gr.Transfer)
				if len(gr.Result) > 0 {
					fmt.Fprintf(w, "result: %s\n", gr.Result)
				}
			})
		},
	}
	o.flags(cmd, false)
	fl := cmd.Flags()
	fl.StringVar(&max, "max", "", "the cheque's maximum (default: the catalogue's price)")
	fl.StringVar(&chequeFile, "cheque", "", "pay with this cheque file ('-': stdin) instead of writing one")
	fl.StringVar(&id, "id", "", "request id (idempotency key): [A-Za-z0-9][A-Za-z0-9_.:-]{0,127}")
	fl.StringVar(&details, "details", "", "details passed to the fulfilling service (at most 4096 bytes)")
	return cmd
}

// requestCheque reads the cheque file, or writes a cheque to the access
// service for --max or the catalogue's price.
//
// A cheque written here takes its uid from the request id (see
// requestChequeUID), so running the command again with the same --id
// hands the access service the same cheque uid: it answers the first
// outcome, and the cheque cannot be cashed twice.
func requestCheque(ctx context.Context, g *globals, x *accessSession, o *chequeOptions, requestID, resource, max, file string) (*accounting.Cheque, error) {
	if file != "" {
		return readChequeFile(g, file)
	}
	if o.uid == "" {
		uid, err := g.requestChequeUID(x, requestID)
		if err != nil {
			return nil, err
		}
		o.uid = uid
	}
	if max == "" {
		p, err := x.price(ctx, resource)
		if err != nil {
			return nil, err
		}
		max = p.String()
	}
	acc, err := x.resolve(ctx, o.account)
	if err != nil {
		return nil, err
	}
	if o.forWhat == "" {
		o.forWhat = resource
	}
	return o.write(g, x.accountingSession, acc, x.ac.URL, max)
}

// inProgressWait is how long request waits before asking again about a
// request another run is handling (a retry meeting its first run, or the
// fulfiller settling it).
const inProgressWait = 500 * time.Millisecond

// request asks for a resource; while another run handles the same request
// id it asks again, until the command's --timeout: a retry answers the
// first outcome once there is one.
func (x *accessSession) request(ctx context.Context, id, resource, details string, ch *accounting.Cheque) (*access.Grant, error) {
	for {
		gr, err := x.ac.Request(ctx, x.s, id, resource, details, ch)
		if !errors.Is(err, call.ErrInProgress) {
			return gr, err
		}
		if werr := wait.Sleep(ctx, inProgressWait); werr != nil {
			return nil, err
		}
	}
}

// requestChequeUID derives the uid of the cheque paying for a request from
// the request id, keyed by the wallet's retry key: stable across runs and
// logins from this wallet, unpredictable to anyone else.
func (g *globals) requestChequeUID(x *accessSession, requestID string) (string, error) {
	w, err := g.wallet()
	if err != nil {
		return "", err
	}
	return w.DeriveID("chq-", "cheque for request", x.s.IdentityURL, x.s.UserUID, x.ac.URL, requestID)
}

func newAccessCheckCmd(g *globals, xf *accessFlags) *cobra.Command {
	var action, identityURL, userUID string
	cmd := &cobra.Command{
		Use:   "check RESOURCE [--action request|use] [--user-uid UID --user-identity URL]",
		Short: "Ask whether a user may request or use a resource",
		Long: `Ask the access service whether you (or, for its admins, another user) may
--action request RESOURCE (the catalogue's rule) or use it (a grant from a
fulfilled request). Exits 0 either way; the answer is "allowed".`,
		Example: "  acquire access check job/small --action use -o json",
		Args:    exactArgs(1, "exactly one RESOURCE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if action != access.ActionRequest && action != access.ActionUse {
				return usagef("--action must be %s or %s", access.ActionRequest, access.ActionUse)
			}
			x, err := g.access(xf)
			if err != nil {
				return err
			}
			if userUID != "" && identityURL == "" {
				identityURL = x.s.IdentityURL
			}
			ctx, cancel := g.callContext(cmd)
			defer cancel()
			ans, err := x.ac.Check(ctx, x.s, access.Query{IdentityURL: identityURL, UserUID: userUID, Action: action, Resource: args[0]})
			if err != nil {
				return g.accountError(x.accountingSession, err)
			}
			return g.emit(ans, func(w io.Writer) {
				verdict := "no"
				if ans.Allowed {
					verdict = "yes"
				}
				fmt.Fprintf(w, "%s: %s (%s)\n", verdict, ans.Reason, ans.Resource)
			})
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&action, "action", access.ActionUse, "request (may I ask for it?) or use (do I hold a grant?)")
	fl.StringVar(&userUID, "user-uid", "", "ask about this user (admins only; default: you)")
	fl.StringVar(&identityURL, "user-identity", "", "the identity service of --user-uid (default: yours)")
	return cmd
}

// ---- the catalogue (admins) ----

func newAccessResourceCmd(g *globals, xf *accessFlags) *cobra.Command {
	cmd := groupCmd("resource", "Manage the access service's catalogue (admins; list: any user)",
		`Set, list and remove the resources the access service offers. Changing the
catalogue is for admins of the access service ('acquire host --admin NAME'
makes one); any user may list it.`)
	cmd.AddCommand(newAccessResourceSetCmd(g, xf), newAccessResourceListCmd(g, xf), newAccessResourceRmCmd(g, xf))
	return cmd
}

func newAccessResourceSetCmd(g *globals, xf *accessFlags) *cobra.Command {
	var price, svc, function, desc string
	var users []string
	var holdS int64
	cmd := &cobra.Command{
		Use:   "set NAME --price AMOUNT --service URL --function NAME [--user UID]...",
		Short: "Add or replace a resource",
		Long: `Offer NAME for --price, fulfilled by calling --function at the service --service
(a URL, or a service kind on your identity service's host). --user (repeatable)
limits who may request it; without it any user of a trusted identity service may.`,
		Example: "  acquire access resource set job/small --price 2.5 --service https://jobs.example/jobs --function run_job",
		Args:    exactArgs(1, "exactly one NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := parseAmount("price", price)
			if err != nil {
				return err
			}
			x, err := g.access(xf)
			if err != nil {
				return err
			}
			u, err := serviceURL(x.s, svc)
			if err != nil {
				return err
			}
			ctx, cancel := g.callContext(cmd)
			defer cancel()
			r, err := x.ac.SetResource(ctx, x.s, &access.Resource{Name: args[0], Price: p, ServiceURL: u, Function: function,
				Users: users, Description: desc, HoldS: holdS})
			if err != nil {
				return g.accountError(x.accountingSession, err)
			}
			return g.emit(r, func(w io.Writer) {
				fmt.Fprintf(w, "Set %s: %s, fulfilled by %s at %s.\n", r.Name, r.Price, r.Function, r.ServiceURL)
			})
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&price, "price", "", "price, e.g. 2.5")
	fl.StringVar(&svc, "service", "", "the fulfilling service's URL (or kind)")
	fl.StringVar(&function, "function", "", "the function to call there")
	fl.StringArrayVar(&users, "user", nil, "a user allowed to request it, as <user uid>@<identity service URL> (repeatable; default: anyone)")
	fl.StringVar(&desc, "description", "", "a description for the catalogue")
	fl.Int64Var(&holdS, "hold-s", 0, "how long a payment is held before it must be settled, in seconds (default 3600; jobs need more than their time limit)")
	_ = cmd.MarkFlagRequired("price")
	_ = cmd.MarkFlagRequired("service")
	_ = cmd.MarkFlagRequired("function")
	return cmd
}

func newAccessResourceListCmd(g *globals, xf *accessFlags) *cobra.Command {
	return &cobra.Command{
		Use:     "list",
		Short:   "List the catalogue",
		Example: "  acquire access resource list -o json",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			x, err := g.access(xf)
			if err != nil {
				return err
			}
			ctx, cancel := g.callContext(cmd)
			defer cancel()
			cat, err := x.ac.ListResources(ctx, x.s)
			if err != nil {
				return g.accountError(x.accountingSession, err)
			}
			return g.emit(cat, func(w io.Writer) {
				tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
				fmt.Fprintln(tw, "NAME\tPRICE\tSERVICE\tFUNCTION\tUSERS")
				for _, r := range cat.Resources {
					who := "anyone"
					if len(r.Users) > 0 {
						who = strings.Join(r.Users, ",")
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", shown(r.Name), r.Price, shown(r.ServiceURL), shown(r.Function), shown(who))
				}
				_ = tw.Flush()
			})
		},
	}
}

func newAccessResourceRmCmd(g *globals, xf *accessFlags) *cobra.Command {
	return &cobra.Command{
		Use:     "rm NAME",
		Short:   "Remove a resource (grants already made stay)",
		Example: "  acquire access resource rm job/small",
		Args:    exactArgs(1, "exactly one NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			x, err := g.access(xf)
			if err != nil {
				return err
			}
			ctx, cancel := g.callContext(cmd)
			defer cancel()
			r, err := x.ac.RemoveResource(ctx, x.s, args[0])
			if err != nil {
				return g.accountError(x.accountingSession, err)
			}
			return g.emit(r, func(w io.Writer) { fmt.Fprintf(w, "Removed %s.\n", r.Name) })
		},
	}
}
