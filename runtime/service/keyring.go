package service

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/openacquire/acquire/runtime/call"
	"github.com/openacquire/acquire/runtime/crypto"
	"github.com/openacquire/acquire/runtime/store"
)

// Key rotation: a new generation of keys every week. Old generations stay
// loaded for decryption and are published for verification for
// KeyRetentionWeeks, so replies signed just before a rotation still verify.
const (
	KeyPeriod         = 7 * 24 * time.Hour
	KeyRetentionWeeks = 4
	keysPrefix        = "service/keys/"
	maxGenerations    = 1000
)

// KeyRecord is one generation as stored. Private halves are PKCS#8 PEM
// encrypted with the service secret; the data key is wrapped with the
// generation's own public key. Endorsement is the previous generation's
// certificate signing this one, so a client that trusts one generation can
// follow the chain to the next without trusting anyone else.
type KeyRecord struct {
	Generation  int64     `json:"generation"`
	Created     time.Time `json:"created"`
	KeyPEM      string    `json:"key_private"`
	CertPEM     string    `json:"cert_private"`
	KeyPublic   string    `json:"key_public"`
	CertPublic  string    `json:"cert_public"`
	DataKey     string    `json:"data_key"`
	Endorsement string    `json:"endorsement,omitempty"`
}

type generation struct {
	rec  KeyRecord
	key  *crypto.PrivateKey
	cert *crypto.PrivateKey
	data crypto.FernetKey
}

// Keyring holds a service's unlocked key generations. Each private key is
// unlocked once per process and cached: unlocking costs PBKDF2 + RSA parsing.
type Keyring struct {
	bucket *store.Bucket
	secret string
	clock  func() time.Time

	root []byte // the stretched secret (see openRoot); set once at New

	createMu sync.Mutex // one key generation at a time per process

	mu     sync.RWMutex
	gens   map[int64]*generation
	byFP   map[string]*generation
	latest *generation
}

func newKeyring(b *store.Bucket, secret string, clock func() time.Time) *Keyring {
	return &Keyring{bucket: b, secret: secret, clock: clock,
		gens: map[int64]*generation{}, byFP: map[string]*generation{}}
}

func generationAt(t time.Time) int64 { return t.Unix() / int64(KeyPeriod/time.Second) }

// Current returns the generation for now, creating it if this is the first
// call of the week anywhere. Racing instances converge through put-if-absent.
func (k *Keyring) Current(ctx context.Context) (*generation, error) {
	want := generationAt(k.clock())
	k.mu.RLock()
	g := k.latest
	k.mu.RUnlock()
	if g != nil && g.rec.Generation >= want {
		return g, nil
	}
	// Calls arriving together at a rotation wait for one generation
	// instead of each making RSA keys only to lose the put-if-absent.
	k.createMu.Lock()
	defer k.createMu.Unlock()
	if g, err := k.load(ctx, want); err == nil {
		return g, nil
	} else if !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	return k.create(ctx, want)
}

// load reads and unlocks one generation, caching it.
func (k *Keyring) load(ctx context.Context, gen int64) (*generation, error) {
	k.mu.RLock()
	g := k.gens[gen]
	k.mu.RUnlock()
	if g != nil {
		return g, nil
	}
	var rec KeyRecord
	if _, err := k.bucket.GetJSON(ctx, genKey(gen), &rec); err != nil {
		return nil, err
	}
	g, err := k.unlock(rec)
	if err != nil {
		return nil, err
	}
	k.remember(g)
	return g, nil
}

func (k *Keyring) unlock(rec KeyRecord) (*generation, error) {
	key, err := k.parsePEM(rec.KeyPEM)
	if err != nil {
		return nil, fmt.Errorf("service: unlocking key generation %d (wrong service secret?): %w", rec.Generation, err)
	}
	cert, err := k.parsePEM(rec.CertPEM)
	if err != nil {
		return nil, fmt.Errorf("service: unlocking certificate generation %d: %w", rec.Generation, err)
	}
	wrapped, err := crypto.UnB64(rec.DataKey)
	if err != nil {
		return nil, fmt.Errorf("service: data key of generation %d: %w", rec.Generation, err)
	}
	text, err := key.Decrypt(wrapped)
	if err != nil {
		return nil, fmt.Errorf("service: data key of generation %d: %w", rec.Generation, err)
	}
	data, err := crypto.ParseFernetKey(string(text))
	if err != nil {
		return nil, err
	}
	return &generation{rec: rec, key: key, cert: cert, data: data}, nil
}

func (k *Keyring) remember(g *generation) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.gens[g.rec.Generation] = g
	k.byFP[g.key.Fingerprint()] = g
	k.byFP[g.cert.Fingerprint()] = g
	if k.latest == nil || g.rec.Generation > k.latest.rec.Generation {
		k.latest = g
	}
}

func (k *Keyring) create(ctx context.Context, gen int64) (*generation, error) {
	g, err := k.newGeneration(ctx, gen)
	if err != nil {
		return nil, err
	}
	_, err = k.bucket.PutJSONIfAbsent(ctx, genKey(gen), &g.rec)
	if err == nil {
		// Ours is the stored record: no need to unlock what we just locked
		// (each unlock is a PBKDF2 at a current iteration count).
		k.remember(g)
		return g, nil
	}
	if !errors.Is(err, store.ErrPrecondition) {
		return nil, err
	}
	// Another instance won the race: the stored record is the truth.
	return k.load(ctx, gen)
}

