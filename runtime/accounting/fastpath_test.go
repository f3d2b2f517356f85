package accounting_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/openacquire/acquire/runtime/access"
	"github.com/openacquire/acquire/runtime/accounting"
	"github.com/openacquire/acquire/runtime/auth"
	"github.com/openacquire/acquire/runtime/call"
	"github.com/openacquire/acquire/runtime/channel"
	"github.com/openacquire/acquire/runtime/identity"
	"github.com/openacquire/acquire/runtime/ledger"
	"github.com/openacquire/acquire/runtime/service"
	"github.com/openacquire/acquire/runtime/storage"
)

// fastFixture is the accounting fixture with alice's and bob's sessions
// on the fast path and an account each, alice's funded.
type fastFixture struct {
	*fixture
	aliceAcct, bobAcct string
}

// TestFastPath runs the fast path's cases on one host and its users (a
// host with users costs seconds to set up): the sessions' ends come last.
func TestFastPath(t *testing.T) {
	f := setupFast(t)
	t.Run("FastPathCarriesCallsAfterOneOpen", func(t *testing.T) { testFastPathCarriesCallsAfterOneOpen(t, f) })
	t.Run("FastPathReplayIsRefused", func(t *testing.T) { testFastPathReplayIsRefused(t, f) })
	t.Run("FastPathReorderedBeyondTheWindowIsRefused", func(t *testing.T) { testFastPathReorderedBeyondTheWindowIsRefused(t, f) })
	t.Run("FastPathAnotherServicesChannelIsRefused", func(t *testing.T) { testFastPathAnotherServicesChannelIsRefused(t, f) })
	t.Run("FastPathTamperedIsRefused", func(t *testing.T) { testFastPathTamperedIsRefused(t, f) })
	t.Run("ChannelAuthorisationsAreGoodOnlyOnTheirChannel", func(t *testing.T) { testChannelAuthorisationsAreGoodOnlyOnTheirChannel(t, f) })
	t.Run("OnlyATrustedIdentityEndsASession", func(t *testing.T) { testOnlyATrustedIdentityEndsASession(t, f) })
	t.Run("FastPathExpiredChannelIsRefusedThenReopened", func(t *testing.T) { testFastPathExpiredChannelIsRefusedThenReopened(t, f) })
	t.Run("FastPathEndsAtOnceOnLogoutAndRevocation", func(t *testing.T) { testFastPathEndsAtOnceOnLogoutAndRevocation(t, f) })
}

func setupFast(t *testing.T) *fastFixture {
	t.Helper()
	f := &fastFixture{fixture: setup(t)}
	f.alice.UseFastPath()
	f.bob.UseFastPath()
	f.aliceAcct = f.create(t, f.alice, "main", "0")
	f.bobAcct = f.create(t, f.bob, "main", "0")
	f.deposit(t, "fund-alice", f.aliceAcct, "10")
	return f
}

// channelOf is s's open channel to the accounting service.
func (f *fastFixture) channelOf(t *testing.T, s *identity.Session) *channel.Client {
	t.Helper()
	ch := s.Fast.Current(f.acc.URL)
	if ch == nil {
		t.Fatal("no channel open to the accounting service")
	}
	return ch
}

// frame seals a balance call on ch by hand, with a channel authorisation
// for session s (which need not be ch's, to test that it must be).
func (f *fastFixture) frame(t *testing.T, ch *channel.Client, s *identity.Session, account string) ([]byte, uint64) {
	t.Helper()
	now := f.env.Clock.Now()
	a := &auth.Authorisation{UserUID: s.UserUID, SessionUID: s.SessionUID, IdentityURL: s.IdentityURL, Audience: f.acc.URL,
		Resource: accounting.BalanceResource(account), Time: now.UTC().Format(time.RFC3339Nano), Channel: ch.ID.String()}
	payload, err := json.Marshal(&accounting.BalanceArgs{Credentials: auth.Credentials{Authorisation: a}, Account: account})
	if err != nil {
		t.Fatal(err)
	}
	fr, seq, err := ch.Seal("balance", payload, "", now)
	if err != nil {
		t.Fatal(err)
	}
	return fr, seq
}

