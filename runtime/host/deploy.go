package host

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/openacquire/acquire/runtime/access"
	"github.com/openacquire/acquire/runtime/accounting"
	"github.com/openacquire/acquire/runtime/auth"
	"github.com/openacquire/acquire/runtime/call"
	"github.com/openacquire/acquire/runtime/compute"
	"github.com/openacquire/acquire/runtime/identity"
	"github.com/openacquire/acquire/runtime/registry"
	"github.com/openacquire/acquire/runtime/service"
	"github.com/openacquire/acquire/runtime/storage"
)

// Limits of services deployed through the admin API.
const (
	MaxDeployments    = 100
	MaxSettings       = 32
	MaxSettingBytes   = 1024
	MaxTrusted        = 64
	MaxAdminBodyBytes = 64 << 10
	// DeployTimeout bounds one admin operation: opening a store, making
	// keys, registering, creating the first admin (one argon2id hash).
	DeployTimeout = 2 * time.Minute
)

// Error classes of the admin API.
var (
	// ErrSpec: the spec is refused; nothing changed.
	ErrSpec = call.NewClass("DeploySpecError")
	// ErrReplace: kind or store differ from the deployed service's; those
	// cannot change in place (delete and create again).
	ErrReplace = call.NewClass("ReplaceRequiredError")
	// ErrNoDeployment: no service of that name on this host.
	ErrNoDeployment = call.NewClass("NoSuchDeploymentError")
	// ErrAdminToken: missing or wrong admin token.
	ErrAdminToken = call.NewClass("AdminTokenError")
)

// namePattern is a deployment's name and URL path: 3-40 of a-z, 0-9 and
// '-', starting with a letter, as the cloud deployers' names.
var namePattern = regexp.MustCompile(`^[a-z][a-z0-9-]{1,38}[a-z0-9]$`)

// KindSettings are the settings each kind accepts; a kind not listed takes
// none. accounting_url is where an access service cashes cheques;
// access_url is the access service a compute service runs paid jobs for;
// JobLeaseSetting is a compute service's lease; SessionLifeSetting an
// identity service's session life.
var KindSettings = map[string][]string{
	access.Kind:     {"accounting_url", TrustedIdentitiesSetting, TrustedServicesSetting},
	compute.Kind:    {"access_url", JobLeaseSetting, TrustedIdentitiesSetting},
	accounting.Kind: {TrustedIdentitiesSetting, TrustedServicesSetting, SettlementPeersSetting},
	storage.Kind:    {TrustedIdentitiesSetting},
	identity.Kind:   {SessionLifeSetting},
}

// SessionLifeSetting is how long, in whole seconds, an identity service's
// sessions last (identity.CheckSessionLife's range, 60 to 86400): short to
// try expiry or to limit a stolen session, long for fewer logins. Without
// it a deployment takes its host's --session-life-s, a cloud function 24 h.
const SessionLifeSetting = "session_life_s"

// ParseSessionLife reads a session life in whole seconds, as
// SessionLifeSetting and EnvSessionLifeS give it.
func ParseSessionLife(v string) (time.Duration, error) {
	return parseSeconds(v, identity.CheckSessionLife)
}

// TrustedIdentitiesSetting lists, comma-separated, the identity services
// whose users may act on a service (auth.TrustedIdentities). Unset or
// empty trusts none: a deployment trusts no identity service it was not
// told to.
const TrustedIdentitiesSetting = "trusted_identities"

// TrustedServicesSetting lists, comma-separated, the services (of any
// region) that may act in their own name on an accounting service (cash
// cheques, invoice) or ask an access service about grants: the same list
// acquire_trust keeps for a local deployment, for services on any
// platform (a function reads it from EnvTrustedServices).
const TrustedServicesSetting = "trusted_services"

// JobLeaseSetting is how long, in whole seconds, a compute service's claim
// or heartbeat holds a job: how soon a dead agent's job runs again. Within
// compute.CheckLease's range; without it a deployment takes its host's
// lease, and a cloud function the default minute.
const JobLeaseSetting = "job_lease_s"

// ParseJobLease reads a lease in whole seconds, as JobLeaseSetting and
// EnvJobLeaseS give it.
func ParseJobLease(v string) (time.Duration, error) { return parseSeconds(v, compute.CheckLease) }

