package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/openacquire/acquire/runtime/storage"
)

func newDriveCmd(g *globals) *cobra.Command {
	sf := &storageFlags{}
	cmd := groupCmd("drive", "Create and list drives, and set who may use them",
		`Drives hold files. A drive's path is one or more names joined by "/"
("photos", "photos/2026"): a sub-drive lives inside its parent and, until it
gets an ACL of its own, inherits its parent's. Roles, weakest first: read
(list, download), write (and upload, delete, create sub-drives), owner (and
change the ACL, create and revoke PARs, delete the drive). Whoever creates a top-level drive owns
it.`+storageHelp)
	sf.add(cmd)
	cmd.AddCommand(newDriveCreateCmd(g, sf), newDriveListCmd(g, sf), newDriveACLCmd(g, sf), newDriveRmCmd(g, sf))
	return cmd
}

func newDriveRmCmd(g *globals, sf *storageFlags) *cobra.Command {
	var recursive bool
	cmd := &cobra.Command{
		Use:   "rm DRIVE [--recursive]",
		Short: "Delete a drive (owners): an empty one, or with everything in it",
		Long: `Delete DRIVE, which must be empty: no files, deleted ones included while
their versions are kept ('acquire file rm --purge' removes them), and no
sub-drives. Its PARs stop working and its name is free again. A drive that is
not empty is refused with DriveNotEmptyError and left as it was.

With --recursive, every version of every file in DRIVE and in its sub-drives
is removed first, and the sub-drives are deleted, deepest first; you must own
each of them. This is not atomic: if it stops part way (an error, Ctrl-C,
someone writing into a drive meanwhile), what was not reached yet is kept, and
running it again finishes the job. --timeout bounds each call, not the whole.`,
		Example: `  acquire drive rm photos/2026
  acquire drive rm photos --recursive`,
		Args: exactArgs(1, "exactly one DRIVE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if recursive {
				return deleteDriveTree(g, cmd, sf, args[0])
			}
			d, err := storageCall(g, cmd, sf, func(ctx context.Context, st *storageSession) (*storage.DriveInfo, error) {
				return st.c.DeleteDrive(ctx, st.s, args[0])
			})
			if err != nil {
				return err
			}
			return g.emit(d, func(w io.Writer) { fmt.Fprintf(w, "Deleted drive %s.\n", d.Name) })
		},
	}
	cmd.Flags().BoolVarP(&recursive, "recursive", "r", false, "delete every file and sub-drive too")
	return cmd
}

// deleteDriveTree is 'drive rm --recursive': bounded by Ctrl-C, not by
// --timeout, as a large tree takes as long as it takes.
func deleteDriveTree(g *globals, cmd *cobra.Command, sf *storageFlags, drive string) error {
	st, err := g.storage(sf)
	if err != nil {
		return err
	}
	tell := func(storage.TreeDeleted) {}
	if g.output == outputText && isTerminal(g.stderr) {
		tell = func(t storage.TreeDeleted) {
			fmt.Fprintf(g.stderr, "\rpurged %d files (%d bytes), deleted %d drives ", t.Names, t.Bytes, len(t.Drives))
		}
		defer fmt.Fprintln(g.stderr)
	}
	out, err := st.c.DeleteDriveTree(transferContext(cmd), st.s, drive, tell)
	if err != nil {
		if out != nil && len(out.Drives) > 0 && g.output == outputText {
			fmt.Fprintf(g.stderr, "Stopped after deleting %s; run this again to finish.\n", strings.Join(out.Drives, ", "))
		}
		return g.closedRemotely(st.s, err)
	}
	return g.emit(out, func(w io.Writer) {
		fmt.Fprintf(w, "Deleted drive %s with %d sub-drives; purged %d files (%d bytes).\n", drive, len(out.Drives)-1, out.Names, out.Bytes)
	})
}

