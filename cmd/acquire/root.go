package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/openacquire/acquire/runtime/call"
	"github.com/openacquire/acquire/runtime/identity"
	"github.com/openacquire/acquire/runtime/wallet"
)

const (
	outputText = "text"
	outputJSON = "json"

	envIdentityURL     = "ACQUIRE_IDENTITY_URL"
	envPassword        = "ACQUIRE_PASSWORD"
	envOTP             = "ACQUIRE_OTP"
	defaultIdentityURL = "http://127.0.0.1:8080/identity"
	defaultTimeout     = 30 * time.Second
	maxTimeout         = time.Hour
)

const rootLong = `acquire is the command-line client of Acquire: register, log in with a
password and an authenticator code, manage sessions, and run a local host.

The wallet (sessions, pinned service certificates, remembered devices) lives in
--config-dir, default $ACQUIRE_CONFIG_DIR, else $XDG_CONFIG_HOME/acquire, else
~/.config/acquire. Session keys in it are encrypted with a key derived from
$ACQUIRE_WALLET_PASSPHRASE when set, otherwise with a random key kept in
wallet.key beside it (that protects a copied session file, not a local attacker
who can read your files).

The identity service is --identity, else $ACQUIRE_IDENTITY_URL, else the one
you last logged in to, else ` + defaultIdentityURL + `.

Output: --output text (default) prints for people; --output json prints one
JSON object per command on stdout, and errors as
  {"error": {"class": "...", "message": "..."}}
In text mode errors go to stderr as "error: <class>: <message>".

Exit codes:
  0  success
  1  any other error
  2  bad input, found by the CLI or by a service: UsageError (bad flag,
     argument, file or folder), BadArgumentsError (e.g. an amount not over 0),
     UsernameError, WeakPasswordError, InvalidNameError
  3  authentication failed: PasswordError, OTPError, OTPReusedError,
     UnknownUserError, AuthorisationError, AuthorisationExpiredError,
     SessionClosedError, SessionError, NotLoggedInError, IdentityNotTrustedError
     (the service does not trust your identity service)
  4  account locked: AccountLockedError
  5  not found or conflict: NotFoundError, AlreadyExistsError, TransferConflictError,
     NotPeeredError (a UID of a region not peered with your registry)
  6  service unreachable: TransportError, ServiceUnavailableError, TimeoutError,
     RegionUnreachableError (another region is down or cut off)
  7  refused by the ledger: InsufficientFundsError, PayeeLimitError,
     OverReceiptError, AlreadyResolvedError, TransferExpiredError,
     TransferRefusedError, NotProvisionalError, OverdraftError,
     AccountLimitError; or by the access
     service or a cheque's rules (see 'acquire access --help'); or
     ServiceNotTrustedError (a service acting where it is not trusted)
  8  an audit found anomalies: AuditAnomaliesError ('acquire account audit')`

// globals are the global flags and what commands share: the streams, the
// logger, the wallet and the service client. Commands in other files
// (host, bench) receive it too.
type globals struct {
	// Flags.
	output      string
	configDir   string
	identityURL string
	logLevel    string
	timeout     time.Duration

	// Process environment, replaceable in tests.
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string
	now            func() time.Time

	log        *slog.Logger
	setDefault bool // make log the process's default slog logger (not in tests)
	ran        bool // the command got past argument checking
	in         *bufio.Reader
	wal        *wallet.Wallet
	client     *call.Client
	rootCmd    *cobra.Command
}

func newGlobals(stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string, now func() time.Time) *globals {
	return &globals{stdin: stdin, stdout: stdout, stderr: stderr, getenv: getenv, now: now,
		output: outputText, timeout: defaultTimeout, log: slog.New(slog.DiscardHandler)}
}

