package access

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/openacquire/acquire/runtime/call"
	"github.com/openacquire/acquire/runtime/ledger"
	"github.com/openacquire/acquire/runtime/store"
)

// checkResource checks a catalogue entry before anything is written.
func checkResource(r *Resource) error {
	bad := func(format string, args ...any) error { return call.Errorf(call.ErrBadArguments, format, args...) }
	switch {
	case !namePattern.MatchString(r.Name):
		return bad("resource name %q must match %s", clip(r.Name), namePattern)
	case !r.Price.IsPositive() || r.Price.Cmp(ledger.MaxAmount) > 0:
		return bad("price %s is not in (0, %s]", r.Price, ledger.MaxAmount)
	case len(r.ServiceURL) > 512 || hasControl(r.ServiceURL) || strings.Contains(r.ServiceURL, " ") ||
		!strings.HasPrefix(r.ServiceURL, "http://") && !strings.HasPrefix(r.ServiceURL, "https://"):
		return bad("service URL %q must be http(s), at most 512 bytes", clip(r.ServiceURL))
	case !functionPattern.MatchString(r.Function):
		return bad("function %q must match %s", clip(r.Function), functionPattern)
	case len(r.Users) > MaxUsersPerResource:
		return bad("at most %d users may be listed", MaxUsersPerResource)
	case len(r.Description) > MaxDescriptionBytes || hasControl(r.Description):
		return bad("description must be at most %d bytes without control characters", MaxDescriptionBytes)
	case r.HoldS != 0 && (r.HoldS < int64(MinHold/time.Second) || r.HoldS > int64(MaxHold/time.Second)):
		return bad("hold_s %d is not 0 (the default, %s) or in [%d, %d]", r.HoldS, HoldFor,
			int64(MinHold/time.Second), int64(MaxHold/time.Second))
	}
	for _, u := range r.Users {
		if !requestIDPattern.MatchString(u) {
			return bad("user uid %q is malformed", clip(u))
		}
	}
	return nil
}

func (a *Access) handleSetResource(ctx context.Context, args *SetResourceArgs) (*Resource, error) {
	r := args.Resource
	if err := checkResource(&r); err != nil {
		return nil, err
	}
	if _, err := a.authoriseAdmin(ctx, args.Credentials, SetResourceResource(&r)); err != nil {
		return nil, err
	}
	r.Users = slices.Compact(slices.Sorted(slices.Values(r.Users)))
	r.Updated = a.svc.Now().UTC().Truncate(time.Millisecond)
	if _, err := a.resource(ctx, r.Name); errors.Is(err, call.ErrNotFound) {
		if err := a.checkCatalogueSize(ctx); err != nil {
			return nil, err
		}
	} else if err != nil {
		return nil, err
	}
	if _, err := a.b.PutJSON(ctx, resourceKey(r.Name), &r); err != nil {
		return nil, err
	}
	return &r, nil
}

func (a *Access) checkCatalogueSize(ctx context.Context) error {
	items, err := a.b.ListAll(ctx, resourcesPre, MaxResources)
	if err != nil {
		return err
	}
	if len(items) >= MaxResources {
		return call.Errorf(ErrCatalogueFull, "the catalogue holds at most %d resources", MaxResources)
	}
	return nil
}

func (a *Access) handleRemoveResource(ctx context.Context, args *RemoveResourceArgs) (*Resource, error) {
	if !namePattern.MatchString(args.Name) {
		return nil, call.Errorf(call.ErrBadArguments, "resource name %q must match %s", clip(args.Name), namePattern)
	}
	if _, err := a.authoriseAdmin(ctx, args.Credentials, RemoveResourceResource(args.Name)); err != nil {
		return nil, err
	}
	r, err := a.resource(ctx, args.Name)
	if err != nil {
		return nil, err
	}
	if err := a.b.Delete(ctx, resourceKey(args.Name)); err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	return r, nil
}

// handleListResources lists the catalogue to any user of a trusted
// identity service: prices and rules are what users need to ask.
func (a *Access) handleListResources(ctx context.Context, args *ListResourcesArgs) (*Catalogue, error) {
	if _, err := a.authoriseUser(ctx, args.Credentials, ListResourcesResource); err != nil {
		return nil, err
	}
	items, err := a.b.ListAll(ctx, resourcesPre, MaxResources)
	if err != nil {
		return nil, err
	}
	out := &Catalogue{Resources: []*Resource{}}
	for _, it := range items {
		var r Resource
		if _, err := a.b.GetJSON(ctx, it.Key, &r); errors.Is(err, store.ErrNotFound) {
			continue // removed since the listing
		} else if err != nil {
			return nil, err
		}
		out.Resources = append(out.Resources, &r)
	}
	return out, nil
}

// resource reads a catalogue entry.
func (a *Access) resource(ctx context.Context, name string) (*Resource, error) {
	var r Resource
	if _, err := a.b.GetJSON(ctx, resourceKey(name), &r); errors.Is(err, store.ErrNotFound) {
		return nil, call.Errorf(call.ErrNotFound, "no resource %q in the catalogue", clip(name))
	} else if err != nil {
		return nil, err
	}
	return &r, nil
}
