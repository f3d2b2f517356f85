package auth

import (
	"context"
	"strings"
	"time"

	"github.com/openacquire/acquire/runtime/call"
	"github.com/openacquire/acquire/runtime/crypto"
)

// ErrServiceNotTrusted is the answer when a service acts where it is not
// trusted (not on the verifier's allow-list).
var ErrServiceNotTrusted = call.NewClass("ServiceNotTrustedError")

// ServiceAuthorisation is what a service attaches when it acts in its own
// name on another service (cashing a cheque, invoicing a user): "the
// service at URL, with its certificate of fingerprint F, authorises
// resource R at time T". It is verified against the certificates the
// service publishes at its URL (pinned and followed through endorsements
// by call.Client), so no registry round trip is needed per call.
type ServiceAuthorisation struct {
	ServiceURL  string `json:"service_url"`
	Fingerprint string `json:"fingerprint"`
	Audience    string `json:"audience"` // URL of the service it is for
	Resource    string `json:"resource"`
	Time        string `json:"time"`
	Signature   string `json:"signature"`
}

// Message is the exact text the service certificate signs. Its first line
// differs from a user authorisation's, so neither can pass for the other;
// v2 added the audience.
func (a *ServiceAuthorisation) Message() []byte {
	return []byte(strings.Join([]string{"acquire-service-authorisation-v2", a.ServiceURL, a.Fingerprint, a.Audience,
		a.Resource, a.Time}, "\n"))
}

// SignService makes a service authorisation for resource at the service
// audience with a service certificate.
func SignService(cert *crypto.PrivateKey, serviceURL, audience, resource string, now time.Time) (*ServiceAuthorisation, error) {
	a := &ServiceAuthorisation{ServiceURL: serviceURL, Fingerprint: cert.Fingerprint(), Audience: audience,
		Resource: resource, Time: now.UTC().Format(time.RFC3339Nano)}
	sig, err := cert.Sign(a.Message())
	if err != nil {
		return nil, err
	}
	a.Signature = crypto.B64(sig)
	return a, nil
}

// ServiceCerts returns the certificates a service URL may sign with, as
// the caller trusts them (call.Client.ServiceKeys gives them pinned).
// refresh asks for a fresh fetch (the signer may have rotated since).
type ServiceCerts func(ctx context.Context, serviceURL string, refresh bool) ([]*crypto.PublicKey, error)

// ServiceVerifier checks service authorisations.
type ServiceVerifier struct {
	Certs ServiceCerts
	// Services, when set, lists the only service URLs allowed to act
	// (with those Also trusts).
	Services map[string]bool
	// Also, when set, is asked about a service not in Services: the
	// service's trust record on its store (service.TrustedCache), which
	// can change while the service runs. An error refuses the call.
	Also     func(ctx context.Context, serviceURL string) (bool, error)
	Audience string // this service's URL: authorisations for any other are refused
	Clock    func() time.Time
	MaxAge   time.Duration // default DefaultMaxAge
}

// ServiceCertsFrom adapts a call client: certificates come from the
// service's published keys, pinned on first use and then followed only
// through endorsements.
func ServiceCertsFrom(c *call.Client) ServiceCerts {
	return func(ctx context.Context, url string, refresh bool) ([]*crypto.PublicKey, error) {
		if refresh {
			c.Forget(url)
		}
		k, err := c.ServiceKeys(ctx, url)
		if err != nil {
			return nil, err
		}
		return k.Certs, nil
	}
}

// Verify checks that a is a fresh authorisation for resource by a trusted
// service and returns that service's URL. It changes nothing.
func (v *ServiceVerifier) Verify(ctx context.Context, a *ServiceAuthorisation, resource string) (string, error) {
	if a == nil {
		return "", call.Errorf(ErrAuthorisation, "no service authorisation given")
	}
	if err := v.trusted(ctx, a.ServiceURL); err != nil {
		return "", err
	}
	if err := checkAudience(a.Audience, v.Audience); err != nil {
		return "", err
	}
	if err := checkFresh(a.Resource, a.Time, resource, v.now(), v.maxAge()); err != nil {
		return "", err
	}
	cert, err := v.cert(ctx, a)
	if err != nil {
		return "", err
	}
	sig, err := crypto.UnB64(a.Signature)
	if err != nil || cert.Verify(a.Message(), sig) != nil {
		return "", call.Errorf(ErrAuthorisation, "service authorisation signature does not verify")
	}
	return a.ServiceURL, nil
}

// trusted refuses a service on neither list, naming it.
func (v *ServiceVerifier) trusted(ctx context.Context, serviceURL string) error {
	if v.Services == nil || v.Services[serviceURL] {
		return nil
	}
	if v.Also != nil {
		ok, err := v.Also(ctx, serviceURL)
		if err != nil {
			// The store's error stays here: callers are told only to retry.
			return call.Errorf(call.ErrUnavailable, "this service's trust record cannot be read now; retry")
		}
		if ok {
			return nil
		}
	}
	return call.Errorf(ErrServiceNotTrusted, "service %q is not trusted here", trunc(serviceURL))
}

// cert finds the certificate named by the authorisation, fetching the
// service's keys again once if it is not among the cached ones.
func (v *ServiceVerifier) cert(ctx context.Context, a *ServiceAuthorisation) (*crypto.PublicKey, error) {
	for _, refresh := range []bool{false, true} {
		certs, err := v.Certs(ctx, a.ServiceURL, refresh)
		if err != nil {
			return nil, err
		}
		for _, c := range certs {
			if c.Fingerprint() == a.Fingerprint {
				return c, nil
			}
		}
	}
	return nil, call.Errorf(ErrAuthorisation, "service %q publishes no certificate %q", trunc(a.ServiceURL), trunc(a.Fingerprint))
}

func (v *ServiceVerifier) now() time.Time {
	if v.Clock != nil {
		return v.Clock()
	}
	return time.Now()
}

func (v *ServiceVerifier) maxAge() time.Duration {
	if v.MaxAge > 0 {
		return v.MaxAge
	}
	return DefaultMaxAge
}

// Credentials are what a call that acts for someone carries: a user's
// authorisation or a service's, exactly one of them.
type Credentials struct {
	Authorisation *Authorisation        `json:"authorisation,omitempty"`
	Service       *ServiceAuthorisation `json:"service_authorisation,omitempty"`
}

// Signer makes credentials for a resource at the service audience (its
// URL): a user's session, or a service acting in its own name.
type Signer interface {
	Credentials(ctx context.Context, audience, resource string, now time.Time) (Credentials, error)
}
