package auth

import (
	"context"

	"github.com/openacquire/acquire/runtime/call"
)

// ChannelCall is the fast-path channel a call arrived on, as the service
// framework opened and checked it: whose session it speaks for, and for
// which service.
type ChannelCall struct {
	ID          string
	IdentityURL string
	UserUID     string
	SessionUID  string
	Audience    string
}

type channelKey struct{}

// WithChannel marks ctx as a call that arrived on channel c.
func WithChannel(ctx context.Context, c *ChannelCall) context.Context {
	return context.WithValue(ctx, channelKey{}, c)
}

// ChannelFrom is the channel the call in ctx arrived on, or nil for an
// envelope call.
func ChannelFrom(ctx context.Context) *ChannelCall {
	c, _ := ctx.Value(channelKey{}).(*ChannelCall)
	return c
}

// verifyChannel accepts an unsigned channel authorisation only on the call
// that arrived on that very channel, for the channel's own session and
// service; the session must still be approved (through the same cache a
// signed authorisation uses), and the resource and age are checked as for
// a signed one.
func (v *Verifier) verifyChannel(ctx context.Context, a *Authorisation, resource string) (*Session, error) {
	ch := ChannelFrom(ctx)
	switch {
	case ch == nil:
		return nil, call.Errorf(ErrAuthorisation, "a channel authorisation is only good on its channel")
	case ch.ID != a.Channel:
		return nil, call.Errorf(ErrAuthorisation, "the authorisation names another channel")
	case ch.IdentityURL != a.IdentityURL || ch.UserUID != a.UserUID || ch.SessionUID != a.SessionUID:
		return nil, call.Errorf(ErrAuthorisation, "the authorisation is for another session than its channel's")
	case ch.Audience != v.Audience:
		return nil, call.Errorf(ErrAudience, "the channel is for service %q, not %q", trunc(ch.Audience), trunc(v.Audience))
	}
	if err := checkAudience(a.Audience, v.Audience); err != nil {
		return nil, err
	}
	if err := checkFresh(a.Resource, a.Time, resource, v.now(), v.maxAge()); err != nil {
		return nil, err
	}
	c, err := v.session(ctx, a)
	if err != nil {
		return nil, err
	}
	return c.s, nil
}
