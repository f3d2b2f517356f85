package identity_test

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openacquire/acquire/runtime/auth"
	"github.com/openacquire/acquire/runtime/call"
	"github.com/openacquire/acquire/runtime/crypto"
	"github.com/openacquire/acquire/runtime/host/hosttest"
	"github.com/openacquire/acquire/runtime/identity"
)

const pw = "correct horse battery"

// verifierURL is the service the authorisations in these tests are for.
const verifierURL = "https://verifier.example.test/storage"

type fixture struct {
	env    *hosttest.Env
	id     *identity.Client
	secret string
	reg    *identity.RegisterResult
}

func setup(t *testing.T, username string) *fixture {
	t.Helper()
	env := hosttest.Start(t, hosttest.Options{})
	id := env.Identity()
	reg, err := id.Register(context.Background(), username, pw)
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(reg.ProvisioningURI)
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{env: env, id: id, secret: u.Query().Get("secret"), reg: reg}
}

// code returns the current code, first moving the clock to the start of a
// fresh 30 s step so that tests never straddle a step boundary.
func (f *fixture) freshCode(t *testing.T) string {
	t.Helper()
	now := f.env.Clock.Now()
	f.env.Clock.Advance(30*time.Second - time.Duration(now.UnixNano()%int64(30*time.Second)) + time.Second)
	c, err := crypto.TOTPCode(f.secret, f.env.Clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (f *fixture) login(t *testing.T, username, otp string) (*identity.Session, error) {
	t.Helper()
	s, _, err := f.id.Login(context.Background(), username, pw, identity.LoginOptions{OTP: otp})
	return s, err
}

func wantClass(t *testing.T, err error, class *call.Error) {
	t.Helper()
	if !errors.Is(err, class) {
		t.Fatalf("want %s, got %v", class.Class, err)
	}
}

func TestRegisterLoginWhoamiLogout(t *testing.T) {
	f := setup(t, "alice")
	ctx := context.Background()
	if len(f.reg.RecoveryCodes) != identity.RecoveryCodeCount || f.secret == "" {
		t.Fatalf("register gave %d recovery codes, secret %q", len(f.reg.RecoveryCodes), f.secret)
	}
	s, err := f.login(t, "alice", f.freshCode(t))
	if err != nil {
		t.Fatal(err)
	}
	who, err := f.id.Whoami(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	if who.Username != "alice" || who.UserUID != f.reg.UserUID || who.Status != "approved" {
		t.Fatalf("whoami = %+v", who)
	}
	list, err := f.id.Sessions(ctx, s)
	if err != nil || len(list.Sessions) != 1 || list.Sessions[0].SessionUID != s.SessionUID {
		t.Fatalf("sessions = %+v, %v", list, err)
	}
	if _, err := f.id.Logout(ctx, s); err != nil {
		t.Fatal(err)
	}
	_, err = f.id.Whoami(ctx, s)
	wantClass(t, err, auth.ErrSessionClosed)
}

func TestBadCredentialsChangeNothing(t *testing.T) {
	f := setup(t, "bob")
	ctx := context.Background()
	code := f.freshCode(t)
	_, _, err := f.id.Login(ctx, "bob", "wrong password!", identity.LoginOptions{OTP: code})
	wantClass(t, err, identity.ErrPassword)
	_, err = f.login(t, "nobody", code)
	wantClass(t, err, identity.ErrUnknownUser)
	wrong := "000000"
	if wrong == code {
		wrong = "000001"
	}
	_, err = f.login(t, "bob", wrong)
	wantClass(t, err, identity.ErrOTP)
	// None of the failures consumed the code: it still works, once.
	if _, err := f.login(t, "bob", code); err != nil {
		t.Fatalf("right credentials after failures: %v", err)
	}
	_, err = f.login(t, "bob", code)
	wantClass(t, err, identity.ErrOTPReused)
}

func TestConcurrentLoginsWithOneCodeOneWins(t *testing.T) {
	f := setup(t, "carol")
	code := f.freshCode(t)
	const n = identity.FreeFailures // losers stay under the lockout threshold
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = f.login(t, "carol", code)
		}()
	}
	wg.Wait()
	wins := 0
	for _, err := range errs {
		switch {
		case err == nil:
			wins++
		case !errors.Is(err, identity.ErrOTPReused):
			t.Errorf("loser got %v, want OTPReusedError", err)
		}
	}
	if wins != 1 {
		t.Fatalf("%d logins won with one code, want exactly 1", wins)
	}
}

func TestLockoutEngagesAndLifts(t *testing.T) {
	f := setup(t, "dave")
	ctx := context.Background()
	code := f.freshCode(t) // align the clock first: nothing below may move it before the lock check
	for range identity.FreeFailures {
		_, _, err := f.id.Login(ctx, "dave", "wrong password!", identity.LoginOptions{OTP: code})
		wantClass(t, err, identity.ErrPassword)
	}
	// Locked: refused without checking the password, even the right one,
	// and the refused attempt does not use up the code.
	_, err := f.login(t, "dave", code)
	wantClass(t, err, identity.ErrLocked)
	f.env.Clock.Advance(identity.BaseLock + time.Second)
	if _, err := f.login(t, "dave", f.freshCode(t)); err != nil {
		t.Fatalf("after the lock lifted: %v", err)
	}
}

func TestRecoveryCodeWorksOnce(t *testing.T) {
	f := setup(t, "erin")
	ctx := context.Background()
	rc := f.reg.RecoveryCodes[0]
	if _, _, err := f.id.Login(ctx, "erin", pw, identity.LoginOptions{RecoveryCode: rc}); err != nil {
		t.Fatal(err)
	}
	_, _, err := f.id.Login(ctx, "erin", pw, identity.LoginOptions{RecoveryCode: rc})
	wantClass(t, err, identity.ErrOTP)
}

func TestAuthorisationExpiresAndDiesWithLogout(t *testing.T) {
	f := setup(t, "frank")
	ctx := context.Background()
	s, err := f.login(t, "frank", f.freshCode(t))
	if err != nil {
		t.Fatal(err)
	}
	var session auth.Session
	a, _ := s.Authorise(verifierURL, "read thing", f.env.Clock.Now())
	err = f.env.Client.Call(ctx, f.id.URL, "verify_authorisation", &identity.VerifyArgs{Authorisation: a, Audience: verifierURL, Resource: "read thing"}, &session)
	if err != nil || session.UserUID != s.UserUID {
		t.Fatalf("fresh authorisation: %v %+v", err, session)
	}
	err = f.env.Client.Call(ctx, f.id.URL, "verify_authorisation", &identity.VerifyArgs{Authorisation: a, Audience: verifierURL, Resource: "other"}, &session)
	wantClass(t, err, auth.ErrAuthorisation)
	f.env.Clock.Advance(auth.DefaultMaxAge + time.Second)
	err = f.env.Client.Call(ctx, f.id.URL, "verify_authorisation", &identity.VerifyArgs{Authorisation: a, Audience: verifierURL, Resource: "read thing"}, &session)
	wantClass(t, err, auth.ErrExpired)
	if _, err := f.id.Logout(ctx, s); err != nil {
		t.Fatal(err)
	}
	a, _ = s.Authorise(verifierURL, "read thing", f.env.Clock.Now())
	err = f.env.Client.Call(ctx, f.id.URL, "verify_authorisation", &identity.VerifyArgs{Authorisation: a, Audience: verifierURL, Resource: "read thing"}, &session)
	wantClass(t, err, auth.ErrSessionClosed)
}

func TestAdminAuditAndUnlock(t *testing.T) {
	f := setup(t, "root")
	ctx := context.Background()
	if err := f.env.Host.Identity.MakeAdmin(ctx, "root"); err != nil {
		t.Fatal(err)
	}
	admin, err := f.login(t, "root", f.freshCode(t))
	if err != nil {
		t.Fatal(err)
	}
	// A second user locks themselves out.
	if _, err := f.id.Register(ctx, "mallory", pw); err != nil {
		t.Fatal(err)
	}
	for range identity.FreeFailures + 1 {
		_, _, _ = f.id.Login(ctx, "mallory", "wrong password!", identity.LoginOptions{OTP: "123456"})
	}
	_, _, err = f.id.Login(ctx, "mallory", pw, identity.LoginOptions{OTP: "123456"})
	wantClass(t, err, identity.ErrLocked)
	log, err := f.id.Audit(ctx, admin, 1000)
	if err != nil {
		t.Fatal(err)
	}
	events := map[string]int{}
	for _, e := range log.Events {
		events[e.Event]++
	}
	if events["register"] != 2 || events["login_approved"] != 1 || events["login_failed"] < identity.FreeFailures {
		t.Fatalf("audit events = %v", events)
	}
	if err := f.id.Unlock(ctx, admin, "mallory"); err != nil {
		t.Fatal(err)
	}
	// Unlocked: the password is checked again (and the wrong code is what fails now).
	_, _, err = f.id.Login(ctx, "mallory", pw, identity.LoginOptions{OTP: "000000"})
	if errors.Is(err, identity.ErrLocked) || errors.Is(err, identity.ErrPassword) {
		t.Fatalf("after unlock: %v", err)
	}
}

func TestNonAdminCannotReadAudit(t *testing.T) {
	f := setup(t, "eve")
	s, err := f.login(t, "eve", f.freshCode(t))
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.id.Audit(context.Background(), s, 10)
	wantClass(t, err, call.ErrPermission)
}

func TestRevokeOtherSessionAndRememberedDevice(t *testing.T) {
	f := setup(t, "gina")
	ctx := context.Background()
	first, res, err := f.id.Login(ctx, "gina", pw, identity.LoginOptions{OTP: f.freshCode(t), RememberDevice: true})
	if err != nil {
		t.Fatal(err)
	}
	if res.DeviceUID == "" || res.DeviceOTPSecret == "" {
		t.Fatalf("no device issued: %+v", res)
	}
	// The device makes its own codes: no authenticator needed.
	devCode, _ := crypto.TOTPCode(res.DeviceOTPSecret, f.env.Clock.Now())
	second, _, err := f.id.Login(ctx, "gina", pw, identity.LoginOptions{DeviceUID: res.DeviceUID, OTP: devCode})
	if err != nil {
		t.Fatal(err)
	}
	// The device's code, like any code, works once.
	_, _, err = f.id.Login(ctx, "gina", pw, identity.LoginOptions{DeviceUID: res.DeviceUID, OTP: devCode})
	wantClass(t, err, identity.ErrOTPReused)
	if _, err := f.id.Revoke(ctx, second, first.SessionUID); err != nil {
		t.Fatal(err)
	}
	_, err = f.id.Whoami(ctx, first)
	wantClass(t, err, auth.ErrSessionClosed)
	if _, err := f.id.Whoami(ctx, second); err != nil {
		t.Fatalf("the revoking session should live on: %v", err)
	}
	// Another user's session cannot be revoked.
	g2 := setupUser(t, f, "hank")
	_, err = f.id.Revoke(ctx, g2, second.SessionUID)
	wantClass(t, err, call.ErrPermission)
}

func setupUser(t *testing.T, f *fixture, name string) *identity.Session {
	t.Helper()
	reg, err := f.id.Register(context.Background(), name, pw)
	if err != nil {
		t.Fatal(err)
	}
	s, _, err := f.id.Login(context.Background(), name, pw, identity.LoginOptions{RecoveryCode: reg.RecoveryCodes[0]})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// A client whose approval reply was lost sends the same request again: it
// gets the first answer (with the same new device secret), the code is not
// spent twice, and the session is listed once. The same session with other
// arguments is refused.
func TestApproveRetryGetsTheFirstAnswer(t *testing.T) {
	f := setup(t, "ivy")
	ctx := context.Background()
	s, err := f.id.RequestLogin(ctx, "ivy", "laptop")
	if err != nil {
		t.Fatal(err)
	}
	opts := identity.LoginOptions{OTP: f.freshCode(t), RememberDevice: true, DeviceLabel: "laptop"}
	first, err := f.id.Approve(ctx, s, pw, opts)
	if err != nil {
		t.Fatal(err)
	}
	again, err := f.id.Approve(ctx, s, pw, opts)
	if err != nil {
		t.Fatalf("retry of the same approval: %v", err)
	}
	if *again != *first || first.DeviceOTPSecret == "" {
		t.Fatalf("retry answered %+v, first answer %+v", again, first)
	}
	list, err := f.id.Sessions(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Sessions) != 1 {
		t.Fatalf("%d sessions listed after a retried approval, want 1", len(list.Sessions))
	}
	_, err = f.id.Approve(ctx, s, pw+"x", opts)
	wantClass(t, err, identity.ErrSession)
	// The session's record holds the answer sealed: the device secret is not readable.
	b := f.env.Host.Service(identity.Kind).Bucket()
	data, _, err := b.Get(ctx, "identity/sessions/"+s.SessionUID)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), "approval_sealed") || strings.Contains(string(data), first.DeviceOTPSecret) {
		t.Fatalf("session record should hold the answer sealed, not the device secret in clear: %s", data)
	}
}

