package service

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/openacquire/acquire/runtime/crypto"
	"github.com/openacquire/acquire/runtime/store"
)

const internalSecret = "Service-Test-Secret-42"

func openKeyring(t *testing.T, b *store.Bucket) *Keyring {
	t.Helper()
	k := newKeyring(b, internalSecret, func() time.Time { return time.Date(2031, 3, 5, 12, 0, 0, 0, time.UTC) })
	if err := k.openRoot(context.Background()); err != nil {
		t.Fatal(err)
	}
	return k
}

// TestKeyringPEMs: private halves are encrypted with a key derived from
// the stretched root, not with the typed secret (which a store reader
// could guess at PBKDF2 speed); generations stored before still unlock.
func TestKeyringPEMs(t *testing.T) {
	ctx := context.Background()
	b, err := store.Open(ctx, "mem://keyring-pems-"+t.Name())
	if err != nil {
		t.Fatal(err)
	}
	k := openKeyring(t, b)
	g, err := k.Current(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var rec KeyRecord
	if _, err := b.GetJSON(ctx, genKey(g.rec.Generation), &rec); err != nil {
		t.Fatal(err)
	}
	if _, err := crypto.ParseEncryptedPEM([]byte(rec.KeyPEM), internalSecret); !errors.Is(err, crypto.ErrKey) {
		t.Fatalf("the stored key opens with the typed secret: %v", err)
	}
	if _, err := openKeyring(t, b).load(ctx, g.rec.Generation); err != nil {
		t.Fatalf("another instance cannot unlock the generation: %v", err)
	}

	// A generation written with the secret itself, as before the root.
	old := g.rec.Generation - 1
	key, cert := g.key, g.cert
	legacy := rec
	legacy.Generation = old
	for _, p := range []struct {
		k   *crypto.PrivateKey
		dst *string
	}{{key, &legacy.KeyPEM}, {cert, &legacy.CertPEM}} {
		text, err := p.k.MarshalEncryptedPEM(internalSecret)
		if err != nil {
			t.Fatal(err)
		}
		*p.dst = string(text)
	}
	if _, err := b.PutJSONIfAbsent(ctx, genKey(old), &legacy); err != nil {
		t.Fatal(err)
	}
	if _, err := openKeyring(t, b).load(ctx, old); err != nil {
		t.Fatalf("a generation encrypted with the secret no longer unlocks: %v", err)
	}
}
