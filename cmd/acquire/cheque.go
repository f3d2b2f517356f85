package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/openacquire/acquire/runtime/accounting"
	"github.com/openacquire/acquire/runtime/identity"
)

// defaultChequeLife is how long a cheque lasts unless --expires says.
const defaultChequeLife = time.Hour

func newChequeCmd(g *globals) *cobra.Command {
	af := &accountFlags{}
	cmd := groupCmd("cheque", "Cheques: signed promises to pay a service",
		`A cheque promises a named service at most --max from one of your accounts,
before it expires, for a resource. It is signed with your saved session and
handed to the service (for the access service: 'acquire access request'),
which cashes it once: the money is held for the service until it receipts
(keeps) or refunds it.

A cheque lasts at most 24 hours (a session's life) and only while the session
that signed it is logged in: logging out voids your unspent cheques.

Besides the exit codes listed in 'acquire --help', these commands exit 7 on
ChequeInvalidError.`)
	pf := cmd.PersistentFlags()
	pf.StringVar(&af.accountingURL, "accounting", "", "accounting service URL (default $"+envAccountingURL+", else derived from the identity URL)")
	pf.StringVarP(&af.username, "username", "u", "", "use this user's saved session (default: the last one logged in)")
	cmd.AddCommand(newChequeWriteCmd(g, af))
	return cmd
}

// chequeOptions are what a cheque command line says.
type chequeOptions struct {
	account, to, expires, forWhat, uid string
}

func (o *chequeOptions) flags(cmd *cobra.Command, withTo bool) {
	fl := cmd.Flags()
	fl.StringVar(&o.account, "account", "", "your account to pay from (id or name)")
	if withTo {
		fl.StringVar(&o.to, "to", "", "the service it pays: its URL, or a service kind on your identity service's host (e.g. access)")
	}
	fl.StringVar(&o.expires, "expires", defaultChequeLife.String(), "when it expires: a duration from now (at most 24h) or an RFC 3339 time")
	fl.StringVar(&o.forWhat, "for", "", "the resource it pays for (at most 256 bytes)")
	fl.StringVar(&o.uid, "cheque-uid", "", "the cheque's uid (default: a fresh random one)")
}

// write signs a cheque to recipient; max has been parsed by the caller.
func (o *chequeOptions) write(g *globals, a *accountingSession, account, recipient, max string) (*accounting.Cheque, error) {
	m, err := parseAmount("max", max)
	if err != nil {
		return nil, err
	}
	now := g.now()
	exp, err := parseTime("expires", o.expires, now)
	if err != nil {
		return nil, err
	}
	ch, err := accounting.WriteCheque(a.s, accounting.ChequeSpec{Bank: a.c.URL, UID: o.uid, Account: account, Recipient: recipient,
		Max: m, Expires: exp, For: o.forWhat}, now)
	if err != nil {
		return nil, usagef("%v", err)
	}
	return ch, nil
}

// serviceURL reads --to: a URL as it is, else a kind beside the identity service.
func serviceURL(s *identity.Session, to string) (string, error) {
	to = strings.TrimSpace(to)
	switch {
	case to == "":
		return "", usagef("--to is required")
	case strings.HasPrefix(to, "http://") || strings.HasPrefix(to, "https://"):
		return to, nil
	}
	return siblingURL(s.IdentityURL, to)
}

func newChequeWriteCmd(g *globals, af *accountFlags) *cobra.Command {
	var o chequeOptions
	var max, out string
	cmd := &cobra.Command{
		Use:   "write --account ACCOUNT --to SERVICE --max AMOUNT [--expires 1h] [--for RESOURCE] [--out FILE]",
		Short: "Write a cheque to a service and print it as JSON",
		Long: `Sign a cheque with your saved session and print it as one JSON object (to
stdout, or to --out FILE, created 0600). No call is made except to look up an
account given by name. Anyone holding the cheque can hand it to the service
named by --to; only that service can cash it, once, for at most --max.`,
		Example: `  acquire cheque write --account main --to access --max 5 --for job/small > cheque.json
  acquire cheque write --account main --to https://jobs.example/jobs --max 2.5 --expires 30m --out c.json`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.account == "" || max == "" {
				return usagef("--account, --to and --max are required")
			}
			a, err := g.accounting(af)
			if err != nil {
				return err
			}
			to, err := serviceURL(a.s, o.to)
			if err != nil {
				return err
			}
			ctx, cancel := g.callContext(cmd)
			defer cancel()
			acc, err := a.resolve(ctx, o.account)
			if err != nil {
				return g.accountError(a, err)
			}
			ch, err := o.write(g, a, acc, to, max)
			if err != nil {
				return err
			}
			if out == "" {
				return writeJSON(g.stdout, ch)
			}
			if err := writeChequeFile(out, ch); err != nil {
				return err
			}
			return g.emit(map[string]string{"uid": ch.UID, "file": out}, func(w io.Writer) {
				fmt.Fprintf(w, "Wrote cheque %s to %s.\n", ch.UID, out)
			})
		},
	}
	o.flags(cmd, true)
	cmd.Flags().StringVar(&max, "max", "", "the most the service may take, e.g. 5")
	cmd.Flags().StringVar(&out, "out", "", "write the cheque to this file instead of stdout")
	return cmd
}

func writeChequeFile(path string, ch *accounting.Cheque) error {
	var b bytes.Buffer
	if err := writeJSON(&b, ch); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return usagef("--out: %v", err)
	}
	if _, err := f.Write(b.Bytes()); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}

// maxChequeFileBytes bounds a cheque file read with --cheque.
const maxChequeFileBytes = 16 << 10

func readChequeFile(g *globals, path string) (*accounting.Cheque, error) {
	var r io.Reader
	if path == "-" {
		r = g.stdin
	} else {
		f, err := os.Open(path)
		if err != nil {
			return nil, usagef("--cheque: %v", err)
		}
		defer func() { _ = f.Close() }() // read-only: nothing to lose
		r = f
	}
	raw, err := io.ReadAll(io.LimitReader(r, maxChequeFileBytes+1))
	if err != nil {
		return nil, err
	}
	if len(raw) > maxChequeFileBytes {
		return nil, usagef("--cheque: over %d bytes", maxChequeFileBytes)
	}
	var ch accounting.Cheque
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&ch); err != nil {
		return nil, usagef("--cheque: not a cheque: %v", err)
	}
	return &ch, nil
}
