package main

import (
	"errors"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// A PAR link carries its secret: on the command line every local user can
// read it in the process list, so the commands that take one also read it
// from stdin, a file or the environment (as 'otp code --secret-stdin').

// envPARLink names the environment variable 'par get/put' read a link
// from when none is given otherwise.
const envPARLink = "ACQUIRE_PAR_LINK"

// linkFlags are the ways besides the command line to give 'par get/put' a link.
type linkFlags struct {
	stdin bool
	file  string
}

func (lf *linkFlags) add(f *pflag.FlagSet) {
	f.BoolVar(&lf.stdin, "link-stdin", false, "read the link from the first line of stdin (not visible in ps)")
	f.StringVar(&lf.file, "link-file", "", "read the link from the first line of this file (not visible in ps)")
}

// parLinkHelp is the paragraph 'par get/put' add to their help.
const parLinkHelp = `
A link on the command line is visible to other users in the process list:
prefer --link-stdin, --link-file or the environment variable ` + envPARLink + `
(used when no link is given otherwise); LINK is then left out.`

// parLink takes the link from wherever it was given, and returns the
// arguments that remain. Exactly one way may be used.
func (g *globals) parLink(lf linkFlags, args []string) (string, []string, error) {
	env := g.getenv(envPARLink)
	switch {
	case lf.stdin && lf.file != "":
		return "", nil, usagef("give the link one way: --link-stdin or --link-file")
	case lf.stdin:
		link, err := g.readLine("link")
		return strings.TrimSpace(link), args, err
	case lf.file != "":
		link, err := readLinkFile(lf.file)
		return link, args, err
	case env != "":
		if len(args) > 0 && strings.Contains(args[0], "://") {
			return "", nil, usagef("%s is set and a link is on the command line: give the link one way", envPARLink)
		}
		return strings.TrimSpace(env), args, nil
	case len(args) == 0:
		return "", nil, usagef("give a link: --link-stdin, --link-file, %s or LINK", envPARLink)
	}
	return args[0], args[1:], nil
}

// jobLink is a job's --input-link/--output-link, or the first line of the
// file its -file flag names ("-": stdin); one of the two at most.
func (g *globals) jobLink(flag, direct, file string) (string, error) {
	switch {
	case direct != "" && file != "":
		return "", usagef("give --%s or --%s-file, not both", flag, flag)
	case file == "-":
		link, err := g.readLine(flag)
		return strings.TrimSpace(link), err
	case file != "":
		return readLinkFile(file)
	}
	return direct, nil
}

// readLinkFile reads the first line of a file holding a link.
func readLinkFile(path string) (string, error) {
	f, err := os.Open(path) //nolint:gosec // the user names the file to read
	if err != nil {
		return "", usagef("reading the link: %v", err)
	}
	defer func() { _ = f.Close() }()
	b, err := io.ReadAll(io.LimitReader(f, maxLineBytes+1))
	if err != nil {
		return "", usagef("reading the link: %v", err)
	}
	if len(b) > maxLineBytes && !strings.Contains(string(b), "\n") {
		return "", usagef("the link in %s is longer than %d bytes", path, maxLineBytes)
	}
	line, _, _ := strings.Cut(string(b), "\n")
	if line = strings.TrimSpace(line); line == "" {
		return "", usagef("no link in %s", path)
	}
	return line, nil
}

// checkLinkArgs applies check to the arguments left once the link is taken.
func checkLinkArgs(cmd *cobra.Command, rest []string, check cobra.PositionalArgs) error {
	if err := check(cmd, rest); err != nil {
		var ue *usageError
		if errors.As(err, &ue) {
			return err
		}
		return usagef("%v", err)
	}
	return nil
}