// post sends a frame to url and reads the answer: a balance, or the
// typed refusal or error.
func (f *fastFixture) post(t *testing.T, url string, ch *channel.Client, fr []byte, seq uint64) (*ledger.Balance, error) {
	t.Helper()
	body, err := f.env.Client.Post(context.Background(), url, fr)
	if err != nil {
		t.Fatal(err)
	}
	plain, refusal, err := ch.Open(body, seq)
	if err != nil {
		return nil, err
	}
	if refusal != nil {
		return nil, refusal
	}
	var b ledger.Balance
	return &b, call.ResultInto(plain, "balance", url, &b)
}

func testFastPathCarriesCallsAfterOneOpen(t *testing.T, f *fastFixture) {
	ctx := context.Background()
	ch := f.channelOf(t, f.alice)
	if _, err := f.acc.Transfer(ctx, f.alice, accounting.Transfer{ID: "fp-1", From: f.aliceAcct, To: f.bobAcct, Amount: amt("2.5")}); err != nil {
		t.Fatal(err)
	}
	b, err := f.acc.Balance(ctx, f.bob, f.bobAcct, time.Time{})
	if err != nil || b.Balance.String() != amt("2.5").String() {
		t.Fatalf("bob's balance %v, %v", b, err)
	}
	if f.channelOf(t, f.alice) != ch {
		t.Fatal("a second channel was opened for calls the first could carry")
	}
	// A user's typed errors come back sealed, as results.
	_, err = f.acc.Balance(ctx, f.alice, f.bobAcct, time.Time{})
	if err == nil {
		t.Fatal("alice read bob's balance")
	}
	// Services that do not speak the fast path get the envelope (negotiation).
	acl := &access.Client{C: f.env.Client, URL: f.env.Host.ServiceURL(access.Kind)}
	if _, err := acl.ListResources(ctx, f.alice); err != nil {
		t.Fatalf("a call to a service without the fast path: %v", err)
	}
	if f.alice.Fast.Current(acl.URL) != nil {
		t.Fatal("a channel is recorded for a service that does not speak the fast path")
	}
}

func testFastPathReplayIsRefused(t *testing.T, f *fastFixture) {
	ch := f.channelOf(t, f.alice)
	fr, seq := f.frame(t, ch, f.alice, f.aliceAcct)
	if _, err := f.post(t, f.acc.URL, ch, fr, seq); err != nil {
		t.Fatalf("first send: %v", err)
	}
	_, err := f.post(t, f.acc.URL, ch, fr, seq)
	wantClass(t, err, call.ErrReplay)
}

func testFastPathReorderedBeyondTheWindowIsRefused(t *testing.T, f *fastFixture) {
	ch := f.channelOf(t, f.alice)
	held, heldSeq := f.frame(t, ch, f.alice, f.aliceAcct)
	for range channel.Window - 1 { // sealed, never sent: their numbers go by
		f.frame(t, ch, f.alice, f.aliceAcct)
	}
	if _, err := f.acc.Balance(context.Background(), f.alice, f.aliceAcct, time.Time{}); err != nil {
		t.Fatal(err)
	}
	_, err := f.post(t, f.acc.URL, ch, held, heldSeq)
	wantClass(t, err, channel.ErrBehind)
}

func testFastPathEndsAtOnceOnLogoutAndRevocation(t *testing.T, f *fastFixture) {
	ctx := context.Background()
	for _, end := range []struct {
		name string
		s    *identity.Session
		do   func(*identity.Session) error
	}{
		{"logout", f.bob, func(s *identity.Session) error { _, err := f.env.Identity().Logout(ctx, s); return err }},
		{"revocation", f.alice, func(s *identity.Session) error { _, err := f.env.Identity().Revoke(ctx, s, s.SessionUID); return err }},
	} {
		t.Run(end.name, func(t *testing.T) {
			acct := f.bobAcct
			if end.s == f.alice {
				acct = f.aliceAcct
			}
			if _, err := f.acc.Balance(ctx, end.s, acct, time.Time{}); err != nil { // (re)opens its channel
				t.Fatal(err)
			}
			ch := f.channelOf(t, end.s)
			held, seq := f.frame(t, ch, end.s, acct)
			if err := end.do(end.s); err != nil {
				t.Fatal(err)
			}
			// No clock moves: the very next call is refused, on every service holding a channel.
			_, err := f.acc.Balance(ctx, end.s, acct, time.Time{})
			wantClass(t, err, auth.ErrSessionClosed)
			_, err = f.post(t, f.acc.URL, ch, held, seq)
			wantClass(t, err, auth.ErrSessionClosed)
		})
	}
}

