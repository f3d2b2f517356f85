package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/mdp/qrterminal/v3"
	"github.com/spf13/cobra"

	"github.com/openacquire/acquire/runtime/auth"
	"github.com/openacquire/acquire/runtime/crypto"
	"github.com/openacquire/acquire/runtime/identity"
	"github.com/openacquire/acquire/runtime/wallet"
)

const (
	totpPeriodSeconds = 30
	maxLabelBytes     = 64
	maxDeviceWait     = 31 * time.Second
)

func newUserCmd(g *globals) *cobra.Command {
	cmd := groupCmd("user", "Register, log in, and manage your sessions",
		`Register a user with a password and an authenticator app, log in to get a
session (its keys stay in your wallet), and see or end your sessions.`)
	cmd.AddCommand(newRegisterCmd(g), newLoginCmd(g), newWhoamiCmd(g), newLogoutCmd(g), newSessionsCmd(g), newRevokeCmd(g), newSwitchCmd(g))
	return cmd
}

func newSwitchCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "switch USERNAME",
		Short: "Make another logged-in user of this wallet the current one",
		Long: `One wallet holds a session per user: the last one to log in is the current
user, whom every command acts as unless given --username (-u). 'switch' makes
another user with a saved, active session current, without logging in again.`,
		Example: "  acquire user switch alice\n  acquire account list -u root   # one command as another user",
		Args:    exactArgs(1, "exactly one USERNAME"),
		RunE: func(_ *cobra.Command, args []string) error {
			u, err := g.identity()
			if err != nil {
				return err
			}
			w, err := g.wallet()
			if err != nil {
				return err
			}
			e, err := w.SetCurrent(u, args[0])
			if errors.Is(err, wallet.ErrNoSession) {
				return fmt.Errorf("%w; run 'acquire user login --username %s'", err, args[0])
			} else if err != nil {
				return err
			}
			return g.emit(e, func(w io.Writer) {
				fmt.Fprintf(w, "Now acting as %s (session %s, expires %s).\n", e.Username, e.SessionUID, when(e.Expires))
			})
		},
	}
}

const passwordHelp = `The password is read from stdin with --password-stdin (one line), else from
$ACQUIRE_PASSWORD, else asked for on the terminal without echo.`

// ---- register ----

type registerJSON struct {
	UserUID         string   `json:"user_uid"`
	Username        string   `json:"username"`
	ProvisioningURI string   `json:"provisioning_uri"`
	RecoveryCodes   []string `json:"recovery_codes"`
}

func newRegisterCmd(g *globals) *cobra.Command {
	var username string
	var pwStdin, qr bool
	cmd := &cobra.Command{
		Use:   "register --username NAME",
		Short: "Create a user with a password and an authenticator (TOTP) secret",
		Long: `Create a user at the identity service. It answers with an otpauth:// URI for
your authenticator app (Google Authenticator, Aegis, 1Password, oathtool...)
and ten recovery codes. Both are shown once, now, and never again.

The QR code is drawn when stdout is a terminal and the output is text; --qr
draws it anyway (on stderr with --output json).

` + passwordHelp + ` On the terminal it is asked for twice.`,
		Example: `  acquire user register --username alice
  printf '%s\n' "$PASSWORD" | acquire user register --username alice --password-stdin -o json`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if username == "" {
				return usagef("--username is required")
			}
			pw, err := g.password(pwStdin, true)
			if err != nil {
				return err
			}
			id, err := g.identityClient()
			if err != nil {
				return err
			}
			ctx, cancel := g.callContext(cmd)
			defer cancel()
			g.log.Debug("registering", "identity", id.URL, "username", username)
			res, err := id.Register(ctx, username, pw)
			if err != nil {
				return err
			}
			out := registerJSON{UserUID: res.UserUID, Username: res.Username, ProvisioningURI: res.ProvisioningURI,
				RecoveryCodes: res.RecoveryCodes}
			if g.output == outputJSON && qr {
				drawQR(g.stderr, res.ProvisioningURI)
			}
			return g.emit(out, func(w io.Writer) {
				fmt.Fprintf(w, "Registered %s (user uid %s) at %s.\n\n", res.Username, res.UserUID, id.URL)
				fmt.Fprintf(w, "Add this account to your authenticator app:\n  %s\n", res.ProvisioningURI)
				if qr || g.stdoutIsTerminal() {
					fmt.Fprintln(w)
					drawQR(w, res.ProvisioningURI)
				}
				fmt.Fprintln(w, "\nRecovery codes: each replaces a one-time code once. They are shown only now;")
				fmt.Fprintln(w, "store them somewhere safe.")
				for _, c := range res.RecoveryCodes {
					fmt.Fprintf(w, "  %s\n", c)
				}
			})
		},
	}
	f := cmd.Flags()
	f.StringVarP(&username, "username", "u", "", "username: 3-64 of a-z, 0-9, '.', '_', '-'")
	f.BoolVar(&pwStdin, "password-stdin", false, "read the password from the first line of stdin")
	f.BoolVar(&qr, "qr", false, "draw the QR code even when stdout is not a terminal")
	return cmd
}