// parseSeconds reads a duration in whole seconds and checks it.
func parseSeconds(v string, check func(time.Duration) error) (time.Duration, error) {
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil {
		return 0, fmt.Errorf("whole seconds, not %q", v)
	}
	d := time.Duration(n) * time.Second
	return d, check(d)
}

// RequiredSettings must be given for a kind.
var RequiredSettings = map[string][]string{
	access.Kind:  {"accounting_url"},
	compute.Kind: {"access_url"},
}

// Spec is what the admin API is asked to run under a name.
type Spec struct {
	Kind string `json:"kind"`
	// StoreURL is where the service's state lives; empty gives it a
	// sub-store of the host's store.
	StoreURL string `json:"store_url,omitempty"`
	// RegistryURL is the registry the service registers with (not for a
	// registry itself).
	RegistryURL string            `json:"registry_url,omitempty"`
	Settings    map[string]string `json:"settings,omitempty"`
	Admin       *AdminSpec        `json:"admin,omitempty"`
}

// AdminSpec is the first admin. For an identity service: Username and
// Password (the user is created on it, or its password set when
// PasswordVersion changes). For any other kind: IdentityURL and UserUID of
// a user of some identity service.
type AdminSpec struct {
	Username        string `json:"username,omitempty"`
	Password        string `json:"password,omitempty"` // never stored, logged or answered
	PasswordVersion string `json:"password_version,omitempty"`
	IdentityURL     string `json:"identity_url,omitempty"`
	UserUID         string `json:"user_uid,omitempty"`
}

// record is what the host keeps of a deployment so a restart brings it
// back. It holds no secret: the service secret is derived from the host's.
type record struct {
	Name         string    `json:"name"`
	StoreDefault bool      `json:"store_default,omitempty"`
	Spec         Spec      `json:"spec"`
	Trusted      []string  `json:"trusted,omitempty"`
	Created      time.Time `json:"created"`
	Updated      time.Time `json:"updated"`
}

// Status is a deployment as the admin API answers it.
type Status struct {
	Name         string `json:"name"`
	Kind         string `json:"kind"`
	URL          string `json:"url"`
	StoreURL     string `json:"store_url"`
	StoreDefault bool   `json:"store_default,omitempty"` // the host chose the store
	// DataStoreURL is where the service's state lives when that is not
	// StoreURL itself: a cloud function keeps its state in its kind's part
	// of the deployment's store (SubStoreURL), and whoever writes state for
	// it (catalogue entries, cluster registrations) must write there.
	DataStoreURL    string            `json:"data_store_url,omitempty"`
	RegistryURL     string            `json:"registry_url,omitempty"`
	Settings        map[string]string `json:"settings,omitempty"`
	Trusted         []string          `json:"trusted,omitempty"`
	UID             string            `json:"uid,omitempty"`
	KeyFingerprint  string            `json:"key_fingerprint,omitempty"`
	CertFingerprint string            `json:"cert_fingerprint,omitempty"`
	Admin           *AdminStatus      `json:"admin,omitempty"`
	// Error says why the service could not be opened (e.g. at a restart,
	// its store unreachable); it then answers 503 until deployed again.
	Error   string    `json:"error,omitempty"`
	Created time.Time `json:"created"`
	Updated time.Time `json:"updated"`
	// AdminCreated is answered once, by the call that created the admin.
	AdminCreated *AdminCreated `json:"admin_created,omitempty"`
}

// AdminStatus is the first admin as kept (no password).
type AdminStatus struct {
	Username        string `json:"username,omitempty"`
	PasswordVersion string `json:"password_version,omitempty"`
	IdentityURL     string `json:"identity_url"`
	UserUID         string `json:"user_uid"`
}

// AdminCreated is what a new identity admin needs to log in: their
// authenticator URI and recovery codes. Secret: shown once.
type AdminCreated struct {
	ProvisioningURI string   `json:"provisioning_uri"`
	RecoveryCodes   []string `json:"recovery_codes"`
}

