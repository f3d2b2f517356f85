package registry

import (
	"context"
	"errors"
	"fmt"

	"github.com/openacquire/acquire/runtime/call"
	"github.com/openacquire/acquire/runtime/service"
	"github.com/openacquire/acquire/runtime/store"
)

// LookupArgs names a service by UID or by URL.
type LookupArgs struct {
	UID string `json:"uid,omitempty"`
	URL string `json:"url,omitempty"`
	// Fresh asks the home registry of another region's UID again rather
	// than answer from the peer cache (a caller that met a certificate
	// the cached answer lacks: the service may have rotated). A local
	// lookup is always fresh.
	Fresh bool `json:"fresh,omitempty"`
}

// Entry is a registered service with its current, checked public keys.
type Entry struct {
	Record
	Keys *call.PublicKeys `json:"keys"`
}

func (r *Registry) handleLookup(ctx context.Context, a *LookupArgs) (*Entry, error) {
	var rec *Record
	var err error
	switch {
	case a.UID != "" && r.isRemote(a.UID):
		return r.remoteLookup(ctx, a.UID, a.Fresh)
	case a.UID != "":
		rec, err = r.byUID(ctx, a.UID)
	case a.URL != "":
		var u string
		if u, err = CanonicalURL(a.URL); err == nil {
			rec, err = r.byURL(ctx, u)
		}
	default:
		return nil, call.Errorf(call.ErrBadArguments, "give a uid or a url")
	}
	if errors.Is(err, store.ErrNotFound) {
		return nil, call.Errorf(call.ErrNotFound, "no service registered as %q%q", a.UID, a.URL)
	}
	if err != nil {
		return nil, err
	}
	keys, err := r.refresh(ctx, rec)
	if err != nil {
		return nil, err
	}
	return &Entry{Record: *rec, Keys: keys}, nil
}

// refresh fetches a service's keys and checks that they descend from the
// pinned certificate, moving the pin forward so it survives rotations.
func (r *Registry) refresh(ctx context.Context, rec *Record) (*call.PublicKeys, error) {
	var pk call.PublicKeys
	var err error
	if rec.URL == r.svc.URL() {
		var own *call.PublicKeys
		own, err = r.svc.PublicKeys(ctx)
		if own != nil {
			pk = *own
		}
	} else {
		err = r.client.CallClear(ctx, rec.URL, "public_keys", struct{}{}, &pk)
	}
	if err != nil {
		return nil, call.Errorf(call.ErrUnavailable, "cannot fetch keys of %s: %s", rec.URL, err)
	}
	trusted, err := pk.Verify(rec.PinnedCert)
	if err != nil {
		return nil, err
	}
	pk.UID = rec.UID
	if trusted.Newest != rec.PinnedCert {
		rec.PinnedCert, rec.Refreshed = trusted.Newest, r.svc.Now().UTC()
		if _, err := r.b.PutJSON(ctx, recordKey(rec.UID), rec); err != nil {
			return nil, err
		}
	}
	return &pk, nil
}

// ServiceList is one page of registered services, in UID order; Next is
// the token of the next page ("" on the last).
type ServiceList struct {
	Services []Record `json:"services"`
	Next     string   `json:"next,omitempty"`
}

// ListArgs asks for one page of services: PageSize 1..MaxListed (0 is
// MaxListed), after the page PageToken ended ("" from the start).
type ListArgs struct {
	PageToken string `json:"page_token,omitempty"`
	PageSize  int    `json:"page_size,omitempty"`
}

// handleList answers one page of the registry: a page costs its size (plus
// a logarithm of the registry's) however many services are registered,
// and any number can be listed by following Next.
func (r *Registry) handleList(ctx context.Context, args *ListArgs) (*ServiceList, error) {
	if args.PageSize < 0 || args.PageSize > MaxListed {
		return nil, call.Errorf(call.ErrBadArguments, "page_size must be 1..%d", MaxListed)
	}
	if len(args.PageToken) > store.MaxPageTokenBytes {
		return nil, call.Errorf(call.ErrBadArguments, "page_token too long")
	}
	size := args.PageSize
	if size == 0 {
		size = MaxListed
	}
	page, err := r.b.List(ctx, recordsPrefix, args.PageToken, size)
	if errors.Is(err, store.ErrInvalidArgument) {
		return nil, call.Errorf(call.ErrBadArguments, "bad page_token")
	}
	if err != nil {
		return nil, err
	}
	out := &ServiceList{Services: make([]Record, 0, len(page.Items)), Next: page.Next}
	for _, it := range page.Items {
		var rec Record
		if _, err := r.b.GetJSON(ctx, it.Key, &rec); errors.Is(err, store.ErrNotFound) {
			continue // removed since the page was listed
		} else if err != nil {
			return nil, err
		}
		out.Services = append(out.Services, rec)
	}
	return out, nil
}

// Client is the typed client of a registry.
type Client struct {
	C   *call.Client
	URL string
}

// Register asks the registry to register the service at url. The
// idempotency key covers this call's retries only: a key derived from the
// URL alone would make a failed attempt (service down, wrong kind) the
// stored answer for that URL forever. Registering again is safe anyway:
// the registry answers the existing record.
func (c *Client) Register(ctx context.Context, url, kind string) (*Record, error) {
	var out Record
	return &out, c.C.Call(ctx, c.URL, "register_service", &RegisterArgs{URL: url, Kind: kind}, &out,
		call.WithIdempotencyKey("register_service:"+service.NewID()))
}

// Lookup finds a service by UID or URL.
func (c *Client) Lookup(ctx context.Context, a LookupArgs) (*Entry, error) {
	var out Entry
	return &out, c.C.Call(ctx, c.URL, "lookup", &a, &out)
}

// maxListPages bounds how many pages List follows (10^6 services).
const maxListPages = 1000

// List lists every registered service, following pages.
func (c *Client) List(ctx context.Context) (*ServiceList, error) {
	all := &ServiceList{}
	token := ""
	for range maxListPages {
		page, err := c.ListPage(ctx, ListArgs{PageToken: token})
		if err != nil {
			return nil, err
		}
		all.Services = append(all.Services, page.Services...)
		if page.Next == "" {
			return all, nil
		}
		token = page.Next
	}
	return nil, fmt.Errorf("registry: more than %d pages of services", maxListPages)
}

// ListPage reads one page of registered services.
func (c *Client) ListPage(ctx context.Context, a ListArgs) (*ServiceList, error) {
	var out ServiceList
	return &out, c.C.Call(ctx, c.URL, "list_services", &a, &out)
}

// Peers lists the registry's region and its peers.
func (c *Client) Peers(ctx context.Context) (*PeerList, error) {
	var out PeerList
	return &out, c.C.Call(ctx, c.URL, "list_peers", struct{}{}, &out)
}
