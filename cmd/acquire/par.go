package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/openacquire/acquire/runtime/storage"
)

// defaultPARLife is a new PAR's life when --expires is not given.
const defaultPARLife = 24 * time.Hour

func newPARCmd(g *globals) *cobra.Command {
	sf := &storageFlags{}
	cmd := groupCmd("par", "Pre-authenticated links to drives and files: create, list, revoke, use",
		`A PAR (pre-authenticated request) is a link that lets whoever holds it read,
write, or read and write one drive or one file until it expires or is revoked,
without logging in. The link holds a secret after '#': treat it like a
password. It is shown once, when created; the service keeps only a keyed hash.

Owners of a drive create, list and revoke its PARs (with the saved session);
'acquire par get' and 'acquire par put' use a link and need no login.`+storageHelp)
	sf.add(cmd)
	cmd.AddCommand(newPARCreateCmd(g, sf), newPARListCmd(g, sf), newPARRevokeCmd(g, sf), newPARGetCmd(g), newPARPutCmd(g))
	return cmd
}

func newPARCreateCmd(g *globals, sf *storageFlags) *cobra.Command {
	var mode, expires string
	cmd := &cobra.Command{
		Use:   "create DRIVE [NAME] [--mode read|write|readwrite] [--expires WHEN]",
		Short: "Create a link to a drive (or to one file of it)",
		Long: `Create a PAR on DRIVE, or on the file NAME in it. --mode is read (download and
list), write (upload) or readwrite. --expires is a duration from now (24h, 90m)
or an RFC 3339 time; default 24h.`,
		Example: `  acquire par create results --mode write --expires 2h
  acquire par create docs report.pdf --mode read -o json`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := ""
			if len(args) == 2 {
				name = args[1]
			}
			until := g.now().Add(defaultPARLife)
			if expires != "" {
				var err error
				if until, err = parseTime("expires", expires, g.now()); err != nil {
					return err
				}
			}
			p, err := storageCall(g, cmd, sf, func(ctx context.Context, st *storageSession) (*storage.NewPAR, error) {
				return st.c.CreatePAR(ctx, st.s, args[0], name, mode, until)
			})
			if err != nil {
				return err
			}
			return g.emit(p, func(w io.Writer) {
				fmt.Fprintf(w, "PAR %s (%s on %s) until %s:\n%s\n", p.PAR.ID, p.PAR.Mode, parTarget(p.PAR), when(p.PAR.Expires), p.Link)
				fmt.Fprintln(w, "The link is shown only now; anyone holding it has this access.")
			})
		},
	}
	cmd.Flags().StringVar(&mode, "mode", storage.PARRead, "read, write or readwrite")
	cmd.Flags().StringVar(&expires, "expires", "", "when the link stops working (default 24h from now)")
	return cmd
}

func parTarget(p storage.PAR) string {
	if p.Name == "" {
		return "drive " + shown(p.Drive)
	}
	return shown(p.Drive + "/" + p.Name)
}

func newPARListCmd(g *globals, sf *storageFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "list DRIVE",
		Short: "List a drive's PARs (never their secrets)",
		Args:  exactArgs(1, "exactly one DRIVE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			list, err := storageCall(g, cmd, sf, func(ctx context.Context, st *storageSession) (*storage.PARList, error) {
				return st.c.ListPARs(ctx, st.s, args[0])
			})
			if err != nil {
				return err
			}
			for i := range list.PARs {
				list.PARs[i].SecretMAC = "" // not the secret, but nothing a reader needs either
			}
			return g.emit(list, func(w io.Writer) {
				tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "PAR\tMODE\tON\tEXPIRES\tSTATE")
				for _, p := range list.PARs {
					state := "active"
					if p.Revoked {
						state = "revoked"
					} else if !g.now().Before(p.Expires) {
						state = "expired"
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", p.ID, p.Mode, parTarget(p), when(p.Expires), state)
				}
				_ = tw.Flush()
			})
		},
	}
}

func newPARRevokeCmd(g *globals, sf *storageFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "revoke PAR_ID",
		Short: "Revoke a PAR: its link stops working at once",
		Args:  exactArgs(1, "exactly one PAR_ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := storageCall(g, cmd, sf, func(ctx context.Context, st *storageSession) (*storage.PAR, error) {
				return st.c.RevokePAR(ctx, st.s, args[0])
			})
			if err != nil {
				return err
			}
			p.SecretMAC = ""
			return g.emit(p, func(w io.Writer) { fmt.Fprintf(w, "Revoked PAR %s (%s).\n", p.ID, parTarget(*p)) })
		},
	}
}

// openPAR makes the PAR client for a link; no session is needed.
func (g *globals) openPAR(link string) (*storage.PARClient, error) {
	c, err := g.callClient()
	if err != nil {
		return nil, err
	}
	return storage.OpenPAR(c, link)
}