// newRootCmd builds the whole command tree on g.
func newRootCmd(g *globals) *cobra.Command {
	root := &cobra.Command{
		Use:     "acquire",
		Short:   "Acquire command-line client and local host",
		Version: version,
		Long:    rootLong,
		Example: `  acquire user register --username alice
  acquire user login --username alice
  acquire user whoami -o json
  acquire access request job/small --account main
  acquire otp code --uri 'otpauth://totp/Acquire:alice?secret=...&issuer=Acquire'
  acquire host`,
		SilenceErrors:     true,
		SilenceUsage:      true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error { return g.setup(cmd) },
	}
	pf := root.PersistentFlags()
	pf.StringVarP(&g.output, "output", "o", outputText, "output format: text or json")
	pf.StringVar(&g.configDir, "config-dir", "", "wallet folder (default $ACQUIRE_CONFIG_DIR, else $XDG_CONFIG_HOME/acquire, else ~/.config/acquire)")
	pf.StringVar(&g.identityURL, "identity", "", "identity service URL (default $ACQUIRE_IDENTITY_URL, else the last one logged in to, else "+defaultIdentityURL+")")
	pf.StringVar(&g.logLevel, "log-level", "warn", "log level on stderr: debug, info, warn or error")
	pf.DurationVar(&g.timeout, "timeout", defaultTimeout, "time limit for the calls to services of one command")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &usageError{err} })
	root.SetIn(g.stdin)
	root.SetOut(g.stdout)
	root.SetErr(g.stderr)
	root.AddCommand(newUserCmd(g), newAccountCmd(g), newInvoiceCmd(g), newDepositCmd(g), newChequeCmd(g), newAccessCmd(g), newDriveCmd(g), newGroupCmd(g), newFileCmd(g), newPARCmd(g), newJobCmd(g), newClusterCmd(g), newOTPCmd(g), newWalletCmd(g), newHostCmd(g), newBenchCmd(g), newRegionCmd(g))
	g.rootCmd = root
	return root
}

// setup checks the global flags and makes the logger; it runs before every
// command.
func (g *globals) setup(cmd *cobra.Command) error {
	g.ran = true
	switch g.output {
	case outputText, outputJSON:
	default:
		bad := g.output
		g.output = outputText
		return usagef("--output must be text or json, not %q", bad)
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(g.logLevel)); err != nil {
		return usagef("--log-level must be debug, info, warn or error, not %q", g.logLevel)
	}
	if g.timeout <= 0 || g.timeout > maxTimeout {
		return usagef("--timeout must be more than 0 and at most %s", maxTimeout)
	}
	g.log = slog.New(slog.NewTextHandler(g.stderr, &slog.HandlerOptions{Level: level}))
	if g.setDefault {
		slog.SetDefault(g.log) // so code that logs to the default (the host) follows --log-level
	}
	g.log.Debug("running", "command", cmd.CommandPath())
	return nil
}

// wallet opens the wallet once per process.
func (g *globals) wallet() (*wallet.Wallet, error) {
	if g.wal != nil {
		return g.wal, nil
	}
	dir := g.configDir
	if dir == "" {
		var err error
		if dir, err = wallet.Dir(g.getenv); err != nil {
			return nil, err
		}
	}
	w, err := wallet.Open(dir, wallet.Options{Passphrase: g.getenv(wallet.EnvPassphrase), Clock: g.now, Logger: g.log})
	if err != nil {
		return nil, err
	}
	g.log.Debug("wallet opened", "dir", dir)
	g.wal = w
	return w, nil
}

// identity resolves the identity service URL.
func (g *globals) identity() (string, error) {
	u := strings.TrimSpace(g.identityURL)
	if u == "" {
		u = strings.TrimSpace(g.getenv(envIdentityURL))
	}
	if u == "" {
		w, err := g.wallet()
		if err != nil {
			return "", err
		}
		u = w.IdentityURL()
	}
	if u == "" {
		u = defaultIdentityURL
	}
	if !strings.HasPrefix(u, "http://") && !strings.HasPrefix(u, "https://") {
		return "", usagef("identity service URL %q must start with http:// or https://", u)
	}
	return u, nil
}

