package service

import (
	"context"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/openacquire/acquire/runtime/crypto"
	"github.com/openacquire/acquire/runtime/store"
)

// The root of every keyed hash a service makes (Key, MAC) is its secret
// stretched once at start with argon2id under a salt kept in its store:
// a chunk URL or an invoice payment id carries a MAC a user can test
// guesses of the secret against, so each guess must cost what a password
// guess does, not one SHA-256. Per-purpose keys come from the root by
// HKDF, so a MAC made for one use never verifies in another.
const (
	rootKey     = "service/root.json"
	maxPurpose  = 64
	keyBytes    = 32
	hkdfInfoTag = "acquire-service-key-v1\x00"
)

// rootRecord is what a service keeps to re-derive its root: the argon2id
// salt and parameters, never anything derived from the secret.
type rootRecord struct {
	KDF    string                `json:"kdf"`
	Salt   string                `json:"salt"`
	Params crypto.PasswordParams `json:"params"`
}

// openRoot reads (or on first use writes) the service's root record and
// stretches the secret with it. Racing instances converge on the first
// record written.
func (k *Keyring) openRoot(ctx context.Context) error {
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return err
	}
	rec := rootRecord{KDF: "argon2id", Salt: crypto.B64(salt), Params: crypto.DefaultPasswordParams}
	if _, err := k.bucket.PutJSONIfAbsent(ctx, rootKey, &rec); errors.Is(err, store.ErrPrecondition) {
		if _, err := k.bucket.GetJSON(ctx, rootKey, &rec); err != nil {
			return err
		}
	} else if err != nil {
		return err
	}
	if rec.KDF != "argon2id" {
		return fmt.Errorf("service: %s names key derivation %q, not argon2id", rootKey, rec.KDF)
	}
	stored, err := crypto.UnB64(rec.Salt)
	if err != nil {
		return fmt.Errorf("service: %s: %w", rootKey, err)
	}
	root, err := crypto.StretchSecret(k.secret, stored, rec.Params)
	if err != nil {
		return fmt.Errorf("service: %s: %w", rootKey, err)
	}
	k.root = root
	return nil
}

// Key is the service's key for one purpose (a short label such as
// "storage-data" or "ledger-cheque"): the same in every instance and
// across key rotations, and unrelated to the key of any other purpose.
func (k *Keyring) Key(purpose string) []byte {
	if purpose == "" || len(purpose) > maxPurpose {
		panic("service: a key purpose is 1 to 64 bytes") // a programming error, never input
	}
	if len(k.root) != keyBytes {
		panic("service: the keyring's root is not open")
	}
	key, err := hkdf.Key(sha256.New, k.root, nil, hkdfInfoTag+purpose, keyBytes)
	if err != nil {
		panic("service: HKDF: " + err.Error()) // only for lengths over 255 hashes
	}
	return key
}

// MAC is HMAC-SHA256 of data under the purpose's key, in hex: for
// recognising a repeated request without keeping anything a password
// could be guessed from, and for values only this service may make
// (chunk URLs, payment ids).
func (k *Keyring) MAC(purpose string, data []byte) string {
	m := hmac.New(sha256.New, k.Key(purpose))
	m.Write(data)
	return hex.EncodeToString(m.Sum(nil))
}