func drawQR(w io.Writer, text string) {
	qrterminal.GenerateWithConfig(text, qrterminal.Config{Level: qrterminal.L, Writer: w, HalfBlocks: true,
		BlackChar: qrterminal.BLACK_BLACK, WhiteBlackChar: qrterminal.WHITE_BLACK, WhiteChar: qrterminal.WHITE_WHITE,
		BlackWhiteChar: qrterminal.BLACK_WHITE, QuietZone: 2})
}

// ---- login ----

type loginJSON struct {
	IdentityURL       string    `json:"identity_url"`
	Username          string    `json:"username"`
	UserUID           string    `json:"user_uid"`
	SessionUID        string    `json:"session_uid"`
	Expires           time.Time `json:"expires"`
	DeviceUID         string    `json:"device_uid,omitempty"`
	DeviceRemembered  bool      `json:"device_remembered"`
	RecoveryCodesLeft int       `json:"recovery_codes_left"`
}

type loginFlags struct {
	username, otp, recovery, label, deviceLabel string
	pwStdin, remember, web                      bool
}

func newLoginCmd(g *globals) *cobra.Command {
	var f loginFlags
	cmd := &cobra.Command{
		Use:   "login --username NAME [--otp CODE | --recovery-code CODE]",
		Short: "Log in and keep the session in your wallet",
		Long: `Log in with your password and a second factor. The session's private keys are
made here, never leave this machine, and are kept (encrypted) in your wallet;
later commands use them to sign their calls.

` + passwordHelp + `

The second factor is, in order: --recovery-code; --otp; $ACQUIRE_OTP; this
machine's own code if it is a remembered device of the user (see
--remember-device); else the one-time code is asked for on the terminal.

--remember-device makes this machine a device of the user: the identity
service gives it its own authenticator secret, kept sealed in the wallet, so
later logins from here need only the password.

--web approves the login in a browser instead, on this machine or another
(a phone): it prints the login page's URL, a QR code of it and the short
code, then waits. The password and the code are typed into the page, never
here; the session's keys are still made here and stay here.

A session saved before for the same user at the same identity service is
replaced, and logged out.`,
		Example: `  acquire user login --username alice
  acquire user login -u alice --otp 123456 --remember-device
  ACQUIRE_PASSWORD=... acquire user login -u alice --otp "$(acquire otp code --secret-stdin < secret.txt)"
  acquire user login -u alice --recovery-code abcd-efgh-ijkl
  acquire user login -u alice --web   # approve in a browser`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return g.login(cmd, f) },
	}
	fl := cmd.Flags()
	fl.StringVarP(&f.username, "username", "u", "", "username to log in as")
	fl.StringVar(&f.otp, "otp", "", "one-time code from the authenticator app")
	fl.StringVar(&f.recovery, "recovery-code", "", "a recovery code instead of a one-time code (each works once)")
	fl.BoolVar(&f.remember, "remember-device", false, "remember this machine, so later logins need only the password")
	fl.StringVar(&f.label, "label", "", "label for the session, shown by 'user sessions' (default acquire@HOSTNAME)")
	fl.StringVar(&f.deviceLabel, "device-label", "", "label for a remembered device (default HOSTNAME)")
	fl.BoolVar(&f.pwStdin, "password-stdin", false, "read the password from the first line of stdin")
	fl.BoolVar(&f.web, "web", false, "approve the login in a browser: print its URL, a QR code and the short code, and wait")
	return cmd
}

