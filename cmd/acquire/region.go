package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/openacquire/acquire/runtime/accounting"
	"github.com/openacquire/acquire/runtime/host"
	"github.com/openacquire/acquire/runtime/registry"
)

const (
	envRegistryURL = "ACQUIRE_REGISTRY_URL"
	envHostToken   = "ACQUIRE_HOST_TOKEN"
	envHostURL     = "ACQUIRE_HOST_URL"
	maxTokenBytes  = 4096
)

type regionFlags struct {
	registryURL string
	// The peering commands act through the admin API of the host that
	// runs the registry.
	hostURL   string
	tokenFile string
	name      string
}

func newRegionCmd(g *globals) *cobra.Command {
	rf := &regionFlags{}
	cmd := groupCmd("region", "Federated regions: list peers, look up services by UID, peer and unpeer registries",
		`A region is a registry and the services registered with it. Service UIDs name
their home region (kind-<id>@<region>), and a registry peered with that region
answers lookups of them by asking the home registry, checking the keys through
the home registry's pin. Peering is mutual: each region's admin adds the other
('acquire region peer'); until both have, the peering is pending and nothing is
forwarded.

The registry is --registry, else $`+envRegistryURL+`, else the registry beside
the identity URL. Any command reaches another region's service by its URL flag
(--storage, --accounting, --access, --compute, or their $ACQUIRE_*_URL), e.g.
  acquire file ls docs --storage "$(acquire region lookup UID --url)"

peer and unpeer use the admin API of the host that runs the registry: --host
(default $`+envHostURL+`) and its token from --admin-token-file or $`+envHostToken+`.`)
	pf := cmd.PersistentFlags()
	pf.StringVar(&rf.registryURL, "registry", "", "registry URL (default $"+envRegistryURL+", else derived from the identity URL)")
	cmd.AddCommand(newRegionListCmd(g, rf), newRegionLookupCmd(g, rf), newRegionPeerCmd(g, rf), newRegionUnpeerCmd(g, rf))
	return cmd
}

func (g *globals) registryClient(rf *regionFlags) (*registry.Client, error) {
	u := strings.TrimSpace(rf.registryURL)
	if u == "" {
		u = strings.TrimSpace(g.getenv(envRegistryURL))
	}
	if u == "" {
		id, err := g.identity()
		if err != nil {
			return nil, err
		}
		if u, err = siblingURL(id, registry.Kind); err != nil {
			return nil, err
		}
	}
	if _, err := registry.CanonicalURL(u); err != nil {
		return nil, usagef("registry URL %q must be http(s)://host[:port]/path", u)
	}
	c, err := g.callClient()
	if err != nil {
		return nil, err
	}
	return &registry.Client{C: c, URL: u}, nil
}

func newRegionListCmd(g *globals, rf *regionFlags) *cobra.Command {
	return &cobra.Command{
		Use:     "list",
		Short:   "List this registry's region and its peer regions (active, pending, offered)",
		Example: "  acquire region list\n  acquire region list --registry https://eu.example/registry -o json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			rc, err := g.registryClient(rf)
			if err != nil {
				return err
			}
			ctx, cancel := g.callContext(cmd)
			defer cancel()
			l, err := rc.Peers(ctx)
			if err != nil {
				return err
			}
			return g.emit(l, func(w io.Writer) { printPeers(w, l.Region, l.URL, l.Peers) })
		},
	}
}

func printPeers(w io.Writer, region, url string, peers []*registry.Peer) {
	fmt.Fprintf(w, "region %s at %s\n", region, url)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "REGION\tSTATE\tLABEL\tURL")
	for _, p := range peers {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", p.Region, p.State, escapeText(p.Label, false), escapeText(p.URL, false))
	}
	_ = tw.Flush()
}

func newRegionLookupCmd(g *globals, rf *regionFlags) *cobra.Command {
	var urlOnly bool
	cmd := &cobra.Command{
		Use:   "lookup UID",
		Short: "Look up a service by UID, in this region or any peer region",
		Long: `Look up a service by its UID. A UID of another region is answered by this
registry asking that region's registry (it must be an active peer: else
NotPeeredError, exit 5; a region that is down or cut off: RegionUnreachableError,
exit 6). --url prints only the service's URL, for another command's URL flag.`,
		Example: "  acquire region lookup stor-0123456789abcdef@fedcba9876543210\n  acquire region lookup $UID --url",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			rc, err := g.registryClient(rf)
			if err != nil {
				return err
			}
			ctx, cancel := g.callContext(cmd)
			defer cancel()
			e, err := rc.Lookup(ctx, registry.LookupArgs{UID: strings.TrimSpace(args[0])})
			if err != nil {
				return err
			}
			if urlOnly && g.output != outputJSON {
				fmt.Fprintln(g.stdout, e.URL)
				return nil
			}
			out := struct {
				*registry.Entry
				Region string `json:"region"`
			}{e, registry.RegionOf(e.UID)}
			return g.emit(out, func(w io.Writer) {
				fmt.Fprintf(w, "%s\n  kind         %s\n  url          %s\n  region       %s\n  certificate  %s\n",
					e.UID, e.Kind, escapeText(e.URL, false), out.Region, e.PinnedCert)
			})
		},
	}
	cmd.Flags().BoolVar(&urlOnly, "url", false, "print only the service's URL")
	return cmd
}

