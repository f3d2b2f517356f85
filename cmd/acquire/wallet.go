package main

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/openacquire/acquire/runtime/call"
	"github.com/openacquire/acquire/runtime/wallet"
)

func newWalletCmd(g *globals) *cobra.Command {
	cmd := groupCmd("wallet", "Inspect the local wallet and the service certificates it trusts",
		`The wallet keeps your sessions (their keys encrypted), remembered devices, and
the certificate fingerprint of every service this client has talked to, pinned
the first time (trust on first use). See 'acquire --help' for where it lives.`)
	cmd.AddCommand(newWalletShowCmd(g), newWalletUnpinCmd(g))
	return cmd
}

type walletJSON struct {
	Dir         string               `json:"dir"`
	IdentityURL string               `json:"identity_url,omitempty"`
	Sessions    []wallet.Entry       `json:"sessions"`
	Devices     []wallet.DeviceEntry `json:"devices"`
	Pins        map[string]string    `json:"pins"`
}

func newWalletShowCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:     "show",
		Short:   "List saved sessions, remembered devices and pinned certificates (never keys)",
		Example: "  acquire wallet show\n  acquire wallet show -o json",
		Args:    noArgs,
		RunE: func(_ *cobra.Command, _ []string) error {
			w, err := g.wallet()
			if err != nil {
				return err
			}
			out := walletJSON{Dir: w.Folder(), IdentityURL: w.IdentityURL(), Sessions: w.Entries(), Devices: w.Devices(), Pins: w.Pins()}
			return g.emit(out, func(wr io.Writer) {
				tw := tabwriter.NewWriter(wr, 0, 0, 2, ' ', 0)
				fmt.Fprintf(tw, "wallet\t%s\n", out.Dir)
				if out.IdentityURL != "" {
					fmt.Fprintf(tw, "identity\t%s\n", out.IdentityURL)
				}
				_ = tw.Flush()
				if len(out.Sessions) > 0 {
					fmt.Fprintln(wr, "\nsessions ('*' is the current user of its identity service):")
					tw = tabwriter.NewWriter(wr, 0, 0, 2, ' ', 0)
					for _, s := range out.Sessions {
						mark := " "
						if s.Current {
							mark = "*"
						}
						fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\texpires %s\n", mark, s.Username, s.IdentityURL, s.SessionUID, s.Status, when(s.Expires))
					}
					_ = tw.Flush()
				}
				if len(out.Devices) > 0 {
					fmt.Fprintln(wr, "\nremembered devices:")
					for _, d := range out.Devices {
						fmt.Fprintf(wr, "  %s at %s: device %s\n", d.Username, d.IdentityURL, d.UID)
					}
				}
				if len(out.Pins) > 0 {
					fmt.Fprintln(wr, "\npinned service certificates:")
					urls := make([]string, 0, len(out.Pins))
					for u := range out.Pins {
						urls = append(urls, u)
					}
					sort.Strings(urls)
					for _, u := range urls {
						fmt.Fprintf(wr, "  %s  %s\n", u, out.Pins[u])
					}
				}
			})
		},
	}
}

func newWalletUnpinCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "unpin SERVICE_URL",
		Short: "Forget the certificate pinned for a service",
		Long: `Forget the certificate fingerprint pinned for a service, so the next call
trusts whatever certificate the service presents and pins that one.

A service's keys rotate without this: each new generation is endorsed by the
one before, and the pin follows. Unpin only when you know the service was set
up afresh (a development host on a new store, say): otherwise a changed
certificate may mean someone is impersonating the service.`,
		Example: "  acquire wallet unpin http://127.0.0.1:8080/identity",
		Args:    exactArgs(1, "exactly one SERVICE_URL"),
		RunE: func(_ *cobra.Command, args []string) error {
			u := strings.TrimSpace(args[0])
			w, err := g.wallet()
			if err != nil {
				return err
			}
			// Pins are kept under the service's ID (call.ServiceID); a
			// wallet written before may hold the URL as typed.
			fp, ok := w.Pinned(call.ServiceID(u))
			if ok {
				u = call.ServiceID(u)
			} else {
				fp, ok = w.Pinned(u)
			}
			if !ok {
				return &call.Error{Class: call.ErrNotFound.Class, Message: fmt.Sprintf("no certificate is pinned for %q (see 'acquire wallet show')", u)}
			}
			if err := w.Unpin(u); err != nil {
				return err
			}
			return g.emit(map[string]string{"url": u, "fingerprint": fp}, func(wr io.Writer) {
				fmt.Fprintf(wr, "Forgot certificate %s of %s.\n", fp, u)
			})
		},
	}
}
