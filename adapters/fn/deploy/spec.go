package deploy

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/openacquire/acquire/adapters/deployer"
	"github.com/openacquire/acquire/runtime/host"
)

// ErrInvalidSpec is matched (errors.Is) by every *SpecError.
var ErrInvalidSpec = errors.New("fn deploy: invalid spec")

// SpecError says which Spec (or Config) field is wrong and why. It never
// quotes the secret.
type SpecError struct {
	Field  string
	Reason string
}

func (e *SpecError) Error() string {
	return fmt.Sprintf("fn deploy: invalid %s: %s", e.Field, e.Reason)
}

// Is makes errors.Is(err, ErrInvalidSpec) true.
func (e *SpecError) Is(target error) bool { return target == ErrInvalidSpec }

// Settings keys this deployer reads from Spec.Settings.
const (
	// SettingStoreURL is the store as the function opens it (s3://,
	// gs://, azblob://…), when Spec.StoreURL is not given: Fn runs on any
	// cloud, so the deployer is told the whole URL rather than a bucket on
	// its own cloud. One of the two is required.
	SettingStoreURL    = "store_url"
	SettingMemoryMB    = "memory_mb"      // Fn memory, 64-8192 MB (default 256; Spec.Function.MemoryMB wins)
	SettingTimeoutS    = "timeout_s"      // one call's limit, 1-300 s (default 60; Spec.Function.TimeoutS wins)
	SettingIdleTimeout = "idle_timeout_s" // how long a hot container waits for calls, 1-3600 s (default 30)
	// SettingEnvPrefix starts keys whose values go into the function's
	// configuration under the rest of the key (env:AWS_ACCESS_KEY_ID):
	// the store's credentials where the node has no identity of its own.
	SettingEnvPrefix = "env:"
	// SettingRecordPrefix starts keys the deployer keeps, as they are, in
	// the function's annotations (record:artifact), for a caller that
	// must rebuild its configuration from the deployment alone (the
	// provider's import): never secrets, each at most MaxRecordBytes.
	SettingRecordPrefix = "record:"
)

// MaxRecordBytes bounds one recorded value: Fn refuses an annotation
// value over 512 bytes of JSON.
const MaxRecordBytes = 480

// Defaults of the function's limits.
const (
	DefaultMemoryMB     = 256
	DefaultTimeoutS     = 60
	DefaultIdleTimeoutS = 30
)

// FunctionName is the one function in each deployment's app.
const FunctionName = "acquire"

// The environment the deployer owns (the function's configuration).
const (
	envServices  = "ACQUIRE_SERVICES"
	envStoreURL  = "ACQUIRE_STORE_URL"
	envPublicURL = "ACQUIRE_PUBLIC_URL"
	envSecret    = "ACQUIRE_SERVICE_SECRET"
)

// maxSecretBytes bounds the secret (a configuration value in Fn's database).
const maxSecretBytes = 4 << 10