func newDriveCreateCmd(g *globals, sf *storageFlags) *cobra.Command {
	var maxBytes, maxVersions int64
	var rule string
	cmd := &cobra.Command{
		Use:   "create DRIVE [--max-bytes N] [--max-versions N] [--delete-rule keep|purge]",
		Short: "Create a drive (or a sub-drive of one you may write to)",
		Long: `Create DRIVE. --max-bytes limits the bytes its files may hold (0: no limit);
an upload that would pass it is refused with QuotaExceededError. --max-versions
limits the versions its files may keep, deletions and empty files included
(0: ` + fmt.Sprint(storage.DefaultMaxVersions) + `); past it, uploads and deletions that keep versions are
refused with QuotaExceededError until old versions are purged. --delete-rule
says what 'acquire file rm' does by default: keep (a tombstone; older versions
stay fetchable) or purge (every version is removed).`,
		Example: `  acquire drive create photos --max-bytes 10000000000
  acquire drive create photos/2026`,
		Args: exactArgs(1, "exactly one DRIVE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if maxBytes < 0 {
				return usagef("--max-bytes must be 0 (no limit) or more")
			}
			if maxVersions < 0 || maxVersions > storage.MaxVersionsLimit {
				return usagef("--max-versions must be in [0, %d] (0: %d)", storage.MaxVersionsLimit, storage.DefaultMaxVersions)
			}
			d, err := storageCall(g, cmd, sf, func(ctx context.Context, st *storageSession) (*storage.DriveInfo, error) {
				return st.c.CreateDrive(ctx, st.s, args[0], storage.DriveOptions{MaxBytes: maxBytes, MaxVersions: maxVersions, DeleteRule: rule})
			})
			if err != nil {
				return err
			}
			return g.emit(d, func(w io.Writer) { fmt.Fprintf(w, "Created drive %s (you are %s).\n", d.Name, d.Role) })
		},
	}
	cmd.Flags().Int64Var(&maxBytes, "max-bytes", 0, "size limit of the drive's files in bytes (0: none)")
	cmd.Flags().Int64Var(&maxVersions, "max-versions", 0, "limit on the versions the drive keeps (0: the default)")
	cmd.Flags().StringVar(&rule, "delete-rule", "", "what rm does by default: keep or purge (default keep)")
	return cmd
}

func newDriveListCmd(g *globals, sf *storageFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "list [PARENT]",
		Short: "List your drives, or the sub-drives of PARENT",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			parent := ""
			if len(args) == 1 {
				parent = args[0]
			}
			list, err := storageCall(g, cmd, sf, func(ctx context.Context, st *storageSession) (*storage.DriveList, error) {
				return st.c.ListDrives(ctx, st.s, parent)
			})
			if err != nil {
				return err
			}
			return g.emit(list, func(w io.Writer) {
				tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "DRIVE\tROLE\tUSED BYTES\tLIMIT\tVERSIONS\tON DELETE")
				for _, d := range list.Drives {
					fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%d/%d\t%s\n", shown(d.Name), d.Role, d.UsageBytes, limitText(d.MaxBytes), d.UsageVersions, d.MaxVersions, d.DeleteRule)
				}
				_ = tw.Flush()
			})
		},
	}
}

func limitText(n int64) string {
	if n == 0 {
		return "-"
	}
	return fmt.Sprint(n)
}

func newDriveACLCmd(g *globals, sf *storageFlags) *cobra.Command {
	var set, add, remove []string
	var inherit bool
	cmd := &cobra.Command{
		Use:   "acl DRIVE [--set RULE]... [--add RULE]... [--remove WHO]... [--inherit]",
		Short: "Show or change a drive's ACL",
		Long: `Without flags, show DRIVE's ACL: its own rules (if any), the rules in effect
and where they come from, and your role. Only owners change it.

A RULE is WHO=ROLE; WHO is one of
  user:UID            a user of your identity service (UID from 'acquire user whoami')
  user:UID@URL        a user of the identity service at URL
  group:NAME          every member of your storage group NAME
  group:UID/NAME      every member of user UID's group NAME (also
                      group:UID@URL/NAME); see 'acquire group'
  default             every user of a trusted identity service
and ROLE is read, write or owner.

--set replaces the drive's own rules with the given ones; --add and --remove
change the rules in effect and make them the drive's own; --inherit drops the
drive's own rules so it inherits its parent's again.`,
		Example: `  acquire drive acl photos
  acquire drive acl photos --add user:1a2b3c=read --add default=read
  acquire drive acl photos/2026 --inherit`,
		Args: exactArgs(1, "exactly one DRIVE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			changes := len(set) + len(add) + len(remove)
			if inherit && changes > 0 {
				return usagef("--inherit cannot be combined with --set, --add or --remove")
			}
			if len(set) > 0 && len(add)+len(remove) > 0 {
				return usagef("--set replaces the rules; give --add/--remove without it")
			}
			info, err := storageCall(g, cmd, sf, func(ctx context.Context, st *storageSession) (*storage.ACLInfo, error) {
				if !inherit && changes == 0 {
					return st.c.GetACL(ctx, st.s, args[0])
				}
				acl, err := newACL(ctx, st, args[0], inherit, set, add, remove)
				if err != nil {
					return nil, err
				}
				return st.c.SetACL(ctx, st.s, args[0], acl)
			})
			if err != nil {
				return err
			}
			return g.emit(info, func(w io.Writer) { printACL(w, info) })
		},
	}
	fl := cmd.Flags()
	fl.StringArrayVar(&set, "set", nil, "replace the drive's own rules with these (repeatable)")
	fl.StringArrayVar(&add, "add", nil, "add or change a rule (repeatable)")
	fl.StringArrayVar(&remove, "remove", nil, "remove the rule for WHO (repeatable)")
	fl.BoolVar(&inherit, "inherit", false, "drop the drive's own rules: inherit its parent's")
	return cmd
}

