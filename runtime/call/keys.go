package call

import (
	"fmt"
	"sort"
	"strconv"

	"github.com/openacquire/acquire/runtime/crypto"
)

// PublicGeneration is one published generation of a service's keys.
type PublicGeneration struct {
	Generation      int64  `json:"generation"`
	KeyPublic       string `json:"key_public"`
	CertPublic      string `json:"cert_public"`
	KeyFingerprint  string `json:"key_fingerprint"`
	CertFingerprint string `json:"cert_fingerprint"`
	Endorsement     string `json:"endorsement,omitempty"`
}

// PublicKeys is the answer of every service's public_keys function.
type PublicKeys struct {
	Kind        string             `json:"kind"`
	URL         string             `json:"url"`
	UID         string             `json:"uid,omitempty"`
	Generations []PublicGeneration `json:"generations"`
}

// EndorsementMessage is the text a generation's certificate signs to vouch
// for the next generation.
func EndorsementMessage(gen int64, keyPublic, certPublic string) []byte {
	return []byte("acquire-key-generation-v1\n" + strconv.FormatInt(gen, 10) + "\n" + keyPublic + certPublic)
}

// TrustedKeys is what a client may use after checking a PublicKeys answer.
type TrustedKeys struct {
	Key    *crypto.PublicKey   // newest encryption key: requests go to it
	Certs  []*crypto.PublicKey // certificates that may sign replies, newest first
	Newest string              // newest certificate fingerprint, to pin next time
	Kind   string
	UID    string
}

// Verify checks a PublicKeys answer against a pinned certificate
// fingerprint: the pinned generation must be present, and each later one
// must carry an endorsement by the one before. With pinned == "" the newest
// generation is trusted on first use (the caller decides whether to allow
// that).
func (pk *PublicKeys) Verify(pinned string) (*TrustedKeys, error) {
	gens := append([]PublicGeneration(nil), pk.Generations...)
	sort.Slice(gens, func(i, j int) bool { return gens[i].Generation < gens[j].Generation })
	if len(gens) == 0 {
		return nil, Errorf(ErrSignature, "service %s publishes no keys", pk.URL)
	}
	start := len(gens) - 1
	if pinned != "" {
		start = -1
		for i, g := range gens {
			if g.CertFingerprint == pinned {
				start = i
			}
		}
		if start < 0 {
			return nil, Errorf(ErrSignature, "service %s no longer publishes the certificate this client trusts (%s)", pk.URL, pinned)
		}
	}
	return chain(pk, gens[start:])
}

func chain(pk *PublicKeys, gens []PublicGeneration) (*TrustedKeys, error) {
	var prev *crypto.PublicKey
	t := &TrustedKeys{Kind: pk.Kind, UID: pk.UID}
	for _, g := range gens {
		key, cert, err := parseGeneration(g)
		if err != nil {
			return nil, err
		}
		if prev != nil {
			sig, err := crypto.UnB64(g.Endorsement)
			if err != nil || prev.Verify(EndorsementMessage(g.Generation, g.KeyPublic, g.CertPublic), sig) != nil {
				return nil, Errorf(ErrSignature, "generation %d of %s is not endorsed by the one before", g.Generation, pk.URL)
			}
		}
		prev = cert
		t.Key = key
		t.Certs = append([]*crypto.PublicKey{cert}, t.Certs...)
		t.Newest = cert.Fingerprint()
	}
	return t, nil
}

func parseGeneration(g PublicGeneration) (key, cert *crypto.PublicKey, err error) {
	if key, err = crypto.ParsePublicPEM([]byte(g.KeyPublic)); err != nil {
		return nil, nil, fmt.Errorf("call: generation %d key: %w", g.Generation, err)
	}
	if cert, err = crypto.ParsePublicPEM([]byte(g.CertPublic)); err != nil {
		return nil, nil, fmt.Errorf("call: generation %d certificate: %w", g.Generation, err)
	}
	if key.Fingerprint() != g.KeyFingerprint || cert.Fingerprint() != g.CertFingerprint {
		return nil, nil, Errorf(ErrSignature, "generation %d fingerprints do not match its keys", g.Generation)
	}
	return key, cert, nil
}