// Retries racing their own first run: exactly one runs the approval, the
// others either get its answer or a typed error; none approves twice.
func TestApproveConcurrentRetries(t *testing.T) {
	f := setup(t, "jack")
	ctx := context.Background()
	s, err := f.id.RequestLogin(ctx, "jack", "")
	if err != nil {
		t.Fatal(err)
	}
	opts := identity.LoginOptions{OTP: f.freshCode(t)}
	const n = 4
	res := make([]*identity.ApproveLoginResult, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { own := *s; res[i], errs[i] = f.id.Approve(ctx, &own, pw, opts) })
	}
	wg.Wait()
	var expires []time.Time
	for i := range n {
		switch {
		case errs[i] == nil:
			expires = append(expires, res[i].Expires)
		case !errors.Is(errs[i], identity.ErrOTPReused) && !errors.Is(errs[i], identity.ErrSession):
			t.Fatalf("retry %d: %v", i, errs[i])
		}
	}
	if len(expires) == 0 {
		t.Fatal("no approval succeeded")
	}
	for _, e := range expires {
		if !e.Equal(expires[0]) {
			t.Fatalf("approvals answered different sessions' expiries: %v", expires)
		}
	}
	// After the race every retry gets the one answer.
	again, err := f.id.Approve(ctx, s, pw, opts)
	if err != nil || !again.Expires.Equal(expires[0]) {
		t.Fatalf("late retry: %+v, %v", again, err)
	}
}