// newACL works out the ACL to set from the flags.
func newACL(ctx context.Context, st *storageSession, drive string, inherit bool, set, add, remove []string) (*storage.ACL, error) {
	if inherit {
		return nil, nil
	}
	me := storage.Principal{IdentityURL: st.s.IdentityURL, UserUID: st.s.UserUID}
	acl := &storage.ACL{}
	if len(set) == 0 {
		cur, err := st.c.GetACL(ctx, st.s, drive)
		if err != nil {
			return nil, err
		}
		acl.Rules = append(acl.Rules, cur.Effective.Rules...)
	}
	for _, spec := range append(set, add...) {
		r, err := parseRule(spec, me, true)
		if err != nil {
			return nil, err
		}
		acl.Rules = append(withoutRule(acl.Rules, r), r)
	}
	for _, spec := range remove {
		r, err := parseRule(spec, me, false)
		if err != nil {
			return nil, err
		}
		acl.Rules = withoutRule(acl.Rules, r)
	}
	return acl, nil
}

// parseRule reads WHO=ROLE (or WHO alone, for --remove); group:NAME is
// caller's group.
func parseRule(spec string, caller storage.Principal, withRole bool) (storage.Rule, error) {
	identityURL := caller.IdentityURL
	who, role, hasRole := strings.Cut(strings.TrimSpace(spec), "=")
	var r storage.Rule
	if hasRole != withRole {
		if withRole {
			return r, usagef("rule %q: want WHO=ROLE, e.g. user:UID=read", spec)
		}
		return r, usagef("--remove %q: want WHO only, e.g. user:UID", spec)
	}
	switch role {
	case "", storage.RoleRead, storage.RoleWrite, storage.RoleOwner:
		r.Role = role
	default:
		return r, usagef("rule %q: ROLE must be read, write or owner", spec)
	}
	kind, name, _ := strings.Cut(who, ":")
	switch {
	case who == storage.RuleDefault:
		r.Kind = storage.RuleDefault
	case kind == storage.RuleGroup && name != "":
		owner, group := splitGroupRef(name, identityURL)
		if owner == nil {
			owner = &caller
		}
		r = storage.GroupRule(*owner, group, r.Role)
	case kind == storage.RuleUser && name != "":
		p := userPrincipal(name, identityURL)
		r.Kind, r.IdentityURL, r.UserUID = storage.RuleUser, p.IdentityURL, p.UserUID
	default:
		return r, usagef("rule %q: WHO must be user:UID, user:UID@IDENTITY_URL, group:NAME, group:UID/NAME or default", spec)
	}
	return r, nil
}

// withoutRule drops the rules for the same principal as r.
func withoutRule(rules []storage.Rule, r storage.Rule) []storage.Rule {
	out := rules[:0:0]
	for _, x := range rules {
		if x.Kind != r.Kind || x.Group != r.Group || x.UserUID != r.UserUID || x.IdentityURL != r.IdentityURL {
			out = append(out, x)
		}
	}
	return out
}

func printACL(w io.Writer, info *storage.ACLInfo) {
	from := "its own rules"
	if info.Own == nil {
		from = "inherited from " + info.From
	}
	fmt.Fprintf(w, "Drive %s (%s); your role: %s\n", info.Drive, from, dash(info.Role))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "WHO\tROLE")
	for _, r := range info.Effective.Rules {
		fmt.Fprintf(tw, "%s\t%s\n", shown(ruleWho(r)), r.Role)
	}
	_ = tw.Flush()
}

func ruleWho(r storage.Rule) string {
	switch r.Kind {
	case storage.RuleUser:
		return "user:" + r.UserUID + "@" + r.IdentityURL
	case storage.RuleGroup:
		return "group:" + r.UserUID + "@" + r.IdentityURL + "/" + r.Group
	}
	return r.Kind
}
