// Package service is the function framework every Acquire service runs on:
// typed handlers registered by name, the encrypted envelope, a timestamp
// window, replay refusal, idempotent retries, weekly key rotation and typed
// errors that never carry a stack trace.
package service

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"time"

	"github.com/openacquire/acquire/runtime/auth"
	"github.com/openacquire/acquire/runtime/call"
	"github.com/openacquire/acquire/runtime/crypto"
	"github.com/openacquire/acquire/runtime/store"
)

// Defaults for the limits a Config leaves at zero.
const (
	DefaultClockSkew = 2 * time.Minute
	DefaultLease     = 30 * time.Second
	MaxIdemKeyBytes  = 128
)

var kindPattern = regexp.MustCompile(`^[a-z][a-z0-9_-]{1,31}$`)

// Config is what one service instance needs. Secret unlocks the service's
// private keys in the store and is never logged.
type Config struct {
	Kind      string
	URL       string
	Bucket    *store.Bucket
	Secret    string
	Clock     func() time.Time
	Logger    *slog.Logger
	ClockSkew time.Duration // how far a request's synctime may be from ours
	Lease     time.Duration // how long an idempotent call may run before a retry takes it over
}

// Info is the service's identity as stored at service/info.json.
type Info struct {
	Kind        string    `json:"kind"`
	URL         string    `json:"url"`
	UID         string    `json:"uid,omitempty"`
	RegistryURL string    `json:"registry_url,omitempty"`
	Created     time.Time `json:"created"`
}

// Service is one running service: its keys, its handlers, its store.
type Service struct {
	cfg      Config
	keys     *Keyring
	handlers map[string]*handler
	log      *slog.Logger
	fast     *fastPath // nil: the service does not speak the fast path
}

// Options describe how a handler may be called.
type Options struct {
	// Public handlers may be called in clear text, e.g. to fetch public keys.
	Public bool
	// Idempotent handlers store their answer under the caller's idempotency
	// key, so a retry gets the first answer without running again.
	Idempotent bool
}

type handler struct {
	opts Options
	run  func(ctx context.Context, req *call.Request) (any, error)
}

// New opens (or sets up, on first use) a service on its bucket.
func New(ctx context.Context, cfg Config) (*Service, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	s := &Service{cfg: cfg, handlers: map[string]*handler{}, log: cfg.Logger.With("service", cfg.Kind)}
	s.keys = newKeyring(cfg.Bucket, cfg.Secret, cfg.Clock)
	if err := s.setupInfo(ctx); err != nil {
		return nil, err
	}
	if err := s.keys.openRoot(ctx); err != nil {
		return nil, err
	}
	if _, err := s.keys.Current(ctx); err != nil {
		return nil, err
	}
	s.registerBuiltins()
	return s, nil
}

// CheckSecret applies the rules a service secret must meet: the strength
// rule for typed secrets, and Acquire's passphrase rule, since the secret
// encrypts PKCS#8 keys in Acquire's format. Hosts and deployers call it
// before starting anything; the error never holds the secret.
func CheckSecret(secret string) error {
	if err := crypto.CheckSecretStrength(secret); err != nil {
		return fmt.Errorf("service: the service secret: %w", err)
	}
	if err := crypto.CheckPassphrase(secret); err != nil {
		return fmt.Errorf("service: the service secret: %w", err)
	}
	return nil
}

