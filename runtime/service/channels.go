package service

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"sync"
	"time"

	"github.com/openacquire/acquire/runtime/auth"
	"github.com/openacquire/acquire/runtime/call"
	"github.com/openacquire/acquire/runtime/channel"
	"github.com/openacquire/acquire/runtime/wait"
)

// ChannelSession is a session that may carry its calls on fast-path
// channels (identity.Session).
type ChannelSession interface {
	auth.Signer
	// Authorise signs an authorisation with the session's certificate.
	Authorise(audience, resource string, now time.Time) (*auth.Authorisation, error)
	// ChannelBinding names the session as its channels are bound to it.
	ChannelBinding() (identityURL, userUID, sessionUID string)
	// FastChannels is the session's channels; nil turns the fast path off.
	FastChannels() *Channels
}

// Channels are one session's fast-path channels, one per service, opened
// on the first call to each. Safe for concurrent use.
type Channels struct {
	mu   sync.Mutex
	open map[string]*channel.Client // by call.ServiceID
	none map[string]bool            // services that do not speak the fast path
	busy map[string]*sync.Mutex     // one opening at a time per service
}

// get returns the channel to url, opening one if needed; nil (and no
// error) when the service does not speak the fast path.
func (cs *Channels) get(ctx context.Context, c *call.Client, url string, s ChannelSession) (*channel.Client, error) {
	id := call.ServiceID(url)
	cs.mu.Lock()
	if cs.busy == nil {
		cs.open, cs.none, cs.busy = map[string]*channel.Client{}, map[string]bool{}, map[string]*sync.Mutex{}
	}
	opening := cs.busy[id]
	if opening == nil {
		opening = &sync.Mutex{}
		cs.busy[id] = opening
	}
	cs.mu.Unlock()
	opening.Lock()
	defer opening.Unlock()
	cs.mu.Lock()
	ch, none := cs.open[id], cs.none[id]
	cs.mu.Unlock()
	if none {
		return nil, nil
	}
	if ch != nil && !ch.Expired(c.Clock()) {
		return ch, nil
	}
	ch, err := openChannel(ctx, c, url, s)
	cs.mu.Lock()
	defer cs.mu.Unlock()
	switch {
	case errors.Is(err, call.ErrUnknownFunction):
		cs.none[id] = true
		return nil, nil
	case err != nil:
		return nil, err
	}
	cs.open[id] = ch
	return ch, nil
}

// drop forgets ch (the service no longer knows it), so the next call opens another.
func (cs *Channels) drop(url string, ch *channel.Client) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if id := call.ServiceID(url); cs.open[id] == ch {
		delete(cs.open, id)
	}
}

// openChannel agrees a channel with the service at url through the
// envelope: the client's half named in a session-signed authorisation, the
// service's half in a reply signed by its pinned certificate.
func openChannel(ctx context.Context, c *call.Client, url string, s ChannelSession) (*channel.Client, error) {
	half, err := channel.NewHalf()
	if err != nil {
		return nil, err
	}
	pub := base64.StdEncoding.EncodeToString(half.PublicKey().Bytes())
	a, err := s.Authorise(url, channel.OpenResource(pub), c.Clock())
	if err != nil {
		return nil, err
	}
	var out OpenResult
	if err := c.Call(ctx, url, "fastpath_open", &OpenArgs{Credentials: auth.Credentials{Authorisation: a}, ClientPublic: pub}, &out); err != nil {
		return nil, err
	}
	spub, err1 := base64.StdEncoding.DecodeString(out.ServicePublic)
	ticket, err2 := base64.StdEncoding.DecodeString(out.Ticket)
	rawID, err3 := hex.DecodeString(out.Channel)
	if err := errors.Join(err1, err2, err3); err != nil || len(rawID) != len(channel.ID{}) {
		return nil, call.Errorf(call.ErrUnpacking, "the service's channel answer is malformed")
	}
	identityURL, user, session := s.ChannelBinding()
	b := channel.Binding{IdentityURL: identityURL, UserUID: user, SessionUID: session, Audience: out.Audience, Expires: out.Expires}
	copy(b.ID[:], rawID)
	return channel.Establish(half, spub, ticket, b)
}

// errReopen means the service does not know the channel (any more): the
// call did not run, and is sent again on a new channel.
var errReopen = errors.New("service: the channel must be opened again")

// fastCall sends a session's call on its channel to url. done is false
// when the service does not speak the fast path (the caller uses the
// envelope instead).
func fastCall(ctx context.Context, c *call.Client, url string, s ChannelSession, fn, resource string,
	args func(auth.Credentials) any, out any, idem bool) (done bool, err error) {
	chans := s.FastChannels()
	idemKey := ""
	if idem {
		idemKey = fn + ":" + NewID()
	}
	for range 2 {
		ch, err := chans.get(ctx, c, url, s)
		if err != nil || ch == nil {
			return err != nil, err
		}
		err = callOn(ctx, c, url, ch, s, fn, resource, args, out, idemKey)
		if !errors.Is(err, errReopen) {
			return true, err
		}
		chans.drop(url, ch)
	}
	return true, call.Errorf(channel.ErrUnknown, "the service at %s keeps forgetting new channels", url)
}

// callOn makes one call on ch, sending it again (under a new sequence
// number, with the same idempotency key) on transient failures when it
// carries an idempotency key.
func callOn(ctx context.Context, c *call.Client, url string, ch *channel.Client, s ChannelSession, fn, resource string,
	args func(auth.Credentials) any, out any, idemKey string) error {
	attempts := 1
	if idemKey != "" {
		attempts = call.MaxRetries
	}
	var err error
	for i := range attempts {
		if i > 0 {
			if werr := wait.Sleep(ctx, 50*time.Millisecond<<i); werr != nil {
				return err
			}
		}
		err = callOnce(ctx, c, url, ch, s, fn, resource, args, out, idemKey)
		// A call that fell behind the window did not run; with an
		// idempotency key it is safe to send again even if an attacker's
		// copy of it did run (the service answers the first result).
		resend := call.Retryable(err) || errors.Is(err, channel.ErrBehind)
		if err == nil || errors.Is(err, errReopen) || !resend {
			return err
		}
	}
	return err
}

func callOnce(ctx context.Context, c *call.Client, url string, ch *channel.Client, s ChannelSession, fn, resource string,
	args func(auth.Credentials) any, out any, idemKey string) error {
	now := c.Clock()
	identityURL, user, session := s.ChannelBinding()
	a := &auth.Authorisation{UserUID: user, SessionUID: session, IdentityURL: identityURL, Audience: url,
		Resource: resource, Time: now.UTC().Format(time.RFC3339Nano), Channel: ch.ID.String()}
	payload, err := json.Marshal(args(auth.Credentials{Authorisation: a}))
	if err != nil {
		return err
	}
	frame, seq, err := ch.Seal(fn, payload, idemKey, now)
	if err != nil {
		return err
	}
	body, err := c.Post(ctx, url, frame)
	if err != nil {
		return err
	}
	plain, refusal, err := ch.Open(body, seq)
	switch {
	case err != nil:
		return err
	case refusal != nil && (errors.Is(refusal, channel.ErrUnknown) || errors.Is(refusal, channel.ErrExpired)):
		return errReopen
	case refusal != nil:
		return refusal
	}
	return call.ResultInto(plain, fn, url, out)
}

// Current is the open channel to url, or nil: for diagnostics and tests.
func (cs *Channels) Current(url string) *channel.Client {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	return cs.open[call.ServiceID(url)]
}