func testFastPathExpiredChannelIsRefusedThenReopened(t *testing.T, f *fastFixture) {
	ch := f.channelOf(t, f.alice)
	f.env.Clock.Advance(channel.Life + time.Minute)
	fr, seq := f.frame(t, ch, f.alice, f.aliceAcct)
	_, err := f.post(t, f.acc.URL, ch, fr, seq)
	wantClass(t, err, channel.ErrExpired)
	if _, err := f.acc.Balance(context.Background(), f.alice, f.aliceAcct, time.Time{}); err != nil {
		t.Fatalf("after expiry the client should open a new channel: %v", err)
	}
	if f.channelOf(t, f.alice).ID == ch.ID {
		t.Fatal("the expired channel is still in use")
	}
}

func testFastPathAnotherServicesChannelIsRefused(t *testing.T, f *fastFixture) {
	ch := f.channelOf(t, f.alice)
	fr, seq := f.frame(t, ch, f.alice, f.aliceAcct)
	_, err := f.post(t, f.env.Host.ServiceURL(storage.Kind), ch, fr, seq)
	wantClass(t, err, channel.ErrUnknown)
	// The same frame is still good where it belongs: the refusal elsewhere burnt nothing.
	if _, err := f.post(t, f.acc.URL, ch, fr, seq); err != nil {
		t.Fatal(err)
	}
}

func testFastPathTamperedIsRefused(t *testing.T, f *fastFixture) {
	ch := f.channelOf(t, f.alice)
	fr, seq := f.frame(t, ch, f.alice, f.aliceAcct)
	body := append([]byte(nil), fr...)
	body[len(body)-20] ^= 0x04
	_, err := f.post(t, f.acc.URL, ch, body, seq)
	wantClass(t, err, channel.ErrIntegrity)
	ticket := append([]byte(nil), fr...)
	ticket[20] ^= 0x04
	_, err = f.post(t, f.acc.URL, ch, ticket, seq)
	wantClass(t, err, channel.ErrUnknown)
}

func testChannelAuthorisationsAreGoodOnlyOnTheirChannel(t *testing.T, f *fastFixture) {
	ctx := context.Background()
	if _, err := f.acc.Balance(ctx, f.bob, f.bobAcct, time.Time{}); err != nil {
		t.Fatal(err)
	}
	alice, bob := f.channelOf(t, f.alice), f.channelOf(t, f.bob)
	// On bob's channel, an authorisation for alice's session (naming bob's channel) is refused...
	fr, seq := f.frame(t, bob, f.alice, f.aliceAcct)
	_, err := f.post(t, f.acc.URL, bob, fr, seq)
	wantClass(t, err, auth.ErrAuthorisation)
	// ...and so is a channel authorisation carried through the envelope, with no channel at all.
	a := &auth.Authorisation{UserUID: f.alice.UserUID, SessionUID: f.alice.SessionUID, IdentityURL: f.alice.IdentityURL,
		Audience: f.acc.URL, Resource: accounting.BalanceResource(f.aliceAcct), Time: f.env.Clock.Now().UTC().Format(time.RFC3339Nano),
		Channel: alice.ID.String()}
	err = f.env.Client.Call(ctx, f.acc.URL, "balance", &accounting.BalanceArgs{Credentials: auth.Credentials{Authorisation: a},
		Account: f.aliceAcct}, nil)
	wantClass(t, err, auth.ErrAuthorisation)
}

func testOnlyATrustedIdentityEndsASession(t *testing.T, f *fastFixture) {
	ctx := context.Background()
	identityURL := f.alice.IdentityURL
	// The accounting service signing in its own name is not the identity service.
	sa, err := f.env.Host.Accounting.Service().Authorise(ctx, f.acc.URL, channel.EndResource(identityURL, f.alice.SessionUID))
	if err != nil {
		t.Fatal(err)
	}
	for _, args := range []*service.EndArgs{
		{IdentityURL: identityURL, SessionUID: f.alice.SessionUID},
		{Service: sa, IdentityURL: identityURL, SessionUID: f.alice.SessionUID},
		{Service: sa, IdentityURL: f.acc.URL, SessionUID: f.alice.SessionUID},
	} {
		if err := f.env.Client.Call(ctx, f.acc.URL, "fastpath_end", args, nil); err == nil {
			t.Fatalf("fastpath_end accepted %+v", args)
		}
	}
	if _, err := f.acc.Balance(ctx, f.alice, f.aliceAcct, time.Time{}); err != nil {
		t.Fatalf("a refused end notice ended the session: %v", err)
	}
}
