package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/openacquire/acquire/runtime/call"
	"github.com/openacquire/acquire/runtime/identity"
	"github.com/openacquire/acquire/runtime/wait"
	"github.com/openacquire/acquire/runtime/web"
)

// webPollInterval is how often a waiting 'login --web' asks whether the
// browser approved: often enough to feel immediate, rarely enough to cost
// the service nothing.
var webPollInterval = time.Second

// webLoginURL is the identity service's page that approves sessionUID. The
// session travels in the fragment, which browsers never send to a server
// or put in a Referer.
func webLoginURL(identityURL, sessionUID string) string {
	return strings.TrimRight(identityURL, "/") + web.Path + web.PageLogin + "#session=" + sessionUID
}

// loginWeb asks for a session whose keys are made here, shows where to
// approve it, and waits for a browser to approve it.
func (g *globals) loginWeb(cmd *cobra.Command, f loginFlags) error {
	if f.otp != "" || f.recovery != "" || f.pwStdin || f.remember {
		return usagef("--web takes the password and code in the browser: drop --otp, --recovery-code, --password-stdin and --remember-device")
	}
	id, err := g.identityClient()
	if err != nil {
		return err
	}
	w, err := g.wallet()
	if err != nil {
		return err
	}
	ctx, cancel := g.callContext(cmd)
	s, err := id.RequestLogin(ctx, f.username, clip(f.label, maxLabelBytes))
	cancel()
	if err != nil {
		return err
	}
	link := webLoginURL(id.URL, s.SessionUID)
	// The instructions go to stderr with --output json, so stdout stays one JSON object.
	out := g.stdout
	if g.output == outputJSON {
		out = g.stderr
	}
	fmt.Fprintf(out, "To log in as %s, open this page in a browser (or scan the QR code):\n\n  %s\n\n", f.username, link)
	drawQR(out, link)
	fmt.Fprintf(out, "\nShort code: %s   (the page shows it too: approve only if they match)\n", s.SessionUID[:8])
	fmt.Fprintf(out, "Waiting for approval until %s...\n", when(s.Expires))
	info, err := g.awaitApproval(cmd, id, s)
	if err != nil {
		return err
	}
	s.UserUID, s.Expires = info.UserUID, info.Expires
	res := &identity.ApproveLoginResult{SessionUID: s.SessionUID, UserUID: info.UserUID, Username: info.Username, Expires: info.Expires}
	ctx, cancel = g.callContext(cmd)
	defer cancel()
	return g.saveLogin(ctx, id, w, s, res, false, nil)
}

// transient errors are worth waiting through.
func transient(err error) bool {
	var ce *call.Error
	return errors.As(err, &ce) && (ce.Class == call.ErrUnavailable.Class || ce.Class == call.ErrBusy.Class)
}

// awaitApproval polls the pending session until it is approved, ends, or
// its request expires.
func (g *globals) awaitApproval(cmd *cobra.Command, id *identity.Client, s *identity.Session) (*identity.SessionInfo, error) {
	ctx := cmd.Context()
	if ctx == nil {
		ctx = context.Background()
	}
	for {
		cctx, cancel := g.callContext(cmd)
		info, err := id.SessionInfo(cctx, s.SessionUID)
		cancel()
		switch {
		case err != nil && !transient(err):
			return nil, err
		case err != nil:
			g.log.Debug("identity service busy while waiting for approval", "err", err)
		case info.Status == "approved":
			return info, nil
		case info.Status != "pending":
			return nil, call.Errorf(identity.ErrSession, "the login request was not approved: it is %s", info.Status)
		}
		if !g.now().Before(s.Expires) {
			return nil, call.Errorf(identity.ErrSession, "the login request expired before a browser approved it")
		}
		if err := wait.Sleep(ctx, webPollInterval); err != nil {
			return nil, err
		}
	}
}
