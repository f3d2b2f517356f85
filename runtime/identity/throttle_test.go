package identity_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openacquire/acquire/runtime/call"
	"github.com/openacquire/acquire/runtime/identity"
)

// guesser opens pending logins with one reusable key pair, so an attacker
// loop costs no key generation.
type guesser struct {
	f       *fixture
	session *identity.Session
}

func newGuesser(t *testing.T, f *fixture, username string) *guesser {
	t.Helper()
	s, err := f.id.RequestLogin(context.Background(), username, "")
	if err != nil {
		t.Fatal(err)
	}
	return &guesser{f: f, session: s}
}

// open asks for a pending login of username with the guesser's keys.
func (g *guesser) open(t *testing.T, username string) (*identity.Session, *identity.RequestLoginResult) {
	t.Helper()
	var out identity.RequestLoginResult
	args := &identity.RequestLoginArgs{Username: username, KeyPublic: string(g.session.Key.Public().PEM()),
		CertPublic: string(g.session.Cert.Public().PEM())}
	if err := g.f.env.Client.Call(context.Background(), g.f.id.URL, "request_login", args, &out); err != nil {
		t.Fatalf("request_login %q: %v", username, err)
	}
	return &identity.Session{SessionUID: out.SessionUID, Username: username}, &out
}

func (g *guesser) guess(s *identity.Session, password string) error {
	_, err := g.f.id.Approve(context.Background(), s, password, identity.LoginOptions{OTP: "123456"})
	return err
}

// 32 parallel wrong guesses on one pending login are each counted before
// any is judged: at most MaxSessionAttempts reach the password check, the
// rest are refused unjudged, and the login can never be approved after.
func TestParallelGuessesOnOneLoginEachCount(t *testing.T) {
	f := setup(t, "gina")
	g := newGuesser(t, f, "gina")
	s, _ := g.open(t, "gina")
	const n = 32
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { errs[i] = g.guess(s, "wrong password!") })
	}
	wg.Wait()
	judged, refused := 0, 0
	for _, err := range errs {
		switch {
		case errors.Is(err, identity.ErrPassword):
			judged++
		case errors.Is(err, identity.ErrLocked), errors.Is(err, call.ErrBusy):
			refused++
		default:
			t.Errorf("guess answered %v", err)
		}
	}
	if judged > identity.MaxSessionAttempts || judged+refused != n {
		t.Fatalf("%d of %d parallel guesses were judged (limit %d), %d refused", judged, n, identity.MaxSessionAttempts, refused)
	}
	// Spent: not even the right password and code approve it now.
	_, err := f.id.Approve(context.Background(), s, pw, identity.LoginOptions{OTP: f.freshCode(t)})
	wantClass(t, err, identity.ErrLocked)
}

// Someone who knows only a username cannot keep its owner out: after many
// wrong guesses, and while guesses continue, the owner's right password
// and code still log in.
func TestOwnerLogsInWhileAttackerGuesses(t *testing.T) {
	f := setup(t, "hal")
	g := newGuesser(t, f, "hal")
	for range 4 {
		s, _ := g.open(t, "hal")
		for range identity.MaxSessionAttempts {
			_ = g.guess(s, "wrong password!")
		}
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			var out identity.RequestLoginResult
			args := &identity.RequestLoginArgs{Username: "hal", KeyPublic: string(g.session.Key.Public().PEM()),
				CertPublic: string(g.session.Cert.Public().PEM())}
			if f.env.Client.Call(context.Background(), f.id.URL, "request_login", args, &out) == nil {
				_ = g.guess(&identity.Session{SessionUID: out.SessionUID, Username: "hal"}, "wrong password!")
			}
		}
	})
	s, err := f.login(t, "hal", f.freshCode(t))
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatalf("the owner was kept out by someone guessing: %v", err)
	}
	if s.UserUID != f.reg.UserUID {
		t.Fatalf("logged in as %q", s.UserUID)
	}
}

// After FreeFailures wrong passwords the account answers quietly: a right
// password with a wrong code gets the same answer as a wrong password, so
// continued guessing learns nothing.
func TestQuietAccountHidesWhichFactorFailed(t *testing.T) {
	f := setup(t, "ivy")
	g := newGuesser(t, f, "ivy")
	s, _ := g.open(t, "ivy")
	for range identity.FreeFailures {
		_ = g.guess(s, "wrong password!")
	}
	s, _ = g.open(t, "ivy")
	wrongPassword := g.guess(s, "wrong password!")
	wrongCode := g.guess(s, pw)
	var a, b *call.Error
	if !errors.As(wrongPassword, &a) || !errors.As(wrongCode, &b) || a.Class != b.Class || a.Message != b.Message {
		t.Fatalf("wrong password %v and wrong code %v answer differently", wrongPassword, wrongCode)
	}
}

// request_login and approve_login answer an unknown username exactly as a
// known one: same shape, same error, and comparable (argon2id) time.
func TestUnknownAndKnownUsernamesAnswerAlike(t *testing.T) {
	f := setup(t, "jules")
	g := newGuesser(t, f, "jules")
	known, kres := g.open(t, "jules")
	unknown, ures := g.open(t, "julez")
	if len(ures.SessionUID) != len(kres.SessionUID) || len(ures.ShortCode) != len(kres.ShortCode) ||
		ures.Expires.Sub(kres.Expires).Abs() > 5*time.Second {
		t.Fatalf("request_login answers differ: %+v vs %+v", ures, kres)
	}
	var times [2][]time.Duration
	var answers [2]string
	for range 3 {
		for i, s := range []*identity.Session{known, unknown} {
			start := time.Now()
			err := g.guess(s, "wrong password!")
			times[i] = append(times[i], time.Since(start))
			var ce *call.Error
			if !errors.As(err, &ce) {
				t.Fatalf("%s: %v", s.Username, err)
			}
			answers[i] = ce.Class + ": " + strings.ReplaceAll(ce.Message, s.Username, "NAME")
		}
	}
	if answers[0] != answers[1] {
		t.Fatalf("known user answered %q, unknown %q", answers[0], answers[1])
	}
	// The unknown user's check does the argon2id work too: its median is
	// not a small fraction of the known user's (a store read is ~1 ms,
	// argon2id tens of ms).
	slices.Sort(times[0])
	slices.Sort(times[1])
	if times[1][1] < times[0][1]/4 {
		t.Fatalf("unknown username answered in %s, known in %s: the difference tells them apart", times[1][1], times[0][1])
	}
}