func hostname() string {
	h, err := os.Hostname()
	if err != nil || h == "" {
		return "unknown-host"
	}
	return h
}

func clip(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

func (g *globals) login(cmd *cobra.Command, f loginFlags) error {
	if f.username == "" {
		return usagef("--username is required")
	}
	if f.otp != "" && f.recovery != "" {
		return usagef("give --otp or --recovery-code, not both")
	}
	if f.label == "" {
		f.label = "acquire@" + hostname()
	}
	if f.web {
		return g.loginWeb(cmd, f)
	}
	if f.deviceLabel == "" {
		f.deviceLabel = hostname()
	}
	pw, err := g.password(f.pwStdin, false)
	if err != nil {
		return err
	}
	id, err := g.identityClient()
	if err != nil {
		return err
	}
	w, err := g.wallet()
	if err != nil {
		return err
	}
	opts := identity.LoginOptions{Label: clip(f.label, maxLabelBytes), RecoveryCode: strings.TrimSpace(f.recovery),
		RememberDevice: f.remember, DeviceLabel: clip(f.deviceLabel, maxLabelBytes)}
	var dev *wallet.Device
	var devStep int64
	switch {
	case opts.RecoveryCode != "":
		opts.RememberDevice = false // the service only remembers devices on an authenticator code
		if f.remember {
			g.log.Warn("--remember-device needs a one-time code; not remembering this machine")
		}
	case f.otp != "":
		opts.OTP = strings.TrimSpace(f.otp)
	case g.getenv(envOTP) != "":
		opts.OTP = strings.TrimSpace(g.getenv(envOTP))
	case w.HasDevice(id.URL, f.username):
		if dev, err = w.Device(id.URL, f.username); err != nil {
			return err
		}
		if opts.OTP, devStep, err = g.deviceCode(cmd.Context(), dev); err != nil {
			return err
		}
		opts.DeviceUID, opts.RememberDevice = dev.UID, false
		g.log.Info("using this machine's remembered device", "device_uid", dev.UID)
	default:
		if opts.OTP, err = g.promptLine("One-time code: ", "the one-time code"); err != nil {
			return err
		}
	}
	if opts.OTP == "" && opts.RecoveryCode == "" {
		return usagef("no one-time code given")
	}

	ctx, cancel := g.callContext(cmd)
	defer cancel()
	g.log.Debug("logging in", "identity", id.URL, "username", f.username)
	s, res, err := id.Login(ctx, f.username, pw, opts)
	if dev != nil && (err == nil || errors.Is(err, identity.ErrOTPReused)) {
		// The service has seen this step; the next login must use a later one.
		if uerr := w.UsedDeviceStep(id.URL, f.username, dev.UID, devStep); uerr != nil {
			g.log.Warn("could not record the device's last code", "err", uerr)
		}
	}
	if err != nil {
		if dev != nil && errors.Is(err, identity.ErrOTP) {
			g.log.Warn("the identity service refused this machine's device code; log in with --otp " +
				"(add --remember-device to remember this machine again)")
		}
		return err
	}
	return g.saveLogin(ctx, id, w, s, res, opts.RecoveryCode != "", dev)
}

// saveLogin keeps an approved session in the wallet, replacing (and
// ending) the user's previous one there, and reports it.
func (g *globals) saveLogin(ctx context.Context, id *identity.Client, w *wallet.Wallet, s *identity.Session,
	res *identity.ApproveLoginResult, usedRecovery bool, dev *wallet.Device) error {
	// The user's previous session here is replaced; end it rather than leave
	// it open with keys nobody holds any more.
	prev, _ := w.Session(id.URL, s.Username)
	if err := w.SaveSession(s); err != nil {
		return fmt.Errorf("logged in, but could not save the session: %w", err)
	}
	if prev != nil && prev.SessionUID != s.SessionUID {
		if _, err := id.Logout(ctx, prev); err != nil {
			g.log.Debug("could not log out the replaced session", "session_uid", prev.SessionUID, "err", err)
		} else {
			g.log.Info("logged out the replaced session", "session_uid", prev.SessionUID)
		}
	}
	remembered := false
	if res.DeviceUID != "" && res.DeviceOTPSecret != "" {
		if err := w.SaveDevice(id.URL, s.Username, res.DeviceUID, res.DeviceOTPSecret); err != nil {
			return fmt.Errorf("logged in, but could not remember the device: %w", err)
		}
		remembered = true
	}
	if err := w.SetIdentityURL(id.URL); err != nil {
		g.log.Warn("could not save the default identity service", "err", err)
	}
	out := loginJSON{IdentityURL: id.URL, Username: s.Username, UserUID: s.UserUID, SessionUID: s.SessionUID,
		Expires: s.Expires.UTC(), DeviceUID: res.DeviceUID, DeviceRemembered: remembered, RecoveryCodesLeft: res.RecoveryLeft}
	if dev != nil {
		out.DeviceUID = dev.UID
	}
	return g.emit(out, func(wr io.Writer) {
		fmt.Fprintf(wr, "Logged in to %s as %s (user uid %s).\n", id.URL, s.Username, s.UserUID)
		fmt.Fprintf(wr, "session  %s\nexpires  %s (%s)\n", s.SessionUID, when(s.Expires), until(s.Expires, g.now()))
		if remembered {
			fmt.Fprintln(wr, "This machine is now a remembered device: later logins need only the password.")
		}
		if usedRecovery {
			fmt.Fprintf(wr, "Recovery codes left: %d.\n", res.RecoveryLeft)
		}
	})
}

// deviceCode makes the remembered device's code for the earliest time step
// the service will still accept from it: the current one, or a later one
// if the current one was used already. It waits when that step is more
// than one ahead.
func (g *globals) deviceCode(ctx context.Context, d *wallet.Device) (string, int64, error) {
	now := g.now()
	cur := now.Unix() / totpPeriodSeconds
	step := max(cur, d.LastStep+1)
	if step > cur+1 {
		start := time.Unix((step-1)*totpPeriodSeconds, 0)
		wait := start.Sub(now) + 100*time.Millisecond
		if wait > maxDeviceWait {
			return "", 0, fmt.Errorf("the remembered device's last code is ahead of this clock by %s; check the clock", wait)
		}
		g.log.Info("waiting for the device's next code", "wait", wait.Round(time.Second))
		t := time.NewTimer(wait)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return "", 0, ctx.Err()
		case <-t.C:
		}
	}
	code, err := crypto.TOTPCode(d.Secret, time.Unix(step*totpPeriodSeconds, 0))
	if err != nil {
		return "", 0, fmt.Errorf("the remembered device's secret is unusable: %w", err)
	}
	return code, step, nil
}

