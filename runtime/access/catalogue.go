package access

import (
	"context"
	"errors"
	"regexp"
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
		if !userRefPattern.MatchString(u) {
			return bad("user %q must be <user uid>@<identity service URL>", clip(u))
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
	return putResource(ctx, a.b, r, a.svc.Now())
}

// putResource writes a checked entry: users sorted without repeats, the
// catalogue's size bound kept for a new name.
func putResource(ctx context.Context, b *store.Bucket, r Resource, now time.Time) (*Resource, error) {
	r.Users = slices.Compact(slices.Sorted(slices.Values(r.Users)))
	r.Updated = now.UTC().Truncate(time.Millisecond)
	if _, err := getResource(ctx, b, r.Name); errors.Is(err, call.ErrNotFound) {
		if err := checkCatalogueSize(ctx, b); err != nil {
			return nil, err
		}
	} else if err != nil {
		return nil, err
	}
	if _, err := b.PutJSON(ctx, resourceKey(r.Name), &r); err != nil {
		return nil, err
	}
	return &r, nil
}

func checkCatalogueSize(ctx context.Context, b *store.Bucket) error {
	items, err := b.ListAll(ctx, resourcesPre, MaxResources)
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
	if err := deleteResource(ctx, a.b, args.Name); err != nil {
		return nil, err
	}
	return r, nil
}

func deleteResource(ctx context.Context, b *store.Bucket, name string) error {
	if err := b.Delete(ctx, resourceKey(name)); err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	return nil
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
	return getResource(ctx, a.b, name)
}

// getResource reads an entry by any name: names are encoded in keys, and a
// malformed one is simply not in the catalogue.
func getResource(ctx context.Context, b *store.Bucket, name string) (*Resource, error) {
	var r Resource
	if _, err := b.GetJSON(ctx, resourceKey(name), &r); errors.Is(err, store.ErrNotFound) {
		return nil, call.Errorf(call.ErrNotFound, "no resource %q in the catalogue", clip(name))
	} else if err != nil {
		return nil, err
	}
	return &r, nil
}

// The admin Go API: catalogue entries read and written straight on an
// access service's store, by a platform that holds the store (the
// Terraform provider, the way a cloud deployer holds a function's
// secret). It keeps the service's own rules: the same checks as
// set_resource, the same size bound, the same record. The running service
// reads entries from the store on every request, so a change is seen at
// once. The service's set_resource / remove_resource remain the path for
// a logged-in admin.

// SetResource checks and writes a catalogue entry (created or replaced)
// on the access service's bucket b, stamped with now.
func SetResource(ctx context.Context, b *store.Bucket, r Resource, now time.Time) (*Resource, error) {
	if err := checkResource(&r); err != nil {
		return nil, err
	}
	return putResource(ctx, b, r, now)
}

// GetResource reads a catalogue entry; call.ErrNotFound when there is none.
func GetResource(ctx context.Context, b *store.Bucket, name string) (*Resource, error) {
	if !namePattern.MatchString(name) {
		return nil, call.Errorf(call.ErrBadArguments, "resource name %q must match %s", clip(name), namePattern)
	}
	return getResource(ctx, b, name)
}

// RemoveResource deletes a catalogue entry; one already gone is not an
// error (the goal is met). Grants already given stay recorded.
func RemoveResource(ctx context.Context, b *store.Bucket, name string) error {
	if !namePattern.MatchString(name) {
		return call.Errorf(call.ErrBadArguments, "resource name %q must match %s", clip(name), namePattern)
	}
	return deleteResource(ctx, b, name)
}

// Patterns of a catalogue entry's fields, for callers that check a
// configuration before sending it (the Terraform provider, at plan time).
var (
	ResourceNamePattern = namePattern
	FunctionNamePattern = functionPattern
	UserRefPattern      = userRefPattern
)

// userRefPattern is UserRef's form: a UID, "@", an http(s) URL.
var userRefPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}@https?://[^\s@,]{1,500}$`)
