package service_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/openacquire/acquire/runtime/crypto"
	"github.com/openacquire/acquire/runtime/service"
	"github.com/openacquire/acquire/runtime/store"
)

func openTestService(t *testing.T, storeURL, secret string) (*service.Service, error) {
	t.Helper()
	b, err := store.Open(context.Background(), storeURL)
	if err != nil {
		t.Fatal(err)
	}
	return service.New(context.Background(), service.Config{Kind: testKind, URL: "http://127.0.0.1:1/x", Bucket: b,
		Secret: secret, Clock: newManualClock().Now})
}

// TestServiceKeysPerPurpose: each purpose has its own key, none of them a
// fast hash of the typed secret, the same in every instance on one store
// (so another instance verifies what one signed) and different on another
// store with the same secret (the stretching salt is per store).
func TestServiceKeysPerPurpose(t *testing.T) {
	storeURL := "mem://servicetest-keys-" + randomHex(8)
	a, err := openTestService(t, storeURL, testSecret)
	if err != nil {
		t.Fatal(err)
	}
	keys := a.Keys()
	data := []byte("acquire-storage-data-v1\nGET\nk\n1\n2")
	seen := map[string]string{}
	for _, purpose := range []string{"storage-data", "storage-par", "accounting-invoice-payment", "idempotency", "ledger-cheque"} {
		k := hex.EncodeToString(keys.Key(purpose))
		if other, dup := seen[k]; dup {
			t.Fatalf("purposes %q and %q share a key", purpose, other)
		}
		seen[k] = purpose
		if len(keys.Key(purpose)) != 32 || keys.MAC(purpose, data) == keys.MAC("other", data) {
			t.Fatalf("%s: a 32-byte key of its own, and a MAC no other purpose makes", purpose)
		}
	}
	old := sha256.Sum256([]byte("acquire request mac\x00" + testSecret))
	m := hmac.New(sha256.New, old[:])
	m.Write(data)
	if keys.MAC("storage-data", data) == hex.EncodeToString(m.Sum(nil)) || seen[hex.EncodeToString(old[:])] != "" {
		t.Fatal("a key is one SHA-256 of the service secret: a MAC a user holds is a fast offline oracle for it")
	}
	again, err := openTestService(t, storeURL, testSecret)
	if err != nil {
		t.Fatal(err)
	}
	if again.Keys().MAC("storage-data", data) != keys.MAC("storage-data", data) {
		t.Fatal("two instances on one store derive different keys")
	}
	elsewhere, err := openTestService(t, "mem://servicetest-keys-"+randomHex(8), testSecret)
	if err != nil {
		t.Fatal(err)
	}
	if elsewhere.Keys().MAC("storage-data", data) == keys.MAC("storage-data", data) {
		t.Fatal("two stores with one secret derive the same key: the salt is not per store")
	}
}

// TestWeakServiceSecretRefused: a secret Acquire's passphrase rule lets
// through (6 characters with upper, lower case and a digit) is refused at
// start with a typed error that does not show it.
func TestWeakServiceSecretRefused(t *testing.T) {
	for _, weak := range []string{"Abc123", "Service-Secret-1", "Aa1aaaaaaaaaaaaaaaaaaaaaaaaaa"} {
		_, err := openTestService(t, "mem://servicetest-weak-"+randomHex(8), weak)
		if !errors.Is(err, crypto.ErrWeakSecret) {
			t.Errorf("secret %q: err = %v, want ErrWeakSecret", weak, err)
		}
		if err != nil && strings.Contains(err.Error(), weak) {
			t.Errorf("the error shows the secret: %v", err)
		}
	}
}
