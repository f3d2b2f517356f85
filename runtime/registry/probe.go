package registry

import (
	"context"

	"github.com/openacquire/acquire/runtime/call"
)

// ErrNotRegistry is answered when a URL given as a registry serves
// another kind of service, or nothing at all.
var ErrNotRegistry = call.NewClass("NotARegistryError")

// Probe checks that url serves a registry, by its clear public keys, before
// anything is registered with it: a platform (the host's admin API, the
// Terraform provider at plan time) can then refuse a wrong URL with a
// message that says so, not with a failed challenge later.
func Probe(ctx context.Context, c *call.Client, url string) (*call.PublicKeys, error) {
	u, err := CanonicalURL(url)
	if err != nil {
		return nil, err
	}
	var pk call.PublicKeys
	if err := c.CallClear(ctx, u, "public_keys", struct{}{}, &pk); err != nil {
		return nil, call.Errorf(ErrNotRegistry, "%s does not answer as an Acquire service: %s", u, err)
	}
	if pk.Kind != Kind {
		return nil, call.Errorf(ErrNotRegistry, "%s is a %q service, not a registry", u, pk.Kind)
	}
	return &pk, nil
}
