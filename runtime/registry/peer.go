package registry

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/openacquire/acquire/runtime/call"
	"github.com/openacquire/acquire/runtime/crypto"
	"github.com/openacquire/acquire/runtime/service"
	"github.com/openacquire/acquire/runtime/store"
)

// Peering limits.
const (
	MaxPeers        = 64
	MaxLabelBytes   = 64
	peersPrefix     = "registry/peers/"
	peerCallTimeout = 5 * time.Second // a region that is down or cut off fails this fast
	// PeeringRecordMaxAge bounds how old (or how far ahead) a signed
	// peering record may be when it arrives.
	PeeringRecordMaxAge = 5 * time.Minute
)

// Error classes of federation.
var (
	// ErrPeering: a peering record or request is refused (forged, for
	// another registry, a region clash, not a registry).
	ErrPeering = call.NewClass("PeeringError")
	// ErrPeeringReplay: a signed peering record no newer than one already
	// taken from that region.
	ErrPeeringReplay = call.NewClass("PeeringReplayError")
	// ErrNotPeered: the region (or the calling registry) is not an active
	// peer of this registry.
	ErrNotPeered = call.NewClass("NotPeeredError")
	// ErrPeerKeyChanged: a peer registry no longer publishes the
	// certificate pinned when it was peered, nor one endorsed from it.
	ErrPeerKeyChanged = call.NewClass("PeerKeyChangedError")
	// ErrPeerAnswer: a peer answered a lookup with something it may not
	// vouch for (another UID, another region's service, unchained keys).
	ErrPeerAnswer = call.NewClass("PeerAnswerError")
	// ErrRegionUnreachable: the home registry of a UID could not be
	// reached within peerCallTimeout.
	ErrRegionUnreachable = call.NewClass("RegionUnreachableError")
)

// Peering states, as this registry sees them.
const (
	PeerActive  = "active"  // both admins added each other: lookups are forwarded
	PeerPending = "pending" // our admin added it; it has not (yet) added us
	PeerOffered = "offered" // it added us; our admin has not added it
)

// Peer is what a registry keeps about another region's registry.
type Peer struct {
	Region string `json:"region"`
	URL    string `json:"url"`
	Label  string `json:"label,omitempty"`
	// PinnedCert is the peer's certificate as checked by our challenge
	// when our admin added it; its keys are only taken from then on if
	// they chain from it.
	PinnedCert string `json:"pinned_cert,omitempty"`
	Added      bool   `json:"added"`     // our admin asked for the peering
	Confirmed  bool   `json:"confirmed"` // the peer proved, by a signed record, that its admin did
	// LastRecord is the time of the newest signed record taken from the
	// peer: one no newer is a replay.
	LastRecord time.Time `json:"last_record"`
	Updated    time.Time `json:"updated"`
	State      string    `json:"state,omitempty"` // answered, not kept
}

func (p *Peer) state() string {
	switch {
	case p.Added && p.Confirmed:
		return PeerActive
	case p.Added:
		return PeerPending
	case p.Confirmed:
		return PeerOffered
	}
	return ""
}

// PeeringRecord is a registry's signed statement that its admin peers
// with (or unpeers from) another registry. It names both ends by region
// and URL and is dated, so it cannot be moved to another registry or
// replayed.
type PeeringRecord struct {
	Action      string `json:"action"` // peer or unpeer
	FromRegion  string `json:"from_region"`
	FromURL     string `json:"from_url"`
	ToRegion    string `json:"to_region"`
	ToURL       string `json:"to_url"`
	Time        string `json:"time"`
	Fingerprint string `json:"fingerprint"` // of the signing certificate
	Signature   string `json:"signature"`
}

// Message is the exact text the registry's certificate signs.
func (p *PeeringRecord) Message() []byte {
	return []byte(strings.Join([]string{"acquire-peering-v1", p.Action, p.FromRegion, p.FromURL, p.ToRegion, p.ToURL,
		p.Time, p.Fingerprint}, "\n"))
}

// PeerOfferArgs carries a signed peering record to its addressee.
type PeerOfferArgs struct {
	Record PeeringRecord `json:"record"`
}

// PeerOfferAnswer is the addressee's state of the peering after taking
// the record.
type PeerOfferAnswer struct {
	Region string `json:"region"`
	State  string `json:"state"`
}

