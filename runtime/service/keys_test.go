package service_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/openacquire/acquire/runtime/call"
	"github.com/openacquire/acquire/runtime/crypto"
	"github.com/openacquire/acquire/runtime/service"
	"github.com/openacquire/acquire/runtime/store"
)

const rotation = 8 * 24 * time.Hour // more than service.KeyPeriod

func (f *fixture) publicKeys(t *testing.T) *call.PublicKeys {
	t.Helper()
	var pk call.PublicKeys
	if err := f.client.CallClear(context.Background(), f.url, "public_keys", struct{}{}, &pk); err != nil {
		t.Fatal(err)
	}
	return &pk
}

func certFingerprints(pk *call.PublicKeys) []string {
	var out []string
	for _, g := range pk.Generations {
		out = append(out, g.CertFingerprint)
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func TestKeyRotation(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()

	// A client that pins the first generation and keeps its keys cached.
	pins := &call.MemoryPins{}
	early := call.NewClient(pins)
	early.Clock = f.clock.Now
	var out echoResult
	if err := early.Call(ctx, f.url, "echo", &echoArgs{Text: "week 0"}, &out); err != nil {
		t.Fatal(err)
	}
	oldFP, ok := pins.Pinned(f.url)
	if !ok {
		t.Fatal("the client pinned nothing")
	}
	pk0 := f.publicKeys(t)
	if len(pk0.Generations) != 1 || pk0.Generations[0].CertFingerprint != oldFP {
		t.Fatalf("before rotation: %+v, pinned %s", certFingerprints(pk0), oldFP)
	}
	gen0 := pk0.Generations[0]
	sealed, err := f.svc.Keys().Seal(ctx, []byte("sealed in week 0"))
	if err != nil {
		t.Fatal(err)
	}

	// A week later the next call, even from a client with cached keys,
	// brings a new generation into being.
	f.clock.Advance(rotation)
	if got := storedKeys(t, f.bucket, "service/keys/"); len(got) != 1 {
		t.Fatalf("generations before any call: %v", got)
	}
	if err := early.Call(ctx, f.url, "echo", &echoArgs{Text: "week 1"}, &out); err != nil {
		t.Fatalf("a client with the old generation's keys stopped working: %v", err)
	}
	if got := storedKeys(t, f.bucket, "service/keys/"); len(got) != 2 {
		t.Fatalf("generations after the first call of the new week: %v", got)
	}

	// Both generations are published, oldest first, the new one endorsed.
	pk1 := f.publicKeys(t)
	if len(pk1.Generations) != 2 || pk1.Generations[0] != gen0 {
		t.Fatalf("after rotation published %v", certFingerprints(pk1))
	}
	gen1 := pk1.Generations[1]
	if gen1.Generation <= gen0.Generation || gen1.CertFingerprint == oldFP || gen1.KeyFingerprint == gen0.KeyFingerprint || gen1.Endorsement == "" {
		t.Fatalf("new generation %+v", gen1)
	}
	trusted, err := pk1.Verify(oldFP)
	if err != nil {
		t.Fatalf("the new generation does not verify from the old certificate: %v", err)
	}
	if trusted.Newest != gen1.CertFingerprint || trusted.Key.Fingerprint() != gen1.KeyFingerprint || len(trusted.Certs) != 2 ||
		trusted.Certs[0].Fingerprint() != gen1.CertFingerprint || trusted.Certs[1].Fingerprint() != oldFP {
		t.Fatalf("Verify(old) trusted newest %s, key %s, %d certs", trusted.Newest, trusted.Key.Fingerprint(), len(trusted.Certs))
	}
	// The endorsement is the old certificate's signature over the new keys.
	oldCert, err := crypto.ParsePublicPEM([]byte(gen0.CertPublic))
	if err != nil {
		t.Fatal(err)
	}
	sig, err := crypto.UnB64(gen1.Endorsement)
	if err != nil {
		t.Fatal(err)
	}
	if err := oldCert.Verify(call.EndorsementMessage(gen1.Generation, gen1.KeyPublic, gen1.CertPublic), sig); err != nil {
		t.Fatalf("endorsement does not verify with the old certificate: %v", err)
	}

	t.Run("tampered endorsement is refused", func(t *testing.T) {
		for name, change := range map[string]func(g *call.PublicGeneration){
			"flipped byte": func(g *call.PublicGeneration) { g.Endorsement = flipByte(t, g.Endorsement, 10) },
			"missing":      func(g *call.PublicGeneration) { g.Endorsement = "" },
			"not base64":   func(g *call.PublicGeneration) { g.Endorsement = "!!!" },
			"other generation number": func(g *call.PublicGeneration) {
				g.Generation++
			},
		} {
			bad := *pk1
			bad.Generations = append([]call.PublicGeneration(nil), pk1.Generations...)
			change(&bad.Generations[1])
			if _, err := bad.Verify(oldFP); !isClass(err, call.ErrSignature) {
				t.Errorf("%s: Verify = %v, want SignatureError", name, err)
			}
		}
		// A generation made by someone else, however self-consistent, is
		// not endorsed by the pinned one.
		k, c := mustKey(t), mustKey(t)
		forged := call.PublicGeneration{Generation: gen1.Generation, KeyPublic: string(k.Public().PEM()),
			CertPublic: string(c.Public().PEM()), KeyFingerprint: k.Fingerprint(), CertFingerprint: c.Fingerprint()}
		selfSig, _ := c.Sign(call.EndorsementMessage(forged.Generation, forged.KeyPublic, forged.CertPublic))
		forged.Endorsement = crypto.B64(selfSig)
		bad := call.PublicKeys{Kind: pk1.Kind, URL: pk1.URL, Generations: []call.PublicGeneration{gen0, forged}}
		if _, err := bad.Verify(oldFP); !isClass(err, call.ErrSignature) {
			t.Errorf("forged generation: Verify = %v, want SignatureError", err)
		}
	})

	t.Run("replies signed by either generation verify with the published set", func(t *testing.T) {
		reply := testReplyKey(t)
		gen0Key, err := crypto.ParsePublicPEM([]byte(gen0.KeyPublic))
		if err != nil {
			t.Fatal(err)
		}
		// A request to the old generation, asking the old certificate to sign.
		body, err := call.PackRequest(gen0Key, reply.Public(), oldFP, "echo", &echoArgs{Text: "old"}, "", f.clock.Now())
		if err != nil {
			t.Fatal(err)
		}
		status, rb := f.post(t, body)
		wantStatus(t, status, http.StatusOK)
		if _, err := call.UnpackReply(rb, call.ReplyCheck{ReplyKey: reply, Certs: trusted.Certs}); err != nil {
			t.Fatalf("old-generation reply against the published set: %v", err)
		}
		// It really was the old certificate that signed.
		if _, err := call.UnpackReply(rb, call.ReplyCheck{ReplyKey: reply, Certs: trusted.Certs[:1]}); !isClass(err, call.ErrSignature) {
			t.Fatalf("old-generation reply checked against the new certificate alone: %v", err)
		}
		// And a request to the new generation is signed by the new certificate.
		body, err = call.PackRequest(trusted.Key, reply.Public(), trusted.Newest, "echo", &echoArgs{Text: "new"}, "", f.clock.Now())
		if err != nil {
			t.Fatal(err)
		}
		_, rb = f.post(t, body)
		if _, err := call.UnpackReply(rb, call.ReplyCheck{ReplyKey: reply, Certs: trusted.Certs[:1]}); err != nil {
			t.Fatalf("new-generation reply: %v", err)
		}
	})

	t.Run("a client pinned to the old certificate follows the chain", func(t *testing.T) {
		restarted := call.NewClient(pins) // a new process, same wallet
		restarted.Clock = f.clock.Now
		if err := restarted.Call(ctx, f.url, "echo", &echoArgs{Text: "after restart"}, &out); err != nil {
			t.Fatal(err)
		}
		if fp, _ := pins.Pinned(f.url); fp != gen1.CertFingerprint {
			t.Fatalf("pin is %s after following the chain, want %s", fp, gen1.CertFingerprint)
		}
	})

	t.Run("sealed data survives rotation", func(t *testing.T) {
		plain, err := f.svc.Keys().Unseal(ctx, sealed)
		if err != nil || string(plain) != "sealed in week 0" {
			t.Fatalf("unseal after rotation: %q, %v", plain, err)
		}
		newer, err := f.svc.Keys().Seal(ctx, []byte("sealed in week 1"))
		if err != nil {
			t.Fatal(err)
		}
		if strings.SplitN(newer, ":", 2)[0] == strings.SplitN(sealed, ":", 2)[0] {
			t.Fatalf("sealed after rotation with the old generation: %s vs %s", newer[:20], sealed[:20])
		}
	})

	// More rotations: once more than KeyRetentionWeeks generations exist the
	// oldest is no longer published, and each step stays endorsed.
	for total := 3; total <= service.KeyRetentionWeeks+1; total++ {
		f.clock.Advance(rotation)
		if err := early.Call(ctx, f.url, "echo", &echoArgs{Text: "later"}, nil); err != nil {
			t.Fatal(err)
		}
		if got := storedKeys(t, f.bucket, "service/keys/"); len(got) != total {
			t.Fatalf("%d generations stored, want %d", len(got), total)
		}
		pk := f.publicKeys(t)
		fps := certFingerprints(pk)
		if len(fps) != min(total, service.KeyRetentionWeeks) {
			t.Fatalf("%d generations stored, %d published, want %d", total, len(fps), min(total, service.KeyRetentionWeeks))
		}
		if published := contains(fps, oldFP); published != (total <= service.KeyRetentionWeeks) {
			t.Fatalf("with %d generations, the first is published: %v", total, published)
		}
		if _, err := pk.Verify(gen1.CertFingerprint); err != nil {
			t.Fatalf("with %d generations, the chain from generation 2 breaks: %v", total, err)
		}
	}
	pk := f.publicKeys(t)
	if _, err := pk.Verify(oldFP); !isClass(err, call.ErrSignature) {
		t.Fatalf("Verify from a certificate no longer published = %v, want SignatureError", err)
	}
	// Old data stays readable even when its generation is no longer published.
	if plain, err := f.svc.Keys().Unseal(ctx, sealed); err != nil || string(plain) != "sealed in week 0" {
		t.Fatalf("unseal with an unpublished generation: %q, %v", plain, err)
	}
}

func TestRestartLoadsSameKeys(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	pk1, err := f.svc.PublicKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := f.svc.Keys().Seal(ctx, []byte("kept across restarts"))
	if err != nil {
		t.Fatal(err)
	}
	keys := f.keys(t)

	// A second instance on the same store with the same secret.
	b2, err := store.Open(ctx, f.storeURL)
	if err != nil {
		t.Fatal(err)
	}
	defer b2.Close()
	svc2, err := service.New(ctx, f.config(b2, testSecret))
	if err != nil {
		t.Fatal(err)
	}
	pk2, err := svc2.PublicKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if a, b := certFingerprints(pk1), certFingerprints(pk2); len(a) != 1 || strings.Join(a, ",") != strings.Join(b, ",") ||
		pk1.Generations[0].KeyFingerprint != pk2.Generations[0].KeyFingerprint {
		t.Fatalf("restarted service publishes %v, first published %v", b, a)
	}
	if got := storedKeys(t, f.bucket, "service/keys/"); len(got) != 1 {
		t.Fatalf("restart created keys: %v", got)
	}
	plain, err := svc2.Keys().Unseal(ctx, sealed)
	if err != nil || string(plain) != "kept across restarts" {
		t.Fatalf("restarted service unseals %q, %v", plain, err)
	}
	// It answers an envelope packed for the first instance.
	body, chk := f.pack(t, keys, "public_keys", struct{}{}, f.clock.Now())
	reply, class := svc2.Serve(ctx, body)
	if class != "" {
		t.Fatalf("restarted service answered with %s", class)
	}
	raw, err := call.UnpackReply(reply, chk)
	if err != nil {
		t.Fatal(err)
	}
	var pk3 call.PublicKeys
	if err := json.Unmarshal(raw, &pk3); err != nil || pk3.Generations[0].CertFingerprint != keys.Newest {
		t.Fatalf("reply %s (%v)", raw, err)
	}

	// With a wrong secret it refuses to start, and does not say the secret.
	const wrong = "Wrong-Secret-For-Test-9"
	_, err = service.New(ctx, f.config(b2, wrong))
	if err == nil {
		t.Fatal("service started with a wrong secret")
	}
	for _, s := range []string{wrong, testSecret} {
		if strings.Contains(err.Error(), s) {
			t.Fatalf("error %q contains a secret", err)
		}
	}
	// Nor is the secret or a private key stored in clear.
	for _, k := range storedKeys(t, f.bucket, "service/") {
		data, _, err := f.bucket.Get(ctx, k)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(data, []byte(testSecret)) || bytes.Contains(data, []byte("BEGIN PRIVATE KEY")) ||
			bytes.Contains(data, []byte("BEGIN RSA PRIVATE KEY")) {
			t.Fatalf("%s holds a secret in clear", k)
		}
	}
}

func isClass(err error, class *call.Error) bool {
	var ce *call.Error
	return errors.As(err, &ce) && ce.Class == class.Class
}

func mustKey(t *testing.T) *crypto.PrivateKey {
	t.Helper()
	k, err := crypto.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}
