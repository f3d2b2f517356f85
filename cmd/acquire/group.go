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

func newGroupCmd(g *globals) *cobra.Command {
	sf := &storageFlags{}
	cmd := groupCmd("group", "Create and edit your storage groups, which drive ACLs can name",
		`A group is a set of users that a drive's ACL can give a role to at once
('acquire drive acl DRIVE --add group:NAME=read'). Groups belong to the user
who creates them: your group "team" and another user's "team" are two
groups, only you change who is in yours, and an ACL rule names a group
together with its owner (group:NAME is yours, group:UID/NAME or
group:UID@IDENTITY_URL/NAME another user's). A rule for a group that does
not exist is refused.

A MEMBER is UID (a user of your identity service, from 'acquire user whoami')
or UID@IDENTITY_URL; "user:" in front is allowed.`+storageHelp)
	sf.add(cmd)
	cmd.AddCommand(newGroupCreateCmd(g, sf), newGroupListCmd(g, sf), newGroupShowCmd(g, sf),
		newGroupEditCmd(g, sf, "add"), newGroupEditCmd(g, sf, "remove"))
	return cmd
}

func newGroupCreateCmd(g *globals, sf *storageFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "create NAME [MEMBER]...",
		Short: "Create a group of yours, with its first members",
		Example: `  acquire group create team 1a2b3c 4d5e6f
  acquire group create partners 7a8b9c@https://id.example.org/identity`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return groupCall(g, cmd, sf, func(ctx context.Context, st *storageSession) (*storage.Group, error) {
				members, err := parseMembers(args[1:], st.s.IdentityURL)
				if err != nil {
					return nil, err
				}
				return st.c.CreateGroup(ctx, st.s, args[0], members)
			})
		},
	}
}

func newGroupEditCmd(g *globals, sf *storageFlags, verb string) *cobra.Command {
	short := map[string]string{"add": "Add members to a group of yours", "remove": "Remove members from a group of yours"}[verb]
	return &cobra.Command{
		Use:     verb + " NAME MEMBER...",
		Short:   short,
		Example: "  acquire group " + verb + " team 1a2b3c",
		Args:    cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return groupCall(g, cmd, sf, func(ctx context.Context, st *storageSession) (*storage.Group, error) {
				members, err := parseMembers(args[1:], st.s.IdentityURL)
				if err != nil {
					return nil, err
				}
				if verb == "add" {
					return st.c.EditGroup(ctx, st.s, args[0], members, nil)
				}
				return st.c.EditGroup(ctx, st.s, args[0], nil, members)
			})
		},
	}
}

func newGroupShowCmd(g *globals, sf *storageFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "show [OWNER/]NAME",
		Short: "Show a group's owner and members (its owner and members may)",
		Long: `Show one of your groups, or OWNER's group NAME if you are in it. OWNER is
UID or UID@IDENTITY_URL.`,
		Example: `  acquire group show team
  acquire group show 1a2b3c/team`,
		Args: exactArgs(1, "exactly one [OWNER/]NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return groupCall(g, cmd, sf, func(ctx context.Context, st *storageSession) (*storage.Group, error) {
				owner, name := splitGroupRef(args[0], st.s.IdentityURL)
				return st.c.GetGroup(ctx, st.s, owner, name)
			})
		},
	}
}

func newGroupListCmd(g *globals, sf *storageFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List your groups",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			list, err := storageCall(g, cmd, sf, func(ctx context.Context, st *storageSession) (*storage.GroupList, error) {
				return st.c.ListGroups(ctx, st.s)
			})
			if err != nil {
				return err
			}
			return g.emit(list, func(w io.Writer) {
				tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "GROUP\tMEMBERS")
				for _, grp := range list.Groups {
					fmt.Fprintf(tw, "%s\t%d\n", shown(grp.Name), len(grp.Members))
				}
				_ = tw.Flush()
			})
		},
	}
}

// parseMembers reads MEMBER arguments: UID or UID@IDENTITY_URL.
func parseMembers(args []string, identityURL string) ([]storage.Principal, error) {
	out := make([]storage.Principal, 0, len(args))
	for _, a := range args {
		uid := strings.TrimPrefix(strings.TrimSpace(a), storage.RuleUser+":")
		p := userPrincipal(uid, identityURL)
		if p.UserUID == "" || p.IdentityURL == "" {
			return nil, usagef("member %q: want UID or UID@IDENTITY_URL", a)
		}
		out = append(out, p)
	}
	return out, nil
}

// userPrincipal reads UID or UID@IDENTITY_URL (a user of identityURL).
func userPrincipal(spec, identityURL string) storage.Principal {
	if uid, url, ok := strings.Cut(spec, "@"); ok {
		return storage.Principal{IdentityURL: url, UserUID: uid}
	}
	return storage.Principal{IdentityURL: identityURL, UserUID: spec}
}

// splitGroupRef reads [OWNER/]NAME: the owner nil means the caller. Group
// names hold no "/", so the last one ends the owner (a URL has others).
func splitGroupRef(ref, identityURL string) (*storage.Principal, string) {
	i := strings.LastIndexByte(ref, '/')
	if i < 0 {
		return nil, ref
	}
	owner := userPrincipal(ref[:i], identityURL)
	return &owner, ref[i+1:]
}

// groupCall runs one call answering a group, and shows the group.
func groupCall(g *globals, cmd *cobra.Command, sf *storageFlags, fn func(context.Context, *storageSession) (*storage.Group, error)) error {
	grp, err := storageCall(g, cmd, sf, fn)
	if err != nil {
		return err
	}
	return g.emit(grp, func(w io.Writer) { printGroup(w, grp) })
}

func printGroup(w io.Writer, grp *storage.Group) {
	fmt.Fprintf(w, "Group %s of %s\n", shown(grp.Name), userText(grp.Owner))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "MEMBER")
	for _, m := range grp.Members {
		fmt.Fprintf(tw, "%s\n", userText(m))
	}
	_ = tw.Flush()
}

func userText(p storage.Principal) string { return shown(p.UserUID + "@" + p.IdentityURL) }
