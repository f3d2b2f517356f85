package provider

import (
	"cmp"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"os"
	"strings"

	"github.com/openacquire/acquire/adapters/aws/s3store"
	"github.com/openacquire/acquire/adapters/azure/blobstore"
	"github.com/openacquire/acquire/adapters/deployer"
	"github.com/openacquire/acquire/adapters/gcp/gcsstore"
	"github.com/openacquire/acquire/runtime/call"
	"github.com/openacquire/acquire/runtime/crypto"
	"github.com/openacquire/acquire/runtime/host"
)

// Cloud platforms: the function runs on the cloud (its deployer under
// adapters/ creates it, its URL and its secret), and what a host does for
// its services — keys, registration, first admin, UID — the provider does
// with the runtime's Go API on the service's own store, which it can open
// because it generated the service secret. The secret lives only in the
// platform's secret store: the resource keeps where (the deployer's
// SecretRef) in its private state, and every later apply or refresh reads
// the secret back through the deployer; it is never in an attribute, the
// private state or a diagnostic.

// newDeployer builds a cloud block's deployer; tests replace it with a
// fake that runs the function in-process.
var newDeployer = func(ctx context.Context, b cloudBlock) (deployer.Deployer, error) {
	return b.newDeployer(ctx)
}

// cloudPlatform deploys through a deployer and sets services up through
// their stores.
type cloudPlatform struct {
	d                  deployer.Deployer
	location, artifact string
	settings           map[string]string
	function           deployer.Function
	http               *http.Client
	// secret is the service secret: generated on create, else read back
	// through the deployer when first needed (serviceSecret).
	secret string
	// secretRef is where the platform keeps the secret, once known.
	secretRef string
	call      *call.Client
	// tags are the deployment's tags as applied or read back (nil: not
	// known, e.g. a deployer that cannot read them).
	tags map[string]string
	// record is what the deployment recorded of its platform block
	// (recordReader), read only for an imported service.
	record map[string]string
	// prev is the service as in state (nil on create): its registry and
	// admin say what an apply must redo; read answers its settings back,
	// since a deployment does not report them.
	prev *host.Spec
}

// EnvSecretSeed names the environment variable a cloud service's secret
// is derived from, when set (HMAC-SHA256 over the service's name and
// store). Without it each service gets a random secret, kept in private
// state only: a service deleted out of band with its data kept then
// cannot be re-created on that data (its keys need the lost secret).
// A seed is typed, so it must meet crypto.CheckSecretStrength: a weak one
// would let anyone who guesses it derive every service's secret.
const EnvSecretSeed = "ACQUIRE_SECRET_SEED"

// secretSeed is the seed in EnvSecretSeed ("" when unset), refused when weak.
func secretSeed() (string, error) {
	seed := os.Getenv(EnvSecretSeed)
	if seed == "" {
		return "", nil
	}
	if err := crypto.CheckSecretStrength(seed); err != nil {
		return "", fmt.Errorf("%s: %w", EnvSecretSeed, err)
	}
	return seed, nil
}

// newSecret makes a cloud service's secret: 40 hex characters, inside the
// passphrase rule of the runtime's key files.
func newSecret(name, storeURL string) (string, error) {
	seed, err := secretSeed()
	if err != nil {
		return "", err
	}
	if seed != "" {
		m := hmac.New(sha256.New, []byte(seed))
		m.Write([]byte("acquire-provider-service-secret-v1\x00" + name + "\x00" + storeURL))
		return hex.EncodeToString(m.Sum(nil))[:40], nil
	}
	b := make([]byte, 20)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}

