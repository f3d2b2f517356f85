package service

import (
	"context"
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