// identityClient makes the typed identity client, with the wallet pinning
// service certificates.
func (g *globals) identityClient() (*identity.Client, error) {
	u, err := g.identity()
	if err != nil {
		return nil, err
	}
	c, err := g.callClient()
	if err != nil {
		return nil, err
	}
	return &identity.Client{C: c, URL: u}, nil
}

// callClient is the process's one service client.
func (g *globals) callClient() (*call.Client, error) {
	if g.client != nil {
		return g.client, nil
	}
	w, err := g.wallet()
	if err != nil {
		return nil, err
	}
	c := call.NewClient(w)
	c.HTTP.Timeout = g.timeout
	c.Clock = g.now
	g.client = c
	return c, nil
}

// callContext bounds a command's service calls by --timeout. Prompts
// happen before it starts, so a slow typist does not time out.
func (g *globals) callContext(cmd *cobra.Command) (context.Context, context.CancelFunc) {
	ctx := cmd.Context()
	if ctx == nil {
		ctx = context.Background()
	}
	return context.WithTimeout(ctx, g.timeout)
}

// noArgs and exactArgs report wrong arguments as usage errors.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usagef("%s takes no arguments, got %q", cmd.CommandPath(), args)
	}
	return nil
}

func exactArgs(n int, names string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return usagef("%s needs %s", cmd.CommandPath(), names)
		}
		return nil
	}
}

// downloadArgs checks args with check, but answers max+1 arguments (the
// last most likely a destination) with the flag that names one.
func downloadArgs(max int, check cobra.PositionalArgs) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) == max+1 {
			return usagef("%s takes no destination argument: write to %s with -O %s", cmd.CommandPath(), args[max], args[max])
		}
		return check(cmd, args)
	}
}

// groupCmd makes a command that only holds subcommands; called with an
// unknown subcommand it is a usage error.
func groupCmd(use, short, long string) *cobra.Command {
	return &cobra.Command{
		Use:   use,
		Short: short,
		Long:  long,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return usagef("%s needs a subcommand", cmd.CommandPath())
		},
	}
}

// execute runs the command line and returns the exit code.
func execute(g *globals, args []string) int {
	root := newRootCmd(g)
	root.SetArgs(args)
	cmd, err := root.ExecuteContextC(context.Background())
	if err == nil {
		return exitOK
	}
	if ae := (*answeredError)(nil); errors.As(err, &ae) {
		// The answer is printed already (JSON on stdout stays one document).
		if g.output != outputJSON {
			fmt.Fprintf(g.stderr, "error: %s: %s\n", ae.class, escapeText(ae.message, true))
		}
		return ae.code
	}
	if !g.ran {
		// Cobra refused the command line before running anything, perhaps
		// before reading --output: look for it by hand.
		err = &usageError{err}
		g.output = outputFromArgs(args)
	}
	hint := ""
	if ue := (*usageError)(nil); errors.As(err, &ue) && cmd != nil {
		hint = fmt.Sprintf("Run '%s --help' for usage.", cmd.CommandPath())
	} else if ce := (*call.Error)(nil); errors.As(err, &ce) && ce.Class == call.ErrSignature.Class {
		hint = "If the service was set up afresh on purpose, 'acquire wallet unpin SERVICE_URL' trusts its new certificate."
	}
	return report(g, err, hint)
}

// outputFromArgs finds --output in a command line cobra could not parse.
func outputFromArgs(args []string) string {
	out := outputText
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			break
		}
		var v string
		switch {
		case a == "-o" || a == "--output":
			if i+1 < len(args) {
				v = args[i+1]
				i++
			}
		case strings.HasPrefix(a, "--output="):
			v = strings.TrimPrefix(a, "--output=")
		case strings.HasPrefix(a, "-o="):
			v = strings.TrimPrefix(a, "-o=")
		case strings.HasPrefix(a, "-o") && !strings.HasPrefix(a, "--"):
			v = strings.TrimPrefix(a, "-o")
		}
		if v == outputJSON || v == outputText {
			out = v
		}
	}
	return out
}
