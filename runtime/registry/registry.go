// Package registry is the registry service: services register by
// challenge-response, get a UID, and are looked up by UID or URL with
// their current public keys, checked against the keys they registered with.
package registry

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"time"

	"github.com/openacquire/acquire/runtime/call"
	"github.com/openacquire/acquire/runtime/service"
	"github.com/openacquire/acquire/runtime/store"
)

// Kind is the service kind this package serves.
const Kind = "registry"

// Limits.
const (
	MaxURLBytes      = 512
	MaxListed        = 1000
	updateAttempts   = 10
	recordsPrefix    = "registry/services/"
	byURLPrefix      = "registry/by-url/"
	challengeTimeout = 20 * time.Second
)

// ErrChallenge is answered when a service cannot prove it holds its keys.
var ErrChallenge = call.NewClass("ChallengeError")

// Record is one registered service.
type Record struct {
	UID        string    `json:"uid"`
	Kind       string    `json:"kind"`
	URL        string    `json:"url"`
	PinnedCert string    `json:"pinned_cert"` // newest certificate fingerprint the registry has checked
	Registered time.Time `json:"registered"`
	Refreshed  time.Time `json:"refreshed"`
}

// Registry is the registry service on top of the function framework.
type Registry struct {
	svc    *service.Service
	b      *store.Bucket
	client *call.Client
	region string // this registry's region: the hex part of its own UID
	peers  *peerCache
}

// New registers the registry functions and registers the registry itself.
func New(ctx context.Context, svc *service.Service, client *call.Client) (*Registry, error) {
	r := &Registry{svc: svc, b: svc.Bucket(), client: client, peers: newPeerCache()}
	service.Handle(svc, "register_service", service.Options{Idempotent: true}, r.handleRegister)
	service.Handle(svc, "lookup", service.Options{}, r.handleLookup)
	service.Handle(svc, "list_services", service.Options{}, r.handleList)
	service.Handle(svc, "peer_offer", service.Options{}, r.handlePeerOffer)
	service.Handle(svc, "peer_lookup", service.Options{}, r.handlePeerLookup)
	service.Handle(svc, "list_peers", service.Options{}, r.handleListPeers)
	return r, r.registerSelf(ctx)
}

// Region is this registry's region ID.
func (r *Registry) Region() string { return r.region }

// registerSelf gives the registry its own UID on first setup.
func (r *Registry) registerSelf(ctx context.Context) error {
	keys, err := r.svc.PublicKeys(ctx)
	if err != nil {
		return err
	}
	trusted, err := keys.Verify("")
	if err != nil {
		return err
	}
	rec, err := r.put(ctx, Kind, r.svc.URL(), trusted.Newest)
	if err != nil {
		return err
	}
	if r.region, err = registryRegion(rec.UID); err != nil {
		return err
	}
	return r.svc.SetUID(ctx, rec.UID, r.svc.URL())
}

// RegisterArgs asks to register the service at URL.
type RegisterArgs struct {
	URL  string `json:"url"`
	Kind string `json:"kind"`
}

func (r *Registry) handleRegister(ctx context.Context, a *RegisterArgs) (*Record, error) {
	u, err := CanonicalURL(a.URL)
	if err != nil {
		return nil, err
	}
	if old, err := r.byURL(ctx, u); err == nil {
		if old.Kind != a.Kind {
			return nil, call.Errorf(ErrChallenge, "%s is registered as a %q service, not %q", u, old.Kind, a.Kind)
		}
		// Re-registration: the service must still hold the keys we pinned.
		if _, err := r.refresh(ctx, old); err != nil {
			return nil, call.Errorf(call.ErrExists, "%s is registered with other keys: %s", u, err)
		}
		return old, nil
	}
	fp, err := r.challenge(ctx, u, a.Kind)
	if err != nil {
		return nil, err
	}
	return r.put(ctx, a.Kind, u, fp)
}

// challenge fetches the service's keys, trusting them for now, and proves
// the service holds the private halves: it must decrypt our request and
// sign its reply, echoing a fresh nonce.
func (r *Registry) challenge(ctx context.Context, u, kind string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, challengeTimeout)
	defer cancel()
	var pk call.PublicKeys
	if err := r.client.CallClear(ctx, u, "public_keys", struct{}{}, &pk); err != nil {
		return "", call.Errorf(ErrChallenge, "cannot fetch keys of %s: %s", u, err)
	}
	if pk.Kind != kind {
		return "", call.Errorf(ErrChallenge, "%s is a %q service, not %q", u, pk.Kind, kind)
	}
	keys, err := pk.Verify("")
	if err != nil {
		return "", err
	}
	nonce := service.NewID()
	var ans service.ChallengeAnswer
	if err := r.client.CallWithKeys(ctx, u, keys, "registry_challenge", &service.ChallengeArgs{Nonce: nonce}, &ans); err != nil {
		return "", call.Errorf(ErrChallenge, "%s did not answer the challenge: %s", u, err)
	}
	if ans.Nonce != nonce || ans.URL != u || ans.Kind != kind {
		return "", call.Errorf(ErrChallenge, "%s answered the challenge wrongly", u)
	}
	return keys.Newest, nil
}

func (r *Registry) put(ctx context.Context, kind, u, fp string) (*Record, error) {
	now := r.svc.Now().UTC()
	// The registry's own record is made before its region is known: its
	// UID is the region (see RegionOf).
	rec := &Record{UID: newUID(kind, r.region), Kind: kind, URL: u, PinnedCert: fp,
		Registered: now, Refreshed: now}
	// The URL index is written first with put-if-absent: of two racing
	// registrations of one URL, one wins and the other reads its record.
	_, err := r.b.PutJSONIfAbsent(ctx, byURLPrefix+store.EncodeName(u), map[string]string{"uid": rec.UID})
	if errors.Is(err, store.ErrPrecondition) {
		return r.waitRecord(ctx, u)
	} else if err != nil {
		return nil, err
	}
	if _, err := r.b.PutJSON(ctx, recordKey(rec.UID), rec); err != nil {
		return nil, err
	}
	return rec, nil
}

func (r *Registry) waitRecord(ctx context.Context, u string) (*Record, error) {
	for range updateAttempts {
		if rec, err := r.byURL(ctx, u); err == nil {
			return rec, nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return nil, call.Errorf(call.ErrInProgress, "%s is being registered; retry", u)
}

func (r *Registry) byURL(ctx context.Context, u string) (*Record, error) {
	var idx map[string]string
	if _, err := r.b.GetJSON(ctx, byURLPrefix+store.EncodeName(u), &idx); err != nil {
		return nil, err
	}
	return r.byUID(ctx, idx["uid"])
}

func (r *Registry) byUID(ctx context.Context, uid string) (*Record, error) {
	if uid == "" || strings.ContainsAny(uid, "/.") {
		return nil, call.Errorf(call.ErrNotFound, "no service with UID %q", uid)
	}
	var rec Record
	if _, err := r.b.GetJSON(ctx, recordKey(uid), &rec); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil, call.Errorf(call.ErrNotFound, "no service with UID %q", uid)
		}
		return nil, err
	}
	return &rec, nil
}

// CanonicalURL checks a service URL and gives it one spelling.
func CanonicalURL(raw string) (string, error) {
	if len(raw) > MaxURLBytes {
		return "", call.Errorf(call.ErrBadArguments, "URL over %d bytes", MaxURLBytes)
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return "", call.Errorf(call.ErrBadArguments, "service URL %q must be http(s)://host[:port]/path with no query", raw)
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.Scheme, u.Host = strings.ToLower(u.Scheme), strings.ToLower(u.Host)
	return u.String(), nil
}