// ---- commands that use the saved session ----

// sessionFlag adds --username to pick which saved session to use.
func sessionFlag(cmd *cobra.Command, username *string) {
	cmd.Flags().StringVarP(username, "username", "u", "", "use this user's saved session (default: the last one logged in)")
}

// session loads the saved session for the identity service.
func (g *globals) session(username string) (*identity.Client, *identity.Session, error) {
	id, err := g.identityClient()
	if err != nil {
		return nil, nil, err
	}
	w, err := g.wallet()
	if err != nil {
		return nil, nil, err
	}
	s, err := w.Session(id.URL, username)
	if errors.Is(err, wallet.ErrNoSession) {
		return nil, nil, fmt.Errorf("%w; run 'acquire user login'", err)
	}
	return id, s, err
}

// closedRemotely drops the saved keys of a session the service says is
// over, so the wallet stops offering it.
func (g *globals) closedRemotely(s *identity.Session, err error) error {
	if errors.Is(err, auth.ErrSessionClosed) || errors.Is(err, identity.ErrSession) {
		if w, werr := g.wallet(); werr == nil {
			if cerr := w.CloseSession(s.IdentityURL, s.Username, s.SessionUID, wallet.StatusClosed); cerr != nil {
				g.log.Warn("could not mark the session closed in the wallet", "err", cerr)
			}
		}
	}
	return err
}

