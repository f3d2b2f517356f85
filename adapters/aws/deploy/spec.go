package deploy

import (
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/openacquire/acquire/adapters/aws/lambdafn"
	"github.com/openacquire/acquire/adapters/aws/s3store"
	"github.com/openacquire/acquire/adapters/deployer"
	"github.com/openacquire/acquire/runtime/host"
	"github.com/openacquire/acquire/runtime/service"
)

// Lambda's limits and this deployer's defaults.
const (
	MaxArtifactBytes = 50 << 20 // Lambda's limit for a zip uploaded directly
	MaxEnvBytes      = 4 << 10  // Lambda's limit for all environment variables
	DefaultMemoryMB  = 512
	DefaultTimeoutS  = 30
	MinMemoryMB      = 128
	MaxMemoryMB      = 10240
	MaxTimeoutS      = 900
	DefaultArch      = "arm64"
)

// Settings keys this deployer reads; any other key is refused, so a typo
// does not silently deploy defaults.
const (
	SettingArch     = "arch"      // arm64 (default) or amd64 (x86_64)
	SettingMemoryMB = "memory_mb" // 128..10240, default 512
	SettingTimeoutS = "timeout_s" // 1..900, default 30
	// SettingRoleARN brings the caller's own execution role: the deployer
	// then neither makes nor deletes a role (the given one must allow what
	// accessPolicy does).
	SettingRoleARN = "role_arn"
)

const envSecretARN = lambdafn.EnvSecretARN

// ErrBadSpec is wrapped by every *SpecError.
var ErrBadSpec = errors.New("deploy: bad spec")

// SpecError names the Spec field that is wrong and why. It never repeats
// the secret.
type SpecError struct {
	Field  string
	Reason string
}

func (e *SpecError) Error() string { return fmt.Sprintf("deploy: bad spec: %s: %s", e.Field, e.Reason) }

// Unwrap lets errors.Is(err, ErrBadSpec) match.
func (e *SpecError) Unwrap() error { return ErrBadSpec }