// adminClient is the admin API of the host running the registry.
func (g *globals) adminClient(rf *regionFlags) (*host.AdminClient, error) {
	u := strings.TrimSpace(rf.hostURL)
	if u == "" {
		u = strings.TrimSpace(g.getenv(envHostURL))
	}
	if u == "" {
		return nil, usagef("give the registry's host with --host or $%s", envHostURL)
	}
	tok := g.getenv(envHostToken)
	if rf.tokenFile != "" {
		b, err := os.ReadFile(rf.tokenFile)
		if err != nil {
			return nil, usagef("--admin-token-file: %v", err)
		}
		if len(b) > maxTokenBytes {
			return nil, usagef("--admin-token-file: over %d bytes", maxTokenBytes)
		}
		tok = string(b)
	}
	if tok = strings.TrimSpace(tok); tok == "" {
		return nil, usagef("give the host's admin token with --admin-token-file or $%s", envHostToken)
	}
	return &host.AdminClient{URL: u, Token: tok}, nil
}

func peeringFlags(cmd *cobra.Command, rf *regionFlags) {
	fl := cmd.Flags()
	fl.StringVar(&rf.hostURL, "host", "", "base URL of the host running the registry (default $"+envHostURL+")")
	fl.StringVar(&rf.tokenFile, "admin-token-file", "", "file holding the host's admin token (default $"+envHostToken+")")
	fl.StringVar(&rf.name, "name", registry.Kind, "the registry's deployment name on the host")
}

func newRegionPeerCmd(g *globals, rf *regionFlags) *cobra.Command {
	var label string
	cmd := &cobra.Command{
		Use:   "peer REGISTRY_URL",
		Short: "Add another region's registry as a peer (its admin adds this one too)",
		Long: `This region's half of a peering: the registry challenges the other registry,
pins its certificate and sends it a signed peering record. The peering is
pending until the other region's admin adds this registry; then it is active
on both sides. Running it again is safe.`,
		Example: "  acquire region peer https://us.example/registry --label us --host https://eu.example --admin-token-file admin.token",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ac, err := g.adminClient(rf)
			if err != nil {
				return err
			}
			ctx, cancel := g.callContext(cmd)
			defer cancel()
			p, err := ac.AddPeer(ctx, rf.name, args[0], label)
			if err != nil {
				return err
			}
			return g.emit(p, func(w io.Writer) {
				fmt.Fprintf(w, "region %s at %s: %s\n", p.Region, escapeText(p.URL, false), p.State)
			})
		},
	}
	peeringFlags(cmd, rf)
	cmd.Flags().StringVar(&label, "label", "", "a name for the region, for people (e.g. us)")
	return cmd
}

func newRegionUnpeerCmd(g *globals, rf *regionFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "unpeer REGION",
		Short:   "End this region's peering with REGION (lookups into it stop at once)",
		Example: "  acquire region unpeer fedcba9876543210 --host https://eu.example --admin-token-file admin.token",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := registry.CheckRegion(args[0]); err != nil {
				return usagef("REGION %q must be a region ID (16 hex digits, as 'acquire region list' shows)", args[0])
			}
			ac, err := g.adminClient(rf)
			if err != nil {
				return err
			}
			ctx, cancel := g.callContext(cmd)
			defer cancel()
			p, err := ac.RemovePeer(ctx, rf.name, args[0])
			if err != nil {
				return err
			}
			return g.emit(p, func(w io.Writer) { fmt.Fprintf(w, "region %s: unpeered\n", p.Region) })
		},
	}
	peeringFlags(cmd, rf)
	return cmd
}

// --to-service of a cross-region transfer takes an accounting service's URL
// or its UID, found through the registry ($ACQUIRE_REGISTRY_URL, else the
// one beside the session's identity service), which asks the UID's home
// region when it is a peer's.
func init() { resolveService = resolveServiceRef }

func resolveServiceRef(ctx context.Context, a *accountingSession, ref string) (string, error) {
	ref = strings.TrimRight(strings.TrimSpace(ref), "/")
	if strings.HasPrefix(ref, "http://") || strings.HasPrefix(ref, "https://") {
		return ref, nil
	}
	if registry.RegionOf(ref) == "" {
		return "", usagef("--to-service %q must be the other accounting service's URL (http:// or https://) or its UID (kind-<id>@<region>)", ref)
	}
	regURL := strings.TrimSpace(os.Getenv(envRegistryURL))
	if regURL == "" {
		var err error
		if regURL, err = siblingURL(a.s.IdentityURL, registry.Kind); err != nil {
			return "", err
		}
	}
	e, err := (&registry.Client{C: a.c.C, URL: regURL}).Lookup(ctx, registry.LookupArgs{UID: ref})
	if err != nil {
		return "", err
	}
	if e.Kind != accounting.Kind {
		return "", usagef("--to-service %s is a %s service, not an accounting service", ref, e.Kind)
	}
	return e.URL, nil
}