func (c *Config) check() error {
	if !kindPattern.MatchString(c.Kind) {
		return fmt.Errorf("service: kind %q must match %s", c.Kind, kindPattern)
	}
	if c.Bucket == nil || c.URL == "" {
		return errors.New("service: a bucket and a URL are required")
	}
	if err := CheckSecret(c.Secret); err != nil {
		return err
	}
	if c.Clock == nil {
		c.Clock = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.ClockSkew == 0 {
		c.ClockSkew = DefaultClockSkew
	}
	if c.Lease == 0 {
		c.Lease = DefaultLease
	}
	return nil
}

// setupInfo writes service/info.json on first use and refuses a bucket
// that already belongs to a service of another kind.
func (s *Service) setupInfo(ctx context.Context) error {
	info := Info{Kind: s.cfg.Kind, URL: s.cfg.URL, Created: s.cfg.Clock().UTC()}
	_, err := s.cfg.Bucket.PutJSONIfAbsent(ctx, "service/info.json", &info)
	if err == nil {
		s.log.Info("service set up for the first time", "url", s.cfg.URL)
		return nil
	}
	if !errors.Is(err, store.ErrPrecondition) {
		return err
	}
	got, err := s.Info(ctx)
	if err != nil {
		return err
	}
	if got.Kind != s.cfg.Kind {
		return fmt.Errorf("service: this store holds a %q service, not %q", got.Kind, s.cfg.Kind)
	}
	return nil
}

// Info reads the stored service identity.
func (s *Service) Info(ctx context.Context) (*Info, error) {
	var info Info
	if _, err := s.cfg.Bucket.GetJSON(ctx, "service/info.json", &info); err != nil {
		return nil, err
	}
	return &info, nil
}

// SetUID records the UID a registry gave this service.
func (s *Service) SetUID(ctx context.Context, uid, registryURL string) error {
	_, err := s.cfg.Bucket.Update(ctx, "service/info.json", 10, func(old []byte, exists bool) ([]byte, error) {
		var info Info
		if err := json.Unmarshal(old, &info); err != nil {
			return nil, err
		}
		info.UID, info.RegistryURL = uid, registryURL
		return json.Marshal(&info)
	})
	return err
}

// Kind, URL, Bucket, Keys, Clock and Logger expose the configuration to
// the handlers a service kind registers.
func (s *Service) Kind() string            { return s.cfg.Kind }
func (s *Service) URL() string             { return s.cfg.URL }
func (s *Service) Bucket() *store.Bucket   { return s.cfg.Bucket }
func (s *Service) Keys() *Keyring          { return s.keys }
func (s *Service) Now() time.Time          { return s.cfg.Clock() }
func (s *Service) Logger() *slog.Logger    { return s.log }
func (s *Service) Functions() []string     { return sortedKeys(s.handlers) }
func (s *Service) Clock() func() time.Time { return s.cfg.Clock }

// Handle registers a typed handler: its arguments are decoded from the
// payload (unknown fields refused) and its result wrapped as Acquire does.
func Handle[A any, R any](s *Service, name string, opts Options, fn func(ctx context.Context, args *A) (R, error)) {
	if _, dup := s.handlers[name]; dup {
		panic("service: handler registered twice: " + name)
	}
	s.handlers[name] = &handler{opts: opts, run: func(ctx context.Context, req *call.Request) (any, error) {
		var args A
		if err := decodeArgs(req.Args, &args); err != nil {
			return nil, err
		}
		return fn(ctx, &args)
	}}
}

func decodeArgs(raw json.RawMessage, into any) error {
	dec := json.NewDecoder(bytesReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(into); err != nil {
		return call.Errorf(call.ErrBadArguments, "%s", cleanJSONError(err))
	}
	return nil
}

type empty struct{}

// Pong answers ping: the cheapest encrypted call, for health and benchmarks.
type Pong struct {
	Kind string    `json:"kind"`
	Time time.Time `json:"time"`
}

func (s *Service) registerBuiltins() {
	s.registerChallenge()
	Handle(s, "ping", Options{}, func(_ context.Context, _ *empty) (*Pong, error) {
		return &Pong{Kind: s.cfg.Kind, Time: s.cfg.Clock().UTC()}, nil
	})
	Handle(s, "public_keys", Options{Public: true}, func(ctx context.Context, _ *empty) (*call.PublicKeys, error) {
		return s.PublicKeys(ctx)
	})
}

// PublicKeys lists what a client needs to call this service and check its replies.
func (s *Service) PublicKeys(ctx context.Context) (*call.PublicKeys, error) {
	info, err := s.Info(ctx)
	if err != nil {
		return nil, err
	}
	gens, err := s.keys.Published(ctx)
	if err != nil {
		return nil, err
	}
	return &call.PublicKeys{Kind: info.Kind, URL: s.cfg.URL, UID: info.UID, Generations: gens}, nil
}

// NewID returns a random 128-bit identifier in hex.
func NewID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("service: no randomness: " + err.Error())
	}
	return hex.EncodeToString(b[:])
}

// ChallengeArgs is a registry's proof-of-possession challenge.
type ChallengeArgs struct {
	Nonce string `json:"nonce"`
}

// ChallengeAnswer echoes the nonce inside a reply that only the holder of
// the service's private keys could decrypt the request for and sign.
type ChallengeAnswer struct {
	Nonce string `json:"nonce"`
	URL   string `json:"url"`
	Kind  string `json:"kind"`
}

func (s *Service) registerChallenge() {
	Handle(s, "registry_challenge", Options{}, func(ctx context.Context, a *ChallengeArgs) (*ChallengeAnswer, error) {
		return &ChallengeAnswer{Nonce: a.Nonce, URL: s.cfg.URL, Kind: s.cfg.Kind}, nil
	})
}

// Authorise signs a service authorisation for resource at the service
// audience with this service's current certificate: how a service acts in
// its own name on another service.
func (s *Service) Authorise(ctx context.Context, audience, resource string) (*auth.ServiceAuthorisation, error) {
	g, err := s.keys.Current(ctx)
	if err != nil {
		return nil, err
	}
	return auth.SignService(g.cert, s.cfg.URL, audience, resource, s.cfg.Clock())
}

// Sign signs, with the service's current certificate, the message that
// msg makes from that certificate's fingerprint: for records a service
// vouches for (a registry's peering records), which name the certificate
// that signed them and are checked against the service's published keys.
func (s *Service) Sign(ctx context.Context, msg func(fingerprint string) []byte) (fingerprint string, sig []byte, err error) {
	g, err := s.keys.Current(ctx)
	if err != nil {
		return "", nil, err
	}
	fp := g.cert.Fingerprint()
	sig, err = g.cert.Sign(msg(fp))
	return fp, sig, err
}

// Credentials signs a service authorisation for resource at audience
// (auth.Signer); now is ignored: the service's own clock dates it.
func (s *Service) Credentials(ctx context.Context, audience, resource string, _ time.Time) (auth.Credentials, error) {
	a, err := s.Authorise(ctx, audience, resource)
	return auth.Credentials{Service: a}, err
}