// check refuses a spec the host cannot run, naming the field.
func (s *Spec) check(name string) error {
	if !namePattern.MatchString(name) {
		return call.Errorf(ErrSpec, "name %q must be 3-40 of a-z, 0-9 and '-', starting with a letter", name)
	}
	if !slices.Contains(Kinds, s.Kind) {
		return call.Errorf(ErrSpec, "kind %q is not one this host runs (known: %s)", s.Kind, strings.Join(Kinds, ", "))
	}
	if s.StoreURL != "" {
		if _, err := url.Parse(s.StoreURL); err != nil || !strings.Contains(s.StoreURL, "://") {
			return call.Errorf(ErrSpec, "store_url %q is not a store URL (file:///dir, s3://bucket, gs://bucket, azblob://container)", s.StoreURL)
		}
	}
	if err := s.checkRegistry(); err != nil {
		return err
	}
	if err := s.CheckSettings(); err != nil {
		return err
	}
	return s.checkAdmin()
}

func (s *Spec) checkRegistry() error {
	if s.Kind == registry.Kind {
		if s.RegistryURL != "" {
			return call.Errorf(ErrSpec, "registry_url: a registry does not register with another registry")
		}
		return nil
	}
	if s.RegistryURL == "" {
		return nil
	}
	u, err := registry.CanonicalURL(s.RegistryURL)
	if err != nil {
		return call.Errorf(ErrSpec, "registry_url: %s", err.(*call.Error).Message) //nolint:errorlint // CanonicalURL answers *call.Error
	}
	s.RegistryURL = u
	return nil
}

// CheckSettings checks the spec's settings against its kind and puts
// their URLs in canonical form.
func (s *Spec) CheckSettings() error {
	if len(s.Settings) > MaxSettings {
		return call.Errorf(ErrSpec, "settings: %d entries, at most %d", len(s.Settings), MaxSettings)
	}
	for _, k := range slices.Sorted(maps.Keys(s.Settings)) {
		c, err := CheckSetting(s.Kind, k, s.Settings[k])
		if err != nil {
			return err
		}
		s.Settings[k] = c
	}
	for _, k := range RequiredSettings[s.Kind] {
		if s.Settings[k] == "" {
			return call.Errorf(ErrSpec, "settings: a %s service needs %q", s.Kind, k)
		}
	}
	return nil
}

// CheckSetting says whether key is a setting of kind with a value of its
// form, and answers the value as it is kept (URLs in canonical form).
func CheckSetting(kind, key, value string) (string, error) {
	allowed := KindSettings[kind]
	if !slices.Contains(allowed, key) {
		return "", call.Errorf(ErrSpec, "settings: %q is not a setting of a %s service (known: %s)", key, kind, strings.Join(allowed, ", "))
	}
	if len(value) > MaxSettingBytes {
		return "", call.Errorf(ErrSpec, "settings: %q over %d bytes", key, MaxSettingBytes)
	}
	switch key {
	case JobLeaseSetting:
		if _, err := ParseJobLease(value); err != nil {
			return "", call.Errorf(ErrSpec, "settings: %s: %v", key, err)
		}
	case SettlementPeersSetting:
		t, err := canonicalPeers(value)
		if err != nil {
			return "", call.Errorf(ErrSpec, "settings: %s: %v", key, err)
		}
		return strings.Join(t, ","), nil
	case TrustedIdentitiesSetting, TrustedServicesSetting:
		t, err := canonicalIdentities(value)
		if err != nil {
			return "", call.Errorf(ErrSpec, "settings: %s: %v", key, err)
		}
		return t.String(), nil
	case SessionLifeSetting:
		if _, err := ParseSessionLife(value); err != nil {
			return "", call.Errorf(ErrSpec, "settings: %s: %v", key, err)
		}
	case "accounting_url", "access_url":
		c, err := registry.CanonicalURL(value)
		if err != nil {
			return "", call.Errorf(ErrSpec, "settings: %s %q must be http(s)://host[:port]/path", key, value)
		}
		return c, nil
	}
	return value, nil
}

func (s *Spec) checkAdmin() error {
	a := s.Admin
	if a == nil {
		return nil
	}
	if s.Kind == identity.Kind {
		if a.Username == "" || a.IdentityURL != "" || a.UserUID != "" {
			return call.Errorf(ErrSpec, "admin: an identity service's admin is a username (and password) on it, not identity_url/user_uid")
		}
		return nil
	}
	if a.Username != "" || a.Password != "" {
		return call.Errorf(ErrSpec, "admin: a %s service's admin is identity_url and user_uid of an identity service's user; username and password are for identity services", s.Kind)
	}
	if a.UserUID == "" {
		return call.Errorf(ErrSpec, "admin: user_uid is required")
	}
	u, err := registry.CanonicalURL(a.IdentityURL)
	if err != nil {
		return call.Errorf(ErrSpec, "admin: identity_url %q must be http(s)://host[:port]/path", a.IdentityURL)
	}
	a.IdentityURL = u
	return nil
}

