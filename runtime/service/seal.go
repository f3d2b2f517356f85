package service

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
)

// Seal encrypts a record for storage with the current generation's data
// key. The generation is written in front so any later generation can still
// open it after rotation.
func (k *Keyring) Seal(ctx context.Context, plaintext []byte) (string, error) {
	g, err := k.Current(ctx)
	if err != nil {
		return "", err
	}
	tok, err := g.data.Encrypt(plaintext)
	if err != nil {
		return "", err
	}
	return strconv.FormatInt(g.rec.Generation, 10) + ":" + tok, nil
}

// Unseal opens what Seal wrote, with whichever generation sealed it.
func (k *Keyring) Unseal(ctx context.Context, sealed string) ([]byte, error) {
	genText, tok, ok := strings.Cut(sealed, ":")
	if !ok {
		return nil, fmt.Errorf("service: sealed record has no generation")
	}
	gen, err := strconv.ParseInt(genText, 10, 64)
	if err != nil {
		return nil, fmt.Errorf("service: sealed record has a bad generation")
	}
	g, err := k.load(ctx, gen)
	if err != nil {
		return nil, err
	}
	return g.data.Decrypt(tok)
}

// MAC is a keyed hash for recognising a repeated request without keeping
// anything a password could be guessed from: request arguments may carry a
// password and a one-time code, and a plain SHA-256 of them at rest would
// be a fast offline oracle. The key is derived from the service secret, so
// it is the same in every instance and across key rotations.
func (k *Keyring) MAC(data []byte) string {
	k.macOnce.Do(func() {
		sum := sha256.Sum256([]byte("acquire request mac\x00" + k.secret))
		k.macKey = sum[:]
	})
	m := hmac.New(sha256.New, k.macKey)
	m.Write(data)
	return hex.EncodeToString(m.Sum(nil))
}