func (c *cloudPlatform) apply(ctx context.Context, name string, spec host.Spec) (*host.Status, error) {
	// The admin API checks a local deployment's settings; a function would
	// refuse bad ones only at its start.
	if err := spec.CheckSettings(); err != nil {
		return nil, err
	}
	bucket, err := bucketOf(spec.StoreURL)
	if err != nil {
		return nil, err
	}
	if err := c.serviceSecret(ctx, name); err != nil {
		return nil, err
	}
	env, err := host.SpecEnv(spec)
	if err != nil {
		return nil, err
	}
	logged := logStep(ctx, "resolve_artifact", "artifact", redactURL(c.artifact))
	artifact, done, err := resolveArtifact(ctx, c.http, c.artifact, c.function.ArtifactSHA256)
	logged(err)
	if err != nil {
		return nil, err
	}
	defer done()
	ds := deployer.Spec{Name: name, Kinds: []string{spec.Kind}, Location: c.location, Bucket: bucket, StoreURL: spec.StoreURL, Artifact: artifact,
		Secret: c.secret, Settings: c.settings, Env: env, Function: c.function}
	dep, err := c.d.Read(ctx, name)
	switch {
	case errors.Is(err, deployer.ErrNotFound):
		dep, err = c.d.Create(ctx, ds)
	case err == nil:
		dep, err = c.d.Update(ctx, ds)
	}
	if err != nil {
		return nil, err
	}
	c.secretRef = dep.SecretRef
	c.tags = maps.Clone(c.function.Tags)
	if c.tags == nil {
		c.tags = map[string]string{}
	}
	logged = logStep(ctx, "open_service", logURL, dep.URL, logStore, redactURL(dep.StoreURL))
	svc, err := c.open(ctx, spec, dep)
	logged(err)
	if err != nil {
		if strings.Contains(err.Error(), "wrong service secret") {
			return nil, fmt.Errorf("the store %s already holds a service whose keys this secret does not unlock (re-created "+
				"on kept data?): set %s to the seed it was deployed with, or destroy it with delete_data = true first", spec.StoreURL, EnvSecretSeed)
		}
		return nil, err
	}
	defer svc.Close()
	register := c.prev == nil || c.prev.RegistryURL != spec.RegistryURL
	var prevAdmin *host.AdminSpec
	if c.prev != nil {
		prevAdmin = c.prev.Admin
	}
	logged = logStep(ctx, "set_up", "register", register, "registry", spec.RegistryURL, "first_admin", spec.Admin != nil && prevAdmin == nil)
	created, err := host.SetUp(ctx, c.call, svc, &spec, register, prevAdmin)
	logged(err)
	if err != nil {
		return nil, err
	}
	st, err := c.status(ctx, name, spec, dep, svc)
	if err != nil {
		return nil, err
	}
	st.AdminCreated = created
	return st, nil
}

// open opens the service on its store as the function does (its kind's
// sub-store of the deployment's store), with the secret.
func (c *cloudPlatform) open(ctx context.Context, spec host.Spec, dep deployer.Deployment) (*host.Host, error) {
	s3store.Register()
	gcsstore.Register()
	blobstore.Register()
	su, err := host.SubStoreURL(dep.StoreURL, spec.Kind)
	if err != nil {
		return nil, err
	}
	u := strings.TrimRight(dep.URL, "/") + "/" + spec.Kind
	cfg := host.Config{Kinds: []string{spec.Kind}, StoreURLs: map[string]string{spec.Kind: su},
		ServiceURLs: map[string]string{spec.Kind: u}, PublicURL: dep.URL, Secret: c.secret}
	if err := host.ApplySettings(&cfg, spec.Settings); err != nil {
		return nil, err
	}
	return host.New(ctx, cfg)
}

