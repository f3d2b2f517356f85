package service_test

import (
	"context"
	"testing"
	"time"

	"github.com/openacquire/acquire/runtime/auth"
)

// verifierURL is the service the authorisations in these tests are for.
const verifierURL = "https://verifier.example.test/accounting"

// A service acts in its own name with an authorisation signed by its
// certificate, which another service checks against the keys published at
// the first service's URL.
func TestServiceAuthorisation(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	v := &auth.ServiceVerifier{Certs: auth.ServiceCertsFrom(f.client), Clock: f.clock.Now, Audience: verifierURL}
	a, err := f.svc.Authorise(ctx, verifierURL, "cash cheque c1")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := v.Verify(ctx, a, "cash cheque c1"); err != nil || got != f.url {
		t.Fatalf("verify: %q, %v", got, err)
	}

	t.Run("refusals", func(t *testing.T) {
		_, err := v.Verify(ctx, a, "cash cheque c2")
		wantClass(t, err, auth.ErrAuthorisation)
		forged := *a
		forged.Resource = "cash cheque c2"
		_, err = v.Verify(ctx, &forged, "cash cheque c2")
		wantClass(t, err, auth.ErrAuthorisation)
		other := *a
		other.ServiceURL = f.url + "-elsewhere"
		_, err = v.Verify(ctx, &other, "cash cheque c1")
		if err == nil {
			t.Fatal("an authorisation moved to another URL verified")
		}
		strict := &auth.ServiceVerifier{Certs: v.Certs, Clock: f.clock.Now, Audience: verifierURL, Services: map[string]bool{"http://other": true}}
		_, err = strict.Verify(ctx, a, "cash cheque c1")
		wantClass(t, err, auth.ErrServiceNotTrusted)
		_, err = v.Verify(ctx, nil, "cash cheque c1")
		wantClass(t, err, auth.ErrAuthorisation)
		// Made for one service, refused by any other.
		elsewhere := &auth.ServiceVerifier{Certs: v.Certs, Clock: f.clock.Now, Audience: verifierURL + "-elsewhere"}
		_, err = elsewhere.Verify(ctx, a, "cash cheque c1")
		wantClass(t, err, auth.ErrAudience)
	})

	t.Run("expiry", func(t *testing.T) {
		old, err := f.svc.Authorise(ctx, verifierURL, "late")
		if err != nil {
			t.Fatal(err)
		}
		f.clock.Advance(auth.DefaultMaxAge + time.Second)
		_, err = v.Verify(ctx, old, "late")
		wantClass(t, err, auth.ErrExpired)
	})

	// After a rotation the service signs with a new certificate; a
	// verifier holding the old keys fetches again and follows the
	// endorsement from its pin.
	t.Run("after rotation", func(t *testing.T) {
		f.clock.Advance(8 * 24 * time.Hour)
		if err := f.client.Call(ctx, f.url, "echo", &echoArgs{Text: "rotate"}, nil); err != nil {
			t.Fatal(err)
		}
		b, err := f.svc.Authorise(ctx, verifierURL, "after")
		if err != nil {
			t.Fatal(err)
		}
		if b.Fingerprint == a.Fingerprint {
			t.Fatal("no new certificate after a rotation")
		}
		if _, err := v.Verify(ctx, b, "after"); err != nil {
			t.Fatalf("a verifier with cached pre-rotation keys: %v", err)
		}
	})
}
