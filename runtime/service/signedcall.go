package service

import (
	"context"

	"github.com/openacquire/acquire/runtime/auth"
	"github.com/openacquire/acquire/runtime/call"
)

// SignedCall is what every typed client does for a user or a service: sign
// credentials for exactly resource at url, put them in the arguments, and call fn
// at url. Calls that change something (idem) carry a fresh idempotency key,
// so the call client may retry them without doing them twice. A session
// with fast-path channels on (ChannelSession) carries the call on its
// channel to url instead, opening one first; a service that does not speak
// the fast path gets the envelope.
func SignedCall(ctx context.Context, c *call.Client, url string, s auth.Signer, fn, resource string,
	args func(auth.Credentials) any, out any, idem bool) error {
	if cs, ok := s.(ChannelSession); ok && cs.FastChannels() != nil {
		if done, err := fastCall(ctx, c, url, cs, fn, resource, args, out, idem); done {
			return err
		}
	}
	cr, err := s.Credentials(ctx, url, resource, c.Clock())
	if err != nil {
		return err
	}
	var opts []call.CallOption
	if idem {
		opts = append(opts, call.WithIdempotencyKey(fn+":"+NewID()))
	}
	return c.Call(ctx, url, fn, args(cr), out, opts...)
}
