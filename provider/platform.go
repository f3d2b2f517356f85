package provider

import (
	"context"
	"errors"
	"fmt"

	"github.com/openacquire/acquire/runtime/host"
)

// errGone says a deployment no longer exists (deleted out of band): Read
// drops it from state and the next plan creates it again.
var errGone = errors.New("deployment not found")

// platform is where acquire_service runs a service: the local host's admin
// API, or a cloud's deployer. Specs and answers use the host admin API's
// types, which say everything both kinds of platform need.
type platform interface {
	// apply creates or updates the deployment name.
	apply(ctx context.Context, name string, spec host.Spec) (*host.Status, error)
	// read answers the deployment, or errGone.
	read(ctx context.Context, name string) (*host.Status, error)
	// remove deletes it; its data stays unless deleteData.
	remove(ctx context.Context, name string, deleteData bool) error
	// trust makes the deployment trust (or stop trusting) a service URL.
	trust(ctx context.Context, name, serviceURL string, trusted bool) (*host.Status, error)
	// list answers every deployment, for finding one by URL.
	list(ctx context.Context) ([]*host.Status, error)
}

// localPlatform is a running `acquire host`, through its admin API.
type localPlatform struct {
	c *host.AdminClient
}

func newLocalPlatform(m *Meta, hostURL string) (*localPlatform, error) {
	if hostURL == "" && m != nil {
		hostURL = m.HostURL
	}
	if hostURL == "" {
		return nil, fmt.Errorf("the local platform needs a host: set host_url in the provider block (or %s)", EnvHostURL)
	}
	token := ""
	if m != nil {
		token = m.HostToken
	}
	if token == "" {
		return nil, fmt.Errorf("the local platform needs the host's admin token: set host_token in the provider block (or %s); "+
			"`acquire host` keeps it in admin.token in its store folder", EnvHostToken)
	}
	c := &host.AdminClient{URL: hostURL, Token: token}
	return &localPlatform{c: c}, nil
}

func (p *localPlatform) apply(ctx context.Context, name string, spec host.Spec) (*host.Status, error) {
	return p.c.Deploy(ctx, name, spec)
}

func (p *localPlatform) read(ctx context.Context, name string) (*host.Status, error) {
	st, err := p.c.Get(ctx, name)
	if errors.Is(err, host.ErrNoDeployment) {
		return nil, errGone
	}
	return st, err
}

func (p *localPlatform) remove(ctx context.Context, name string, deleteData bool) error {
	err := p.c.Delete(ctx, name, deleteData)
	if errors.Is(err, host.ErrNoDeployment) {
		return nil // already gone: destroy's goal is met
	}
	return err
}

func (p *localPlatform) trust(ctx context.Context, name, serviceURL string, trusted bool) (*host.Status, error) {
	if trusted {
		return p.c.Trust(ctx, name, serviceURL)
	}
	return p.c.Untrust(ctx, name, serviceURL)
}

func (p *localPlatform) list(ctx context.Context) ([]*host.Status, error) { return p.c.List(ctx) }
