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
	// close releases the platform's clients.
	close()
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

// step logs one host admin API call (logStep) on the local platform.
func (p *localPlatform) step(ctx context.Context, step, name string, kv ...any) func(error, ...any) {
	return logStep(ctx, step, append([]any{logPlatform, localPlatformName, logService, name, "host", p.c.URL}, kv...)...)
}

func (p *localPlatform) apply(ctx context.Context, name string, spec host.Spec) (*host.Status, error) {
	done := p.step(ctx, "host_deploy", name, logKind, spec.Kind, logStore, redactURL(spec.StoreURL))
	st, err := p.c.Deploy(ctx, name, spec)
	if err != nil {
		done(err)
		return nil, err
	}
	done(nil, logURL, st.URL)
	return st, nil
}

func (p *localPlatform) read(ctx context.Context, name string) (*host.Status, error) {
	done := p.step(ctx, "host_read", name)
	st, err := p.c.Get(ctx, name)
	if errors.Is(err, host.ErrNoDeployment) {
		done(nil, "found", false)
		return nil, errGone
	}
	done(err, "found", err == nil)
	return st, err
}

func (p *localPlatform) remove(ctx context.Context, name string, deleteData bool) error {
	done := p.step(ctx, "host_remove", name, "delete_data", deleteData)
	err := p.c.Delete(ctx, name, deleteData)
	if errors.Is(err, host.ErrNoDeployment) {
		done(nil, "found", false)
		return nil // already gone: destroy's goal is met
	}
	done(err)
	return err
}

func (p *localPlatform) trust(ctx context.Context, name, serviceURL string, trusted bool) (*host.Status, error) {
	done := p.step(ctx, "host_trust", name, "trusted_url", serviceURL, "trusted", trusted)
	var st *host.Status
	var err error
	if trusted {
		st, err = p.c.Trust(ctx, name, serviceURL)
	} else {
		st, err = p.c.Untrust(ctx, name, serviceURL)
	}
	done(err)
	return st, err
}

func (p *localPlatform) list(ctx context.Context) ([]*host.Status, error) {
	done := p.step(ctx, "host_list", "")
	all, err := p.c.List(ctx)
	done(err)
	return all, err
}

func (p *localPlatform) close() {}