type sessionJSON struct {
	SessionUID string    `json:"session_uid"`
	Status     string    `json:"status"`
	Label      string    `json:"label,omitempty"`
	DeviceUID  string    `json:"device_uid,omitempty"`
	Requested  time.Time `json:"requested"`
	Approved   time.Time `json:"approved,omitzero"`
	Expires    time.Time `json:"expires"`
	Current    bool      `json:"current"`
}

func toSessionJSON(i *identity.SessionInfo, current string) sessionJSON {
	return sessionJSON{SessionUID: i.SessionUID, Status: i.Status, Label: i.Label, DeviceUID: i.DeviceUID,
		Requested: i.Requested.UTC(), Approved: i.Approved.UTC(), Expires: i.Expires.UTC(), Current: i.SessionUID == current}
}

type whoamiJSON struct {
	IdentityURL string `json:"identity_url"`
	Username    string `json:"username"`
	UserUID     string `json:"user_uid"`
	IsAdmin     bool   `json:"is_admin"`
	sessionJSON
}

func newWhoamiCmd(g *globals) *cobra.Command {
	var username string
	cmd := &cobra.Command{
		Use:   "whoami",
		Short: "Show who the saved session belongs to, as the identity service sees it",
		Long: `Ask the identity service about the saved session: user, status, expiry, and
whether the user is an admin. Exits 3 when not logged in or the session is over.`,
		Example: "  acquire user whoami\n  acquire user whoami -o json | jq -r .username",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			id, s, err := g.session(username)
			if err != nil {
				return err
			}
			ctx, cancel := g.callContext(cmd)
			defer cancel()
			who, err := id.Whoami(ctx, s)
			if err != nil {
				return g.closedRemotely(s, err)
			}
			out := whoamiJSON{IdentityURL: id.URL, Username: who.Username, UserUID: who.UserUID, IsAdmin: who.IsAdmin,
				sessionJSON: toSessionJSON(&who.SessionInfo, s.SessionUID)}
			return g.emit(out, func(w io.Writer) {
				tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
				fmt.Fprintf(tw, "username\t%s\nuser uid\t%s\nidentity\t%s\nsession\t%s\nstatus\t%s\n",
					who.Username, who.UserUID, id.URL, who.SessionUID, who.Status)
				if who.Label != "" {
					fmt.Fprintf(tw, "label\t%s\n", shown(who.Label))
				}
				fmt.Fprintf(tw, "expires\t%s (%s)\nadmin\t%s\n", when(who.Expires), until(who.Expires, g.now()), yesNo(who.IsAdmin))
				_ = tw.Flush()
			})
		},
	}
	sessionFlag(cmd, &username)
	return cmd
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func newLogoutCmd(g *globals) *cobra.Command {
	var username string
	cmd := &cobra.Command{
		Use:   "logout",
		Short: "End the saved session and delete its keys",
		Long: `Tell the identity service to end the saved session, then delete the session's
private keys from the wallet. Remembered devices stay remembered. Logging out
a session that is already over (logged out, revoked, expired) succeeds and
says so: what you asked for is already true.`,
		Example: "  acquire user logout\n  acquire user logout --username bob",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			id, s, err := g.session(username)
			var closed *wallet.ClosedError
			if errors.As(err, &closed) {
				return g.alreadyLoggedOut(closed.Entry.Username, closed.Entry.SessionUID, closed.Entry.Status, closed.Entry.Expires)
			} else if err != nil {
				return err
			}
			ctx, cancel := g.callContext(cmd)
			defer cancel()
			info, err := id.Logout(ctx, s)
			if errors.Is(err, auth.ErrSessionClosed) || errors.Is(err, identity.ErrSession) {
				_ = g.closedRemotely(s, err)
				return g.alreadyLoggedOut(s.Username, s.SessionUID, wallet.StatusClosed, s.Expires)
			} else if err != nil {
				return err
			}
			w, err := g.wallet()
			if err != nil {
				return err
			}
			if err := w.CloseSession(s.IdentityURL, s.Username, s.SessionUID, wallet.StatusLoggedOut); err != nil {
				return fmt.Errorf("logged out, but could not update the wallet: %w", err)
			}
			return g.emit(toSessionJSON(info, ""), func(w io.Writer) {
				fmt.Fprintf(w, "Logged out %s (session %s).\n", s.Username, s.SessionUID)
			})
		},
	}
	sessionFlag(cmd, &username)
	return cmd
}