func newPARGetCmd(g *globals) *cobra.Command {
	var out string
	var version int64
	var lf linkFlags
	cmd := &cobra.Command{
		Use:   "get (LINK | --link-stdin | --link-file PATH) [NAME] [-O PATH] [--version N]",
		Short: "Download through a link (a drive link without NAME lists its files)",
		Long: `Download through a PAR link: a file link fetches its file; a drive link fetches
NAME from the drive, or lists the drive's files when NAME is not given. PATH
is as for 'acquire file download'. No login is needed.
` + parLinkHelp,
		Example: `  acquire par get --link-file report.link -O report.pdf
  acquire par get --link-stdin results/out.csv < results.link
  ACQUIRE_PAR_LINK="$LINK" acquire par get -O report.pdf`,
		Args: downloadArgs(2, cobra.RangeArgs(0, 2)),
		RunE: func(cmd *cobra.Command, args []string) error {
			link, rest, err := g.parLink(lf, args)
			if err != nil {
				return err
			}
			if err := checkLinkArgs(cmd, rest, downloadArgs(1, cobra.MaximumNArgs(1))); err != nil {
				return err
			}
			p, err := g.openPAR(link)
			if err != nil {
				return err
			}
			ctx := transferContext(cmd)
			name := ""
			if len(rest) == 1 {
				name = rest[0]
			}
			if name == "" {
				info, err := p.Info(ctx)
				if err != nil {
					return err
				}
				if info.Name == "" {
					return g.parList(cmd, p)
				}
				name = info.Name
			}
			dest := out
			if dest == "" {
				dest = filepath.Base(name)
			}
			v, err := g.download(dest, func(w io.Writer, pr storage.Progress) (*storage.FileVersion, error) {
				return p.Download(ctx, name, w, storage.DownloadOptions{Version: version, Progress: pr})
			})
			if err != nil {
				return err
			}
			return g.downloaded(v, dest)
		},
	}
	cmd.Flags().StringVarP(&out, "output-file", "O", "", `where to write it ("-": stdout)`)
	cmd.Flags().Int64Var(&version, "version", 0, "version to fetch (default: the latest)")
	lf.add(cmd.Flags())
	return cmd
}

func (g *globals) parList(cmd *cobra.Command, p *storage.PARClient) error {
	ctx, cancel := g.callContext(cmd)
	defer cancel()
	list, err := p.List(ctx, "", 0)
	if err != nil {
		return err
	}
	return g.emit(list, func(w io.Writer) { printVersions(w, list.Files, list.Next) })
}

func newPARPutCmd(g *globals) *cobra.Command {
	var chunkBytes int64
	var fresh bool
	var lf linkFlags
	cmd := &cobra.Command{
		Use:   "put (LINK | --link-stdin | --link-file PATH) FILE [NAME] [--chunk-bytes N] [--no-resume]",
		Short: "Upload through a write link (NAME defaults to FILE's base name)",
		Long: `Upload FILE through a PAR link with write access: to NAME in the link's drive,
or as the next version of a file link's file. An interrupted upload resumes as
with 'acquire file upload'. FILE "-" reads standard input (NAME is then
required, and the link cannot come from stdin), as with 'acquire file upload'.
No login is needed.
` + parLinkHelp,
		Example: `  acquire par put --link-file drop.link ./results.csv
  ACQUIRE_PAR_LINK="$LINK" acquire par put ./results.csv`,
		Args: cobra.RangeArgs(1, 3),
		RunE: func(cmd *cobra.Command, args []string) error {
			link, rest, err := g.parLink(lf, args)
			if err != nil {
				return err
			}
			if err := checkLinkArgs(cmd, rest, cobra.RangeArgs(1, 2)); err != nil {
				return err
			}
			if lf.stdin && rest[0] == "-" {
				return usagef("FILE \"-\" reads stdin, so the link cannot: use --link-file or %s", envPARLink)
			}
			p, err := g.openPAR(link)
			if err != nil {
				return err
			}
			args = rest
			name, err := uploadName(args[0], args[1:])
			if err != nil {
				return err
			}
			up := func(ctx context.Context, r io.Reader, size int64, o storage.UploadOptions) (*storage.FileVersion, error) {
				return p.Upload(ctx, name, r, size, o)
			}
			v, err := g.upload(transferContext(cmd), up, resumeKey{p.URL, "par:" + p.ID(), "", name}, args[0], chunkBytes, fresh)
			if err != nil {
				return err
			}
			return g.emit(v, func(w io.Writer) {
				fmt.Fprintf(w, "Uploaded %s as %s version %d (%d bytes, sha256 %s).\n", args[0], v.Drive+"/"+v.Name, v.Version, v.Size, v.SHA256)
			})
		},
	}
	cmd.Flags().Int64Var(&chunkBytes, "chunk-bytes", 0, "chunk size in bytes (default: the service's)")
	cmd.Flags().BoolVar(&fresh, "no-resume", false, "start afresh even if an earlier upload of this file was interrupted")
	lf.add(cmd.Flags())
	return cmd
}