func (k *Keyring) newGeneration(ctx context.Context, gen int64) (*generation, error) {
	key, err := crypto.GenerateKey()
	if err != nil {
		return nil, err
	}
	cert, err := crypto.GenerateKey()
	if err != nil {
		return nil, err
	}
	data, err := crypto.NewFernetKey()
	if err != nil {
		return nil, err
	}
	rec := KeyRecord{Generation: gen, Created: k.clock().UTC(),
		KeyPublic: string(key.Public().PEM()), CertPublic: string(cert.Public().PEM())}
	if rec.KeyPEM, err = k.encryptedPEM(key); err != nil {
		return nil, err
	}
	if rec.CertPEM, err = k.encryptedPEM(cert); err != nil {
		return nil, err
	}
	wrapped, err := key.Public().Encrypt([]byte(data.String()))
	if err != nil {
		return nil, err
	}
	rec.DataKey = crypto.B64(wrapped)
	if err := k.endorse(ctx, &rec); err != nil {
		return nil, err
	}
	return &generation{rec: rec, key: key, cert: cert, data: data}, nil
}

// endorse signs a new generation with the newest earlier one, if any.
func (k *Keyring) endorse(ctx context.Context, rec *KeyRecord) error {
	prev, err := k.newestBefore(ctx, rec.Generation)
	if err != nil || prev == nil {
		return err
	}
	sig, err := prev.cert.Sign(call.EndorsementMessage(rec.Generation, rec.KeyPublic, rec.CertPublic))
	if err != nil {
		return err
	}
	rec.Endorsement = crypto.B64(sig)
	return nil
}

func (k *Keyring) newestBefore(ctx context.Context, gen int64) (*generation, error) {
	gens, err := k.storedGenerations(ctx)
	if err != nil {
		return nil, err
	}
	for i := len(gens) - 1; i >= 0; i-- {
		if gens[i] < gen {
			return k.load(ctx, gens[i])
		}
	}
	return nil, nil
}

// storedGenerations lists generation numbers in ascending order.
func (k *Keyring) storedGenerations(ctx context.Context) ([]int64, error) {
	items, err := k.bucket.ListAll(ctx, keysPrefix, maxGenerations)
	if err != nil {
		return nil, err
	}
	out := make([]int64, 0, len(items))
	for _, it := range items {
		n, err := strconv.ParseInt(it.Key[len(keysPrefix):], 10, 64)
		if err == nil {
			out = append(out, n)
		}
	}
	return out, nil
}

// ByFingerprint finds a generation holding a key or certificate, loading
// older generations from the store on a miss.
func (k *Keyring) ByFingerprint(ctx context.Context, fp string) (*generation, error) {
	k.mu.RLock()
	g := k.byFP[fp]
	k.mu.RUnlock()
	if g != nil {
		return g, nil
	}
	if err := k.loadRecent(ctx); err != nil {
		return nil, err
	}
	k.mu.RLock()
	defer k.mu.RUnlock()
	if g := k.byFP[fp]; g != nil {
		return g, nil
	}
	return nil, fmt.Errorf("service: no key with fingerprint %s", fp)
}

// loadRecent loads the generations that are still published.
func (k *Keyring) loadRecent(ctx context.Context) error {
	gens, err := k.storedGenerations(ctx)
	if err != nil {
		return err
	}
	for _, g := range recent(gens) {
		if _, err := k.load(ctx, g); err != nil {
			return err
		}
	}
	return nil
}

func recent(gens []int64) []int64 {
	if len(gens) > KeyRetentionWeeks {
		return gens[len(gens)-KeyRetentionWeeks:]
	}
	return gens
}

// Published lists the public halves of the retained generations, oldest first.
func (k *Keyring) Published(ctx context.Context) ([]call.PublicGeneration, error) {
	if _, err := k.Current(ctx); err != nil {
		return nil, err
	}
	if err := k.loadRecent(ctx); err != nil {
		return nil, err
	}
	gens, err := k.storedGenerations(ctx)
	if err != nil {
		return nil, err
	}
	var out []call.PublicGeneration
	for _, n := range recent(gens) {
		g, err := k.load(ctx, n)
		if err != nil {
			return nil, err
		}
		out = append(out, call.PublicGeneration{Generation: n, KeyPublic: g.rec.KeyPublic, CertPublic: g.rec.CertPublic,
			KeyFingerprint: g.key.Fingerprint(), CertFingerprint: g.cert.Fingerprint(), Endorsement: g.rec.Endorsement})
	}
	return out, nil
}

func genKey(gen int64) string { return keysPrefix + fmt.Sprintf("%012d", gen) }

// pemPurpose names the key private halves are encrypted with: derived
// from the stretched root, so a store reader guessing the secret pays
// argon2id per guess, and each unlock is cheap (see crypto.KeyPassphrase).
const pemPurpose = "keyring-pkcs8"

func (k *Keyring) encryptedPEM(key *crypto.PrivateKey) (string, error) {
	b, err := key.MarshalEncryptedPEMWithKey(k.Key(pemPurpose))
	return string(b), err
}

// parsePEM opens a private half; generations written before the root
// existed were encrypted with the secret itself.
func (k *Keyring) parsePEM(text string) (*crypto.PrivateKey, error) {
	key, err := crypto.ParseEncryptedPEM([]byte(text), crypto.KeyPassphrase(k.Key(pemPurpose)))
	if errors.Is(err, crypto.ErrKey) {
		return crypto.ParseEncryptedPEM([]byte(text), k.secret)
	}
	return key, err
}