// deploymentSecret derives a deployment's service secret from the host's,
// so no secret is ever stored beside the records or sent over the admin
// API, and a service deleted with its data kept comes back with the keys
// it had when deployed again under its name.
func deploymentSecret(hostSecret, name string) string {
	m := hmac.New(sha256.New, []byte(hostSecret))
	m.Write([]byte("acquire-host-deployment-secret-v1\x00" + name))
	return hex.EncodeToString(m.Sum(nil))[:40] // inside the passphrase rule (6-50)
}

// storeScope is a store URL reduced to what it covers, for overlap checks:
// scheme, bucket or folder, key prefix.
func storeScope(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	p := u.Host + "/" + strings.Trim(u.Path, "/")
	if pre := u.Query().Get("prefix"); pre != "" {
		p += "/" + strings.Trim(pre, "/")
	}
	return u.Scheme + "://" + strings.Trim(path.Clean("/"+p), "/") + "/"
}

// overlaps says whether one store scope contains the other: deleting one's
// data would delete the other's.
func overlaps(a, b string) bool {
	a, b = storeScope(a), storeScope(b)
	return strings.HasPrefix(a, b) || strings.HasPrefix(b, a)
}

// instance opens a deployment: a one-service host whose service lives at
// its own URL and store.
func (h *Host) instance(ctx context.Context, rec *record) (*Host, error) {
	kind := rec.Spec.Kind
	cfg := Config{Kinds: []string{kind}, PublicURL: h.cfg.PublicURL, Secret: deploymentSecret(h.cfg.Secret, rec.Name),
		Logger: h.cfg.Logger.With("deployment", rec.Name), Password: h.cfg.Password, TrustedServices: rec.Trusted,
		ServiceURLs: map[string]string{kind: h.deployedURL(rec.Name)},
		StoreURLs:   map[string]string{kind: rec.Spec.StoreURL}, JobLease: h.cfg.JobLease, SessionLife: h.cfg.SessionLife,
		SettlementKeysPinnedByURL: h.cfg.SettlementKeysPinnedByURL}
	if err := ApplySettings(&cfg, rec.Spec.Settings); err != nil {
		return nil, err
	}
	cfg.TrustedIdentities = rec.Spec.trusted(cfg.TrustedIdentities)
	return NewWithClock(ctx, cfg, h.cfg.clock)
}

// canonicalIdentities reads a trusted_identities value into canonical URLs.
func canonicalIdentities(value string) (auth.TrustedIdentities, error) {
	t, err := auth.ParseTrustedIdentities(value)
	if err != nil {
		return nil, err
	}
	for i, u := range t {
		if t[i], err = registry.CanonicalURL(u); err != nil {
			return nil, fmt.Errorf("%q must be http(s)://host[:port]/path", u)
		}
	}
	return t, nil
}