func bad(field, format string, args ...any) error {
	return &SpecError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// plan is a checked Spec with everything derived from it.
type plan struct {
	name, bucket, secretName, roleName string
	roleARN                            string // the caller's own role; "" makes roleName
	publicURL                          string // a custom domain's URL; "" is the function URL
	retentionDays, maxInstances        int64
	tags                               map[string]string
	storeURL                           string
	arch                               types.Architecture
	memoryMB, timeoutS                 int32
	zip                                []byte
	codeSHA256                         string // base64, as Lambda reports CodeSha256
	env                                map[string]string
}

var (
	nameRE    = regexp.MustCompile(`^[a-z][a-z0-9-]{2,39}$`)
	roleARNRE = regexp.MustCompile(`^arn:aws[a-z-]*:iam::[0-9]{12}:role/[A-Za-z0-9+=,.@_/-]{1,512}$`)
)

// function applies the typed function settings over the defaults.
func (p *plan) function(f deployer.Function) error {
	if f.MemoryMB != 0 {
		if f.MemoryMB < MinMemoryMB || f.MemoryMB > MaxMemoryMB {
			return bad("Function.MemoryMB", "must be from %d to %d", MinMemoryMB, MaxMemoryMB)
		}
		p.memoryMB = int32(f.MemoryMB)
	}
	if f.TimeoutS != 0 {
		if f.TimeoutS < 1 || f.TimeoutS > MaxTimeoutS {
			return bad("Function.TimeoutS", "must be from 1 to %d", MaxTimeoutS)
		}
		p.timeoutS = int32(f.TimeoutS)
	}
	return nil
}

func checkName(name string) error {
	if !nameRE.MatchString(name) {
		return bad("Name", "must be 3-40 of a-z, 0-9 and '-', starting with a letter")
	}
	return nil
}

func (d *Deployer) plan(s deployer.Spec) (plan, error) {
	if err := checkName(s.Name); err != nil {
		return plan{}, err
	}
	if s.Location != "" && s.Location != d.region {
		return plan{}, bad("Location", "this deployer manages region %s, not %s", d.region, s.Location)
	}
	if err := service.CheckSecret(s.Secret); err != nil {
		return plan{}, bad("Secret", "%v", err)
	}
	p := plan{name: s.Name, bucket: s.Bucket, secretName: secretName(s.Name), roleName: roleName(s.Name)}
	p.storeURL = "s3://" + s.Bucket + "?region=" + url.QueryEscape(d.region)
	if u, err := url.Parse(p.storeURL); err != nil {
		return plan{}, bad("Bucket", "not a bucket name")
	} else if _, err := s3store.ParseURL(u); err != nil {
		return plan{}, bad("Bucket", "%v", err)
	}
	var err error
	if p.arch, p.memoryMB, p.timeoutS, err = settings(s.Settings); err != nil {
		return plan{}, err
	}
	if err := p.function(s.Function); err != nil {
		return plan{}, err
	}
	p.roleARN = s.Settings[SettingRoleARN]
	p.publicURL = strings.TrimRight(s.Function.PublicURL, "/")
	if err := checkFunction(s.Function); err != nil {
		return plan{}, err
	}
	p.retentionDays, p.maxInstances, p.tags = s.Function.LogRetentionDays, s.Function.MaxInstances, tagsOf(s.Name, s.Function)
	if p.zip, err = readArtifact(s.Artifact, p.arch); err != nil {
		return plan{}, err
	}
	sum := sha256.Sum256(p.zip)
	p.codeSHA256 = base64.StdEncoding.EncodeToString(sum[:])
	if p.env, err = environment(s, p.storeURL); err != nil {
		return plan{}, err
	}
	return p, nil
}

func settings(m map[string]string) (arch types.Architecture, memoryMB, timeoutS int32, err error) {
	for k := range m {
		if k != SettingArch && k != SettingMemoryMB && k != SettingTimeoutS && k != SettingRoleARN {
			return "", 0, 0, bad("Settings", "unknown key %q (known: %s, %s, %s, %s)", k, SettingArch, SettingMemoryMB, SettingTimeoutS, SettingRoleARN)
		}
		if k == SettingRoleARN && !roleARNRE.MatchString(m[k]) {
			return "", 0, 0, bad("Settings[role_arn]", "must be an IAM role ARN")
		}
	}
	switch a := m[SettingArch]; a {
	case "", "arm64":
		arch = types.ArchitectureArm64
	case "amd64", "x86_64":
		arch = types.ArchitectureX8664
	default:
		return "", 0, 0, bad("Settings[arch]", "must be arm64 or amd64")
	}
	if memoryMB, err = intSetting(m, SettingMemoryMB, DefaultMemoryMB, MinMemoryMB, MaxMemoryMB); err != nil {
		return "", 0, 0, err
	}
	if timeoutS, err = intSetting(m, SettingTimeoutS, DefaultTimeoutS, 1, MaxTimeoutS); err != nil {
		return "", 0, 0, err
	}
	return arch, memoryMB, timeoutS, nil
}

func intSetting(m map[string]string, key string, def, lo, hi int32) (int32, error) {
	v, ok := m[key]
	if !ok {
		return def, nil
	}
	n, err := strconv.ParseInt(v, 10, 32)
	if err != nil || int32(n) < lo || int32(n) > hi {
		return 0, bad("Settings["+key+"]", "must be an integer from %d to %d", lo, hi)
	}
	return int32(n), nil
}

var artifactRE = regexp.MustCompile(`^aws-lambda-(arm64|amd64)\.zip$`)

// readArtifact reads the make dist zip, refusing one built for the other
// architecture when its name says so.
func readArtifact(path string, arch types.Architecture) ([]byte, error) {
	if path == "" {
		return nil, bad("Artifact", "missing (the dist/aws-lambda-<arch>.zip from make dist)")
	}
	if m := artifactRE.FindStringSubmatch(filepath.Base(path)); m != nil {
		if want := goArch(arch); m[1] != want {
			return nil, bad("Artifact", "%s is built for %s, the function runs on %s", filepath.Base(path), m[1], want)
		}
	}
	f, err := os.Open(path) //nolint:gosec // the artifact path is the operator's own Spec
	if err != nil {
		return nil, bad("Artifact", "%v", err)
	}
	defer f.Close() //nolint:errcheck // read only
	zip, err := io.ReadAll(io.LimitReader(f, MaxArtifactBytes+1))
	if err != nil {
		return nil, bad("Artifact", "%v", err)
	}
	if len(zip) > MaxArtifactBytes {
		return nil, bad("Artifact", "over Lambda's %d-byte direct upload limit", MaxArtifactBytes)
	}
	if len(zip) < 4 || string(zip[:4]) != "PK\x03\x04" {
		return nil, bad("Artifact", "not a zip file")
	}
	return zip, nil
}

func goArch(a types.Architecture) string {
	if a == types.ArchitectureX8664 {
		return "amd64"
	}
	return "arm64"
}

var (
	envKeyRE = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9_]*$`)
	kindRE   = regexp.MustCompile(`^[a-z][a-z0-9-]{0,39}$`)
	reserved = []string{host.EnvServices, host.EnvStoreURL, host.EnvPublicURL, host.EnvSecret, envSecretARN}
)

// environment is the function's environment without ACQUIRE_PUBLIC_URL
// and the secret ARN, which are known later.
func environment(s deployer.Spec, storeURL string) (map[string]string, error) {
	env := map[string]string{host.EnvStoreURL: storeURL}
	for _, k := range s.Kinds {
		if !kindRE.MatchString(k) {
			return nil, bad("Kinds", "%q is not a service kind", k)
		}
	}
	if len(s.Kinds) > 0 {
		env[host.EnvServices] = strings.Join(s.Kinds, ",")
	}
	keys := make([]string, 0, len(s.Env))
	for k := range s.Env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		switch {
		case !envKeyRE.MatchString(k):
			return nil, bad("Env", "%q is not an environment variable name", k)
		case contains(reserved, k):
			return nil, bad("Env", "%s is set by the deployer (the secret goes in Spec.Secret)", k)
		case strings.Contains(s.Env[k], s.Secret):
			return nil, bad("Env", "%s holds the service secret; it must go only in Spec.Secret", k)
		}
		env[k] = s.Env[k]
	}
	return env, nil
}

// checkEnvSize applies Lambda's limit to the complete environment.
func checkEnvSize(env map[string]string) error {
	n := 0
	for k, v := range env {
		n += len(k) + len(v)
	}
	if n > MaxEnvBytes {
		return bad("Env", "the function environment is %d bytes, over Lambda's %d", n, MaxEnvBytes)
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