var (
	// An app name is also the path segment of its triggers' URLs.
	nameRE    = regexp.MustCompile(`^[a-z][a-z0-9-]{1,38}[a-z0-9]$`)
	kindRE    = regexp.MustCompile(`^[a-z][a-z0-9-]{0,39}$`)
	envNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,127}$`)
	// reservedEnvs are set by the deployer or by Fn's agent.
	reservedEnvs = map[string]bool{envServices: true, envStoreURL: true, envPublicURL: true, envSecret: true, host.EnvStorageDataURL: true}
	storeSchemes = map[string]bool{"s3": true, "gs": true, "azblob": true}
)

// parsed is a checked Spec with its settings decoded.
type parsed struct {
	deployer.Spec
	storeURL     string
	env          map[string]string // from env: settings
	memoryMB     uint64
	timeoutS     int32
	idleTimeoutS int32
	record       map[string]string // from record: settings
}

func checkName(name string) error {
	if !nameRE.MatchString(name) {
		return &SpecError{Field: "Name", Reason: "must be 3-40 of a-z, 0-9 and '-', starting with a letter and not ending with '-'"}
	}
	return nil
}

func parseSpec(s deployer.Spec) (parsed, error) {
	checks := []func() error{
		func() error { return checkName(s.Name) },
		func() error { return checkKinds(s.Kinds) },
		func() error { return checkSecret(s.Secret) },
		func() error { return checkEnv(s.Env, s.Secret) },
		func() error {
			if s.Artifact == "" {
				return &SpecError{Field: "Artifact", Reason: "is required (dist/fn-amd64.tar from make dist)"}
			}
			return nil
		},
	}
	for _, check := range checks {
		if err := check(); err != nil {
			return parsed{}, err
		}
	}
	return parseSettings(s)
}

func checkKinds(kinds []string) error {
	if len(kinds) == 0 {
		return &SpecError{Field: "Kinds", Reason: "must name at least one service kind"}
	}
	seen := map[string]bool{}
	for _, k := range kinds {
		if !kindRE.MatchString(k) || seen[k] {
			return &SpecError{Field: "Kinds", Reason: fmt.Sprintf("kind %q is not a service kind name, or is repeated", k)}
		}
		seen[k] = true
	}
	return nil
}

func checkSecret(secret string) error {
	if secret == "" {
		return &SpecError{Field: "Secret", Reason: "is required"}
	}
	if len(secret) > maxSecretBytes {
		return &SpecError{Field: "Secret", Reason: fmt.Sprintf("is longer than %d bytes", maxSecretBytes)}
	}
	return nil
}

// checkEnv refuses names the deployer or the agent owns, and any value
// holding the secret: the secret has one configuration key of its own.
func checkEnv(env map[string]string, secret string) error {
	for _, k := range sortedKeys(env) {
		switch {
		case !envNameRE.MatchString(k):
			return &SpecError{Field: "Env", Reason: fmt.Sprintf("%q is not an environment variable name", k)}
		case reservedEnvs[k] || strings.HasPrefix(k, "FN_"):
			return &SpecError{Field: "Env", Reason: fmt.Sprintf("%s is set by the deployer or by Fn", k)}
		case secret != "" && strings.Contains(env[k], secret):
			return &SpecError{Field: "Env", Reason: fmt.Sprintf("%s holds the service secret", k)}
		}
	}
	return nil
}

func parseSettings(s deployer.Spec) (parsed, error) {
	p := parsed{Spec: s, memoryMB: DefaultMemoryMB, timeoutS: DefaultTimeoutS, idleTimeoutS: DefaultIdleTimeoutS, env: map[string]string{},
		record: map[string]string{}}
	for _, k := range sortedKeys(s.Settings) {
		v := s.Settings[k]
		var err error
		switch {
		case strings.HasPrefix(k, SettingEnvPrefix):
			name := strings.TrimPrefix(k, SettingEnvPrefix)
			err = checkEnv(map[string]string{name: v}, s.Secret)
			p.env[name] = v
			if err != nil {
				err = &SpecError{Field: "Settings." + k, Reason: err.(*SpecError).Reason} //nolint:errorlint // checkEnv returns only *SpecError
			}
			if v == "" {
				err = &SpecError{Field: "Settings." + k, Reason: "is empty (is " + name + " set in the deploying process's environment?)"}
			}
			if _, dup := s.Env[name]; dup {
				err = &SpecError{Field: "Settings." + k, Reason: "is also in Env"}
			}
		case strings.HasPrefix(k, SettingRecordPrefix):
			err = p.recordSetting(strings.TrimPrefix(k, SettingRecordPrefix), v)
		default:
			err = p.setting(k, v)
		}
		if err != nil {
			return parsed{}, err
		}
	}
	if s.StoreURL != "" {
		if p.storeURL != "" && p.storeURL != s.StoreURL {
			return parsed{}, &SpecError{Field: "Settings." + SettingStoreURL, Reason: "differs from StoreURL"}
		}
		var err error
		if p.storeURL, err = checkStoreURL(s.StoreURL); err != nil {
			return parsed{}, &SpecError{Field: "StoreURL", Reason: err.(*SpecError).Reason} //nolint:errorlint // checkStoreURL returns only *SpecError
		}
	}
	if s.Function.MemoryMB != 0 {
		if s.Function.MemoryMB < 64 || s.Function.MemoryMB > 8192 {
			return parsed{}, &SpecError{Field: "Function.MemoryMB", Reason: "must be 64-8192"}
		}
		p.memoryMB = uint64(s.Function.MemoryMB)
	}
	if s.Function.TimeoutS != 0 {
		if s.Function.TimeoutS < 1 || s.Function.TimeoutS > 300 {
			return parsed{}, &SpecError{Field: "Function.TimeoutS", Reason: "must be 1-300 (Fn's limit)"}
		}
		p.timeoutS = int32(s.Function.TimeoutS)
	}
	if s.Function.MaxInstances != 0 || s.Function.LogRetentionDays != 0 {
		return parsed{}, &SpecError{Field: "Function", Reason: "Fn sets no instance ceiling or log retention per function"}
	}
	if s.Function.PublicURL != "" {
		return parsed{}, &SpecError{Field: "Function.PublicURL", Reason: "is not supported on Fn: set Config.InvokeURL to the address its triggers are reached at"}
	}
	for k := range s.Function.Tags {
		if k == "" || len(k) > 128 || strings.HasPrefix(k, "fnproject.io/") || k == managedAnnotation {
			return parsed{}, &SpecError{Field: "Function.Tags", Reason: fmt.Sprintf("%q is not a usable annotation key", k)}
		}
	}
	if p.storeURL == "" {
		return parsed{}, &SpecError{Field: "Settings." + SettingStoreURL, Reason: "is required (the store the function opens: s3://, gs:// or azblob://)"}
	}
	return p, nil
}

var recordKeyRE = regexp.MustCompile(`^[a-z][a-z0-9_]{0,39}$`)

// recordSetting keeps one record: value (checked: a name, a bounded size,
// not the secret).
func (p *parsed) recordSetting(k, v string) error {
	field := "Settings." + SettingRecordPrefix + k
	switch {
	case !recordKeyRE.MatchString(k):
		return &SpecError{Field: field, Reason: "the key must be 1-40 of a-z, 0-9 and '_'"}
	case len(v) > MaxRecordBytes:
		return &SpecError{Field: field, Reason: fmt.Sprintf("is over %d bytes (an Fn annotation)", MaxRecordBytes)}
	case v == "":
		return &SpecError{Field: field, Reason: "is empty"}
	case p.Secret != "" && strings.Contains(v, p.Secret):
		return &SpecError{Field: field, Reason: "holds the service secret"}
	}
	p.record[k] = v
	return nil
}

func (p *parsed) setting(k, v string) error {
	var err error
	switch k {
	case SettingStoreURL:
		p.storeURL, err = checkStoreURL(v)
	case SettingMemoryMB:
		var n int64
		n, err = whole(k, v, 64, 8192)
		p.memoryMB = uint64(n) //nolint:gosec // G115: bounded above
	case SettingTimeoutS:
		var n int64
		n, err = whole(k, v, 1, 300)
		p.timeoutS = int32(n) //nolint:gosec // G115: bounded above
	case SettingIdleTimeout:
		var n int64
		n, err = whole(k, v, 1, 3600)
		p.idleTimeoutS = int32(n) //nolint:gosec // G115: bounded above
	default:
		err = &SpecError{Field: "Settings", Reason: fmt.Sprintf("unknown key %q", k)}
	}
	return err
}

// checkStoreURL accepts a cloud store URL: a folder store would be the
// Fn node's own disk, which a function's container does not see.
func checkStoreURL(v string) (string, error) {
	u, err := url.Parse(v)
	if err != nil || !storeSchemes[u.Scheme] || u.Host == "" || u.User != nil {
		return "", &SpecError{Field: "Settings." + SettingStoreURL, Reason: "must be an s3://, gs:// or azblob:// store URL with a bucket and no credentials"}
	}
	return v, nil
}

func whole(key, v string, lo, hi int64) (int64, error) {
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < lo || n > hi {
		return 0, &SpecError{Field: "Settings." + key, Reason: fmt.Sprintf("must be a whole number %d-%d", lo, hi)}
	}
	return n, nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