func (c *cloudPlatform) status(ctx context.Context, name string, spec host.Spec, dep deployer.Deployment, svc *host.Host) (*host.Status, error) {
	st := &host.Status{Name: name, Kind: spec.Kind, URL: svc.ServiceURL(spec.Kind), StoreURL: spec.StoreURL,
		RegistryURL: spec.RegistryURL, Settings: spec.Settings}
	if a := spec.Admin; a != nil {
		st.Admin = &host.AdminStatus{Username: a.Username, PasswordVersion: a.PasswordVersion, IdentityURL: a.IdentityURL, UserUID: a.UserUID}
	}
	keys, err := svc.Service(spec.Kind).PublicKeys(ctx)
	if err != nil {
		return nil, err
	}
	if n := len(keys.Generations); n > 0 {
		st.UID, st.KeyFingerprint, st.CertFingerprint = keys.UID, keys.Generations[n-1].KeyFingerprint, keys.Generations[n-1].CertFingerprint
	}
	if st.DataStoreURL, err = host.SubStoreURL(cmp.Or(dep.StoreURL, spec.StoreURL), spec.Kind); err != nil {
		return nil, err
	}
	return st, nil
}

func (c *cloudPlatform) read(ctx context.Context, name string) (*host.Status, error) {
	dep, err := c.d.Read(ctx, name)
	if errors.Is(err, deployer.ErrNotFound) {
		return nil, errGone
	}
	if err != nil {
		return nil, err
	}
	c.secretRef = dep.SecretRef
	if c.tags, err = readTags(ctx, c.d, name); err != nil {
		return nil, err
	}
	if err := c.serviceSecret(ctx, name); err != nil {
		return nil, err
	}
	if c.prev == nil || c.prev.Kind == "" {
		if rr, ok := inner(c.d).(recordReader); ok {
			if c.record, err = rr.Record(ctx, name); err != nil {
				return nil, err
			}
		}
		// Imported: the deployment says what it is and where its state is.
		kind, _, _ := strings.Cut(dep.Services, ",")
		if kind == "" || dep.StoreURL == "" {
			return nil, fmt.Errorf("deployment %s does not say its service kind and store: not an Acquire deployment?", name)
		}
		c.prev = &host.Spec{Kind: kind, StoreURL: dep.StoreURL}
	}
	svc, err := c.open(ctx, *c.prev, dep)
	if err != nil {
		return nil, err
	}
	defer svc.Close()
	return c.status(ctx, name, *c.prev, dep, svc)
}

// serviceSecret reads the service's secret back through the deployer,
// unless this apply generated it.
func (c *cloudPlatform) serviceSecret(ctx context.Context, name string) error {
	if c.secret != "" {
		return nil
	}
	s, err := c.d.Secret(ctx, name)
	if errors.Is(err, deployer.ErrNotFound) {
		return fmt.Errorf("the secret of %s is gone from its platform's secret store (deleted out of band?): "+
			"the provider keeps only a reference to it, so the service cannot be opened; destroy and re-create it "+
			"(with %s set to the seed it was deployed with, to keep its data)", name, EnvSecretSeed)
	}
	if err != nil {
		return err
	}
	c.secret = s
	return nil
}

func (c *cloudPlatform) remove(ctx context.Context, name string, deleteData bool) error {
	err := c.d.Delete(ctx, name, deleteData)
	if errors.Is(err, deployer.ErrNotFound) {
		return nil
	}
	return err
}

func (c *cloudPlatform) trust(context.Context, string, string, bool) (*host.Status, error) {
	return nil, errors.New("acquire_trust manages services on the local platform only, so far")
}

func (c *cloudPlatform) list(context.Context) ([]*host.Status, error) {
	return nil, errors.New("cloud platforms are not listed")
}

// close releases the deployer's clients (the GCP one holds a storage client).
func (c *cloudPlatform) close() {
	if cl, ok := c.d.(io.Closer); ok {
		_ = cl.Close()
	}
}

// bucketOf is the bucket or container of a cloud store URL.
func bucketOf(storeURL string) (string, error) {
	u, err := url.Parse(storeURL)
	if err != nil || u.Host == "" {
		return "", fmt.Errorf("store: a cloud platform needs a bucket store (s3, gcs or azure), got %q", storeURL)
	}
	return u.Host, nil
}
