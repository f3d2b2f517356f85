package host

import (
	"context"
	"net/http"
	"net/url"

	"github.com/openacquire/acquire/runtime/call"
	"github.com/openacquire/acquire/runtime/registry"
)

// peerArgs is the body of an admin request to peer a registry.
type peerArgs struct {
	URL   string `json:"url"`
	Label string `json:"label,omitempty"`
}

// PeerList is a registry's peers as the admin API answers them.
type PeerList struct {
	Region string           `json:"region"`
	URL    string           `json:"url"`
	Peers  []*registry.Peer `json:"peers"`
}

// withRegistry runs fn on the registry served under name: this host's
// fixed registry (name "registry") or a deployed one.
func (h *Host) withRegistry(name string, fn func(*registry.Registry) error) error {
	if name == registry.Kind && h.Registry != nil {
		return fn(h.Registry)
	}
	d := h.lookup(name)
	if d == nil {
		return call.Errorf(ErrNoDeployment, "no service named %q on this host", name)
	}
	if d.rec.Spec.Kind != registry.Kind {
		return call.Errorf(ErrSpec, "%s is a %s service: only registries peer", name, d.rec.Spec.Kind)
	}
	if d.inner == nil || !d.enter() {
		return call.Errorf(call.ErrUnavailable, "%s is not open: %v", name, d.err)
	}
	defer d.use.RUnlock()
	return fn(d.inner.Registry)
}

// Peers lists the peers of the registry named name.
func (h *Host) Peers(ctx context.Context, name string) (*PeerList, error) {
	var out *PeerList
	return out, h.withRegistry(name, func(r *registry.Registry) error {
		peers, err := r.Peers(ctx)
		out = &PeerList{Region: r.Region(), URL: h.registryURL(name), Peers: peers}
		return err
	})
}

// AddPeer is the admin's half of peering the registry named name with
// the registry at peerURL (see registry.Registry.AddPeer).
func (h *Host) AddPeer(ctx context.Context, name, peerURL, label string) (*registry.Peer, error) {
	var out *registry.Peer
	return out, h.withRegistry(name, func(r *registry.Registry) (err error) {
		out, err = r.AddPeer(ctx, peerURL, label)
		return err
	})
}

// RemovePeer ends the registry's peering with region.
func (h *Host) RemovePeer(ctx context.Context, name, region string) (*registry.Peer, error) {
	var out *registry.Peer
	return out, h.withRegistry(name, func(r *registry.Registry) (err error) {
		out, err = r.RemovePeer(ctx, region)
		return err
	})
}

func (h *Host) registryURL(name string) string {
	if name == registry.Kind && h.Registry != nil {
		return h.ServiceURL(registry.Kind)
	}
	return h.deployedURL(name)
}

func (h *Host) adminPeers(w http.ResponseWriter, r *http.Request) {
	out, err := h.Peers(r.Context(), r.PathValue("name"))
	if err != nil {
		writeAdminError(w, err)
		return
	}
	writeAdminJSON(w, http.StatusOK, out)
}

func (h *Host) adminAddPeer(w http.ResponseWriter, r *http.Request) {
	var a peerArgs
	if err := readAdminJSON(w, r, &a); err != nil {
		writeAdminError(w, err)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), DeployTimeout)
	defer cancel()
	p, err := h.AddPeer(ctx, r.PathValue("name"), a.URL, a.Label)
	if err != nil {
		writeAdminError(w, err)
		return
	}
	writeAdminJSON(w, http.StatusOK, p)
}

func (h *Host) adminRemovePeer(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), DeployTimeout)
	defer cancel()
	p, err := h.RemovePeer(ctx, r.PathValue("name"), r.PathValue("region"))
	if err != nil {
		writeAdminError(w, err)
		return
	}
	if p == nil {
		p = &registry.Peer{Region: r.PathValue("region")}
	}
	writeAdminJSON(w, http.StatusOK, p)
}

// Peers lists the peers of the registry deployed as name ("registry": the
// host's fixed one).
func (c *AdminClient) Peers(ctx context.Context, name string) (*PeerList, error) {
	var out PeerList
	return &out, c.do(ctx, http.MethodGet, "/services/"+url.PathEscape(name)+"/peers", nil, &out)
}

// AddPeer peers the registry name with the registry at peerURL.
func (c *AdminClient) AddPeer(ctx context.Context, name, peerURL, label string) (*registry.Peer, error) {
	var out registry.Peer
	return &out, c.do(ctx, http.MethodPost, "/services/"+url.PathEscape(name)+"/peers", peerArgs{URL: peerURL, Label: label}, &out)
}

// RemovePeer ends the registry name's peering with region.
func (c *AdminClient) RemovePeer(ctx context.Context, name, region string) (*registry.Peer, error) {
	var out registry.Peer
	return &out, c.do(ctx, http.MethodDelete, "/services/"+url.PathEscape(name)+"/peers/"+url.PathEscape(region), nil, &out)
}