func (r *Registry) peerKey(region string) string { return peersPrefix + region }

// peer reads a peer record; nil when there is none.
func (r *Registry) peer(ctx context.Context, region string) (*Peer, error) {
	var p Peer
	if _, err := r.b.GetJSON(ctx, r.peerKey(region), &p); errors.Is(err, store.ErrNotFound) {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	p.State = p.state()
	return &p, nil
}

// updatePeer changes a peer record under compare-and-swap; fn sees nil
// when there is none and may refuse.
func (r *Registry) updatePeer(ctx context.Context, region string, fn func(p *Peer) error) (*Peer, error) {
	var out Peer
	_, err := r.b.Update(ctx, r.peerKey(region), updateAttempts, func(old []byte, exists bool) ([]byte, error) {
		p := Peer{Region: region}
		if exists {
			if err := json.Unmarshal(old, &p); err != nil {
				return nil, err
			}
		}
		if err := fn(&p); err != nil {
			return nil, err
		}
		p.State, p.Updated = "", r.svc.Now().UTC()
		out = p
		return json.Marshal(&p)
	})
	if err != nil {
		return nil, err
	}
	out.State = out.state()
	return &out, nil
}

// Peers lists the registries this one knows as peers (in any state).
func (r *Registry) Peers(ctx context.Context) ([]*Peer, error) {
	items, err := r.b.ListAll(ctx, peersPrefix, MaxPeers*2)
	if err != nil {
		return nil, err
	}
	var out []*Peer
	for _, it := range items {
		p, err := r.peer(ctx, strings.TrimPrefix(it.Key, peersPrefix))
		if err != nil {
			return nil, err
		}
		if p != nil && p.State != "" {
			out = append(out, p)
		}
	}
	return out, nil
}

// PeerList answers list_peers.
type PeerList struct {
	Region string  `json:"region"`
	URL    string  `json:"url"`
	Peers  []*Peer `json:"peers"`
}

func (r *Registry) handleListPeers(ctx context.Context, _ *struct{}) (*PeerList, error) {
	peers, err := r.Peers(ctx)
	if err != nil {
		return nil, err
	}
	return &PeerList{Region: r.region, URL: r.svc.URL(), Peers: peers}, nil
}

// AddPeer is our admin's half of a peering with the registry at url
// (the host's admin API and the provider call it): it challenges the
// peer, pins its certificate, and sends it a signed peering record. The
// peering is active once the peer's admin has added us too; until then
// it is pending. Adding again is safe (and retries the record).
func (r *Registry) AddPeer(ctx context.Context, rawURL, label string) (*Peer, error) {
	u, err := CanonicalURL(rawURL)
	if err != nil {
		return nil, err
	}
	if len(label) > MaxLabelBytes || strings.ContainsAny(label, "\r\n\t") {
		return nil, call.Errorf(call.ErrBadArguments, "label: at most %d bytes on one line", MaxLabelBytes)
	}
	if u == r.svc.URL() {
		return nil, call.Errorf(ErrPeering, "a registry does not peer with itself")
	}
	ctx, cancel := context.WithTimeout(ctx, challengeTimeout)
	defer cancel()
	pk, err := r.fetchKeys(ctx, u)
	if err != nil {
		return nil, err
	}
	region, err := registryRegion(pk.UID)
	if err != nil {
		return nil, err
	}
	if region == r.region {
		return nil, call.Errorf(ErrPeering, "%s is in this registry's own region %s", u, region)
	}
	if err := r.urlFree(ctx, u, region); err != nil {
		return nil, err
	}
	old, err := r.peer(ctx, region)
	if err != nil {
		return nil, err
	}
	pinned := ""
	if old != nil && old.Added {
		if old.URL != u {
			return nil, call.Errorf(ErrPeering, "region %s is already peered at %s; remove that peering first", region, old.URL)
		}
		pinned = old.PinnedCert
	}
	keys, err := verifyPeerKeys(pk, pinned)
	if err != nil {
		return nil, err
	}
	if err := r.challengePeer(ctx, u, keys); err != nil {
		return nil, err
	}
	p, err := r.updatePeer(ctx, region, func(p *Peer) error {
		if p.Confirmed && p.URL != u {
			p.Confirmed = false // an offer from another URL for that region is not this peering
		}
		p.URL, p.Label, p.PinnedCert, p.Added = u, label, keys.Newest, true
		return nil
	})
	if err != nil {
		return nil, err
	}
	ans, err := r.sendRecord(ctx, p, keys, "peer")
	if err != nil {
		return nil, err
	}
	// The answer is the peer's, signed with the key we just challenged, to
	// our fresh encrypted request: if it says active, its admin added us.
	if ans.State == PeerActive && !p.Confirmed {
		return r.updatePeer(ctx, region, func(p *Peer) error {
			if !p.Added || p.URL != u {
				return call.Errorf(call.ErrInProgress, "the peering with %s changed meanwhile; add it again", u)
			}
			p.Confirmed = true
			return nil
		})
	}
	return p, nil
}

// urlFree refuses a URL our admin peered as another region: a registry
// replaced at its URL (new keys, new region) is not the peer it was.
func (r *Registry) urlFree(ctx context.Context, u, region string) error {
	peers, err := r.Peers(ctx)
	if err != nil {
		return err
	}
	for _, p := range peers {
		if p.Added && p.URL == u && p.Region != region {
			return call.Errorf(ErrPeering, "%s was peered as region %s and now answers as region %s; remove that peering first if the change is known",
				u, p.Region, region)
		}
	}
	if len(peers) >= MaxPeers {
		return call.Errorf(ErrPeering, "this registry has %d peers, the most it keeps", MaxPeers)
	}
	return nil
}

// RemovePeer ends our side of a peering: lookups into that region stop at
// once, here, and the peer is told by a signed record (if it can be
// reached; if not, it finds its lookups refused). Removing what is not
// there is not an error.
func (r *Registry) RemovePeer(ctx context.Context, region string) (*Peer, error) {
	if err := CheckRegion(region); err != nil {
		return nil, err
	}
	old, err := r.peer(ctx, region)
	if err != nil || old == nil {
		return nil, err
	}
	p, err := r.updatePeer(ctx, region, func(p *Peer) error {
		p.Added, p.Confirmed = false, false
		return nil // the record stays as a tombstone: LastRecord still refuses replays
	})
	if err != nil {
		return nil, err
	}
	r.peers.forget(region)
	if old.Added && old.PinnedCert != "" {
		ctx, cancel := context.WithTimeout(ctx, peerCallTimeout)
		defer cancel()
		if keys, err := r.peerKeys(ctx, old); err == nil {
			if _, err := r.sendRecord(ctx, old, keys, "unpeer"); err != nil {
				r.svc.Logger().Warn("peer not told of the removed peering", "region", region, "err", err)
			}
		}
	}
	return p, nil
}

// sendRecord signs a peering record for p and gives it to p.
func (r *Registry) sendRecord(ctx context.Context, p *Peer, keys *call.TrustedKeys, action string) (*PeerOfferAnswer, error) {
	rec := PeeringRecord{Action: action, FromRegion: r.region, FromURL: r.svc.URL(), ToRegion: p.Region, ToURL: p.URL,
		Time: r.svc.Now().UTC().Format(time.RFC3339Nano)}
	if err := r.signRecord(ctx, &rec); err != nil {
		return nil, err
	}
	var ans PeerOfferAnswer
	if err := r.client.CallWithKeys(ctx, p.URL, keys, "peer_offer", &PeerOfferArgs{Record: rec}, &ans); err != nil {
		return nil, peerCallError(p.URL, err)
	}
	if ans.Region != p.Region {
		return nil, call.Errorf(ErrPeerAnswer, "%s answered as region %q, not %s", p.URL, trunc(ans.Region), p.Region)
	}
	return &ans, nil
}

func (r *Registry) signRecord(ctx context.Context, rec *PeeringRecord) error {
	_, sig, err := r.svc.Sign(ctx, func(fp string) []byte {
		rec.Fingerprint = fp
		return rec.Message()
	})
	if err != nil {
		return err
	}
	rec.Signature = crypto.B64(sig)
	return nil
}

// handlePeerOffer takes a signed peering record from another registry.
func (r *Registry) handlePeerOffer(ctx context.Context, a *PeerOfferArgs) (*PeerOfferAnswer, error) {
	rec := &a.Record
	t, err := r.checkRecordHeader(rec)
	if err != nil {
		return nil, err
	}
	old, err := r.peer(ctx, rec.FromRegion)
	if err != nil {
		return nil, err
	}
	pinned := ""
	if old != nil {
		if !t.After(old.LastRecord) {
			return nil, call.Errorf(ErrPeeringReplay, "a peering record from region %s no newer than %s was already taken",
				rec.FromRegion, old.LastRecord.Format(time.RFC3339Nano))
		}
		if old.Added {
			if old.URL != rec.FromURL {
				return nil, call.Errorf(ErrPeering, "region %s is peered here at %s, not %s", rec.FromRegion, old.URL, trunc(rec.FromURL))
			}
			pinned = old.PinnedCert
		}
	}
	ctx, cancel := context.WithTimeout(ctx, challengeTimeout)
	defer cancel()
	keys, err := r.checkRecordSignature(ctx, rec, pinned)
	if err != nil {
		return nil, err
	}
	if err := r.challengePeer(ctx, rec.FromURL, keys); err != nil {
		return nil, err
	}
	p, err := r.updatePeer(ctx, rec.FromRegion, func(p *Peer) error {
		if !t.After(p.LastRecord) {
			return call.Errorf(ErrPeeringReplay, "a newer peering record from region %s was taken meanwhile", rec.FromRegion)
		}
		if p.Added && p.URL != rec.FromURL {
			return call.Errorf(ErrPeering, "region %s is peered here at %s", rec.FromRegion, p.URL)
		}
		p.LastRecord = t
		p.Confirmed = rec.Action == "peer"
		if !p.Added {
			p.URL = rec.FromURL
		} else if p.PinnedCert != "" {
			p.PinnedCert = keys.Newest // followed through endorsements only
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	r.peers.forget(rec.FromRegion)
	r.svc.Logger().Info("peering record taken", "region", rec.FromRegion, "url", rec.FromURL, "action", rec.Action, "state", p.State)
	return &PeerOfferAnswer{Region: r.region, State: p.State}, nil
}

// checkRecordHeader checks what a record says before anything is fetched.
func (r *Registry) checkRecordHeader(rec *PeeringRecord) (time.Time, error) {
	if rec.Action != "peer" && rec.Action != "unpeer" {
		return time.Time{}, call.Errorf(ErrPeering, "peering action %q is neither peer nor unpeer", trunc(rec.Action))
	}
	if rec.ToURL != r.svc.URL() || rec.ToRegion != r.region {
		return time.Time{}, call.Errorf(ErrPeering, "the peering record is for %s (region %s), not this registry", trunc(rec.ToURL), trunc(rec.ToRegion))
	}
	if err := CheckRegion(rec.FromRegion); err != nil || rec.FromRegion == r.region {
		return time.Time{}, call.Errorf(ErrPeering, "the peering record names no other region")
	}
	if u, err := CanonicalURL(rec.FromURL); err != nil || u != rec.FromURL || u == r.svc.URL() {
		return time.Time{}, call.Errorf(ErrPeering, "the peering record's registry URL %q is not canonical", trunc(rec.FromURL))
	}
	t, err := time.Parse(time.RFC3339Nano, rec.Time)
	if err != nil {
		return time.Time{}, call.Errorf(ErrPeering, "the peering record's time is not RFC 3339")
	}
	if age := r.svc.Now().Sub(t); age > PeeringRecordMaxAge || age < -PeeringRecordMaxAge {
		return time.Time{}, call.Errorf(ErrPeeringReplay, "the peering record is dated %s from now (limit %s)", age.Round(time.Second), PeeringRecordMaxAge)
	}
	return t, nil
}

// checkRecordSignature fetches the sender's keys at the URL it names,
// checks they are a registry of the region it names (and chain from our
// pin, if we hold one), and that the record is signed by one of its
// certificates.
func (r *Registry) checkRecordSignature(ctx context.Context, rec *PeeringRecord, pinned string) (*call.TrustedKeys, error) {
	pk, err := r.fetchKeys(ctx, rec.FromURL)
	if err != nil {
		return nil, err
	}
	if region, err := registryRegion(pk.UID); err != nil || region != rec.FromRegion {
		return nil, call.Errorf(ErrPeering, "%s is not the registry of region %s", rec.FromURL, rec.FromRegion)
	}
	keys, err := verifyPeerKeys(pk, pinned)
	if err != nil {
		return nil, err
	}
	sig, err := crypto.UnB64(rec.Signature)
	if err != nil {
		return nil, call.Errorf(ErrPeering, "the peering record's signature is not base64")
	}
	for _, c := range keys.Certs {
		if c.Fingerprint() == rec.Fingerprint && c.Verify(rec.Message(), sig) == nil {
			return keys, nil
		}
	}
	return nil, call.Errorf(ErrPeering, "the peering record is not signed by the registry at %s", rec.FromURL)
}

// fetchKeys reads the public keys a registry publishes at u.
func (r *Registry) fetchKeys(ctx context.Context, u string) (*call.PublicKeys, error) {
	var pk call.PublicKeys
	if err := r.client.CallClear(ctx, u, "public_keys", struct{}{}, &pk); err != nil {
		return nil, peerCallError(u, err)
	}
	if pk.Kind != Kind {
		return nil, call.Errorf(ErrPeering, "%s is a %q service, not a registry", u, trunc(pk.Kind))
	}
	if pk.URL != u {
		return nil, call.Errorf(ErrPeering, "%s publishes keys for %s", u, trunc(pk.URL))
	}
	return &pk, nil
}

// verifyPeerKeys checks a peer's keys against the certificate pinned for
// it (none: trusted now, to be pinned).
func verifyPeerKeys(pk *call.PublicKeys, pinned string) (*call.TrustedKeys, error) {
	keys, err := pk.Verify(pinned)
	if err != nil {
		if pinned != "" {
			return nil, call.Errorf(ErrPeerKeyChanged, "registry %s no longer publishes the certificate pinned when it was peered (%s), nor one endorsed from it; remove the peering and add it again if the change is known",
				pk.URL, pinned)
		}
		return nil, err
	}
	return keys, nil
}

// challengePeer proves that the registry at u holds the private keys it
// publishes: it must decrypt our request and sign its reply echoing a
// fresh nonce.
func (r *Registry) challengePeer(ctx context.Context, u string, keys *call.TrustedKeys) error {
	nonce := service.NewID()
	var ans service.ChallengeAnswer
	if err := r.client.CallWithKeys(ctx, u, keys, "registry_challenge", &service.ChallengeArgs{Nonce: nonce}, &ans); err != nil {
		return call.Errorf(ErrChallenge, "registry %s did not answer the challenge: %s", u, errText(err))
	}
	if ans.Nonce != nonce || ans.URL != u || ans.Kind != Kind {
		return call.Errorf(ErrChallenge, "registry %s answered the challenge wrongly", u)
	}
	return nil
}

// peerKeys fetches an active peer's keys, chained from the pin, and moves
// the pin forward along endorsements.
func (r *Registry) peerKeys(ctx context.Context, p *Peer) (*call.TrustedKeys, error) {
	pk, err := r.fetchKeys(ctx, p.URL)
	if err != nil {
		return nil, err
	}
	keys, err := verifyPeerKeys(pk, p.PinnedCert)
	if err != nil {
		return nil, err
	}
	if keys.Newest != p.PinnedCert {
		_, err := r.updatePeer(ctx, p.Region, func(q *Peer) error {
			if q.PinnedCert == p.PinnedCert {
				q.PinnedCert = keys.Newest
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return keys, nil
}

// peerCallError turns a failure to reach a registry into the typed
// unreachable error; a typed answer passes through.
func peerCallError(u string, err error) error {
	var ce *call.Error
	if errors.As(err, &ce) && ce.Class != call.ErrUnavailable.Class {
		return err
	}
	return call.Errorf(ErrRegionUnreachable, "registry %s cannot be reached: %s", u, errText(err))
}

func errText(err error) string {
	var ce *call.Error
	if errors.As(err, &ce) {
		return ce.Message
	}
	return trunc(err.Error())
}

// activePeers are the URLs of this registry's active peers.
func (r *Registry) activePeer(ctx context.Context, url string) (*Peer, error) {
	peers, err := r.Peers(ctx)
	if err != nil {
		return nil, err
	}
	i := slices.IndexFunc(peers, func(p *Peer) bool { return p.URL == url && p.State == PeerActive })
	if i < 0 {
		return nil, nil
	}
	return peers[i], nil
}