// alreadyLoggedOut answers a logout of a session that is over: success,
// since the session is ended either way.
func (g *globals) alreadyLoggedOut(username, sessionUID, status string, expires time.Time) error {
	out := sessionJSON{SessionUID: sessionUID, Status: status, Expires: expires.UTC()}
	return g.emit(out, func(w io.Writer) {
		fmt.Fprintf(w, "%s is not logged in (session %s is %s).\n", username, sessionUID, status)
	})
}

func newSessionsCmd(g *globals) *cobra.Command {
	var username string
	cmd := &cobra.Command{
		Use:   "sessions",
		Short: "List your sessions at the identity service",
		Long: `List the user's sessions, newest first, with their status, label, and times.
The session saved in this wallet is marked with '*'.`,
		Example: "  acquire user sessions\n  acquire user sessions -o json | jq -r '.sessions[] | select(.status==\"approved\") | .session_uid'",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			id, s, err := g.session(username)
			if err != nil {
				return err
			}
			ctx, cancel := g.callContext(cmd)
			defer cancel()
			list, err := id.Sessions(ctx, s)
			if err != nil {
				return g.closedRemotely(s, err)
			}
			out := struct {
				Sessions []sessionJSON `json:"sessions"`
			}{Sessions: []sessionJSON{}}
			for _, i := range list.Sessions {
				out.Sessions = append(out.Sessions, toSessionJSON(i, s.SessionUID))
			}
			return g.emit(out, func(w io.Writer) {
				tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
				fmt.Fprintln(tw, " \tSESSION\tSTATUS\tLABEL\tREQUESTED\tEXPIRES")
				for _, r := range out.Sessions {
					mark := " "
					if r.Current {
						mark = "*"
					}
					label := r.Label
					if label == "" {
						label = "-"
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", mark, r.SessionUID, r.Status, shown(label), when(r.Requested), when(r.Expires))
				}
				_ = tw.Flush()
			})
		},
	}
	sessionFlag(cmd, &username)
	return cmd
}

func newRevokeCmd(g *globals) *cobra.Command {
	var username string
	cmd := &cobra.Command{
		Use:   "revoke SESSION_UID",
		Short: "End one of your sessions (another device's, or this one)",
		Long: `End one of the user's sessions by its UID (see 'acquire user sessions'), for
example one left open on a lost machine. The call is signed with the saved
session; revoking the saved session itself works like logout.`,
		Example: "  acquire user revoke 0f3c9e2a...",
		Args:    exactArgs(1, "exactly one SESSION_UID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			target := strings.TrimSpace(args[0])
			if target == "" {
				return usagef("empty SESSION_UID")
			}
			id, s, err := g.session(username)
			if err != nil {
				return err
			}
			ctx, cancel := g.callContext(cmd)
			defer cancel()
			info, err := id.Revoke(ctx, s, target)
			if err != nil {
				if target == s.SessionUID {
					return g.closedRemotely(s, err)
				}
				return err
			}
			if target == s.SessionUID {
				w, err := g.wallet()
				if err != nil {
					return err
				}
				if err := w.CloseSession(s.IdentityURL, s.Username, s.SessionUID, wallet.StatusRevoked); err != nil {
					return fmt.Errorf("revoked, but could not update the wallet: %w", err)
				}
			}
			return g.emit(toSessionJSON(info, s.SessionUID), func(w io.Writer) {
				fmt.Fprintf(w, "Revoked session %s (%s).\n", info.SessionUID, info.Status)
			})
		},
	}
	sessionFlag(cmd, &username)
	return cmd
}
