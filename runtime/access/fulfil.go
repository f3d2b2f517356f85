package access

import (
	"context"

	"github.com/openacquire/acquire/runtime/auth"
	"github.com/openacquire/acquire/runtime/call"
)

// VerifyFulfil is what a fulfilling service's handler calls first: it
// checks that args come from the access service at accessURL (its service
// authorisation over exactly these args, fresh, and made for this
// fulfiller). sv should trust only the access services the fulfiller
// serves, and its Audience must be the fulfiller's own URL.
func VerifyFulfil(ctx context.Context, sv *auth.ServiceVerifier, accessURL string, args *FulfilArgs) error {
	if args.Service == nil || args.Authorisation != nil {
		return call.Errorf(auth.ErrAuthorisation, "fulfilment is asked by the access service in its own name")
	}
	url, err := sv.Verify(ctx, args.Service, FulfilResource(args))
	if err != nil {
		return err
	}
	if url != accessURL {
		return call.Errorf(call.ErrPermission, "fulfilment asked by %s, not by the access service", url)
	}
	return nil
}