// canonicalPeers reads settlement_peers: accounting services named by URL
// (canonical form) or by a federated UID (kind-<id>@<region>, resolved
// through the home registry when first needed: runtime/accounting
// peerSet), at most accounting.MaxSettlementPeers. A UID issued before
// federation (no region) is refused: no other region can resolve it.
func canonicalPeers(value string) ([]string, error) {
	var out []string
	for s := range strings.SplitSeq(value, ",") {
		s = strings.TrimRight(strings.TrimSpace(s), "/")
		shown := s[:min(len(s), 80)]
		switch {
		case s == "":
			continue
		case !strings.Contains(s, "/"):
			if registry.RegionOf(s) == "" || strings.HasPrefix(s, registry.Kind[:4]+"-") {
				return nil, fmt.Errorf("%q must be an accounting service's http(s)://host[:port]/path or its UID "+
					"(<kind>-<16 hex digits>@<16 hex digits of its region>)", shown)
			}
		default:
			c, err := registry.CanonicalURL(s)
			if err != nil {
				return nil, fmt.Errorf("%q must be http(s)://host[:port]/path or a UID", shown)
			}
			s = c
		}
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	if len(out) > accounting.MaxSettlementPeers {
		return nil, fmt.Errorf("at most %d settlement peers, not %d", accounting.MaxSettlementPeers, len(out))
	}
	return out, nil
}

// ApplySettings sets the fields of cfg that a service's kind settings
// give (see KindSettings); a setting left out leaves its field as it is.
func ApplySettings(cfg *Config, settings map[string]string) error {
	if v, ok := settings[TrustedIdentitiesSetting]; ok {
		t, err := canonicalIdentities(v)
		if err != nil {
			return fmt.Errorf("%s: %w", TrustedIdentitiesSetting, err)
		}
		cfg.TrustedIdentities = t
	}
	if v, ok := settings[TrustedServicesSetting]; ok {
		t, err := canonicalIdentities(v) // the same form: a list of service URLs
		if err != nil {
			return fmt.Errorf("%s: %w", TrustedServicesSetting, err)
		}
		for _, u := range t {
			if !slices.Contains(cfg.TrustedServices, u) {
				cfg.TrustedServices = append(slices.Clone(cfg.TrustedServices), u)
			}
		}
	}
	if v, ok := settings[SettlementPeersSetting]; ok {
		t, err := canonicalPeers(v)
		if err != nil {
			return fmt.Errorf("%s: %w", SettlementPeersSetting, err)
		}
		cfg.SettlementPeers = t
	}
	if v, ok := settings["accounting_url"]; ok {
		cfg.AccountingURL = v
	}
	if v, ok := settings["access_url"]; ok {
		cfg.AccessURL = v
	}
	if v, ok := settings[JobLeaseSetting]; ok {
		d, err := ParseJobLease(v)
		if err != nil {
			return fmt.Errorf("%s: %w", JobLeaseSetting, err)
		}
		cfg.JobLease = d
	}
	if v, ok := settings[SessionLifeSetting]; ok {
		d, err := ParseSessionLife(v)
		if err != nil {
			return err
		}
		cfg.SessionLife = d
	}
	return nil
}

// settingEnv names the function environment variable that carries each
// kind setting.
var settingEnv = map[string]string{"accounting_url": EnvAccountingURL, "access_url": EnvAccessURL, JobLeaseSetting: EnvJobLeaseS,
	TrustedIdentitiesSetting: EnvTrustedIdentities, SessionLifeSetting: EnvSessionLifeS, TrustedServicesSetting: EnvTrustedServices,
	SettlementPeersSetting: EnvSettlementPeers}

// SettlementPeersSetting lists, comma-separated, the other regions'
// accounting services an accounting service settles cross-region
// transfers with (runtime/settlement); both sides must list each other.
const SettlementPeersSetting = "settlement_peers"

// trusted adds the admin's identity service to a deployment's trust list:
// naming it is telling the deployment to trust it, otherwise its admin
// could not act on it.
func (s *Spec) trusted(t auth.TrustedIdentities) auth.TrustedIdentities {
	if a := s.Admin; a != nil && a.IdentityURL != "" && !t.Trusts(a.IdentityURL) {
		t = append(slices.Clone(t), a.IdentityURL)
	}
	return t
}

// SpecEnv is the function environment of a deployment: its settings
// (SettingsEnv), with its admin's identity service trusted as a local
// deployment's is.
func SpecEnv(s Spec) (map[string]string, error) {
	t, err := canonicalIdentities(s.Settings[TrustedIdentitiesSetting])
	if err != nil {
		return nil, call.Errorf(ErrSpec, "settings: %s: %v", TrustedIdentitiesSetting, err)
	}
	env := SettingsEnv(s.Settings)
	if t = s.trusted(t); len(t) > 0 {
		env[EnvTrustedIdentities] = t.String()
	}
	return env, nil
}

// SettingsEnv is the function environment that carries a service's kind
// settings (ConfigFromEnv reads them back).
func SettingsEnv(settings map[string]string) map[string]string {
	env := map[string]string{}
	for setting, name := range settingEnv {
		if v := settings[setting]; v != "" {
			env[name] = v
		}
	}
	return env
}

func (h *Host) deployedURL(name string) string {
	return strings.TrimRight(h.cfg.PublicURL, "/") + "/" + name
}

// register registers a deployment with its registry, after checking the
// registry is one.
func (h *Host) register(ctx context.Context, inner *Host, rec *record) error {
	return registerWith(ctx, h.Client, inner, rec.Spec.Kind, rec.Spec.RegistryURL)
}

func registerWith(ctx context.Context, c *call.Client, inner *Host, kind, registryURL string) error {
	if registryURL == "" {
		return nil
	}
	if _, err := registry.Probe(ctx, c, registryURL); err != nil {
		return call.Errorf(ErrSpec, "registry_url: %s", errMessage(err))
	}
	rc := &registry.Client{C: c, URL: registryURL}
	reg, err := rc.Register(ctx, inner.ServiceURL(kind), kind)
	if err != nil {
		return fmt.Errorf("registering %s with %s: %w", inner.ServiceURL(kind), registryURL, err)
	}
	return inner.Service(kind).SetUID(ctx, reg.UID, registryURL)
}

// SetUp does for a service that runs elsewhere what Deploy does after
// opening one: register it with spec's registry (when register) and set up
// its first admin. svc is a one-service Host opened on that service's own
// store with its secret (not serving): the Terraform provider calls it for
// services on cloud platforms, whose state it reaches through their stores.
// prevAdmin is the admin as last set up (nil for a new service); spec's
// admin password is set when the username or password version changed.
func SetUp(ctx context.Context, c *call.Client, svc *Host, spec *Spec, register bool, prevAdmin *AdminSpec) (*AdminCreated, error) {
	if register {
		if err := registerWith(ctx, c, svc, spec.Kind, spec.RegistryURL); err != nil {
			return nil, err
		}
	}
	rec := &record{Spec: *spec}
	var prev *record
	if prevAdmin != nil {
		prev = &record{Spec: Spec{Admin: prevAdmin}}
	}
	created, err := setupAdmin(ctx, svc, rec, prev)
	if rec.Spec.Admin != nil {
		spec.Admin.IdentityURL, spec.Admin.UserUID = rec.Spec.Admin.IdentityURL, rec.Spec.Admin.UserUID
	}
	return created, err
}

// setupAdmin makes the first admin. For an identity service it creates
// the user (answering its authenticator URI once) or, when the user exists
// and the password version changed, sets the new password.
func setupAdmin(ctx context.Context, inner *Host, rec *record, prev *record) (*AdminCreated, error) {
	a := rec.Spec.Admin
	if a == nil {
		return nil, nil
	}
	kind := rec.Spec.Kind
	if kind != identity.Kind {
		return nil, inner.Service(kind).AddAdmin(ctx, service.Admin{IdentityURL: a.IdentityURL, UserUID: a.UserUID})
	}
	id := inner.Identity
	var created *AdminCreated
	uid, err := id.UserUID(ctx, a.Username)
	switch {
	case errors.Is(err, identity.ErrUnknownUser):
		if a.Password == "" {
			return nil, call.Errorf(ErrSpec, "admin: password is required to create user %q", a.Username)
		}
		res, err := id.CreateUser(ctx, a.Username, a.Password)
		if err != nil {
			return nil, err
		}
		uid, created = res.UserUID, &AdminCreated{ProvisioningURI: res.ProvisioningURI, RecoveryCodes: res.RecoveryCodes}
	case err != nil:
		return nil, err
	case a.Password != "" && passwordChanged(rec, prev):
		if err := id.SetPassword(ctx, a.Username, a.Password); err != nil {
			return nil, err
		}
	}
	if err := id.MakeAdmin(ctx, a.Username); err != nil {
		return nil, err
	}
	a.IdentityURL, a.UserUID = inner.ServiceURL(identity.Kind), uid
	return created, nil
}

// passwordChanged: a new deployment, a new admin or a new password version
// sets the password; the same version leaves it alone, so a password
// changed by its user is not reset by every apply.
func passwordChanged(rec, prev *record) bool {
	if prev == nil || prev.Spec.Admin == nil {
		return true
	}
	return prev.Spec.Admin.Username != rec.Spec.Admin.Username || prev.Spec.Admin.PasswordVersion != rec.Spec.Admin.PasswordVersion
}

func errMessage(err error) string {
	var ce *call.Error
	if errors.As(err, &ce) {
		return ce.Message
	}
	return err.Error()
}
