package deploy

import (
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/openacquire/acquire/adapters/deployer"
)

// ErrInvalidSpec is matched (errors.Is) by every *SpecError.
var ErrInvalidSpec = errors.New("gcp deploy: invalid spec")

// SpecError says which Spec (or Config) field is wrong and why. It never
// quotes the secret.
type SpecError struct {
	Field  string
	Reason string
}

func (e *SpecError) Error() string {
	return fmt.Sprintf("gcp deploy: invalid %s: %s", e.Field, e.Reason)
}

// Is makes errors.Is(err, ErrInvalidSpec) true.
func (e *SpecError) Is(target error) bool { return target == ErrInvalidSpec }

// Settings keys this deployer reads from Spec.Settings.
const (
	SettingProject        = "project"         // must equal Config.Project if given
	SettingRepository     = "repository"      // Artifact Registry docker repository id (required)
	SettingServiceAccount = "service_account" // the revision's identity, an email (required)
	SettingMemory         = "memory"          // container memory limit, e.g. 512Mi (default Cloud Run's)
	SettingMaxInstances   = "max_instances"   // scaling ceiling, 1-1000 (default Cloud Run's)
)

// maxSecretBytes is Secret Manager's payload limit.
const maxSecretBytes = 64 << 10

var (
	nameRE       = regexp.MustCompile(`^[a-z][a-z0-9-]{1,38}[a-z0-9]$`)
	projectRE    = regexp.MustCompile(`^[a-z][a-z0-9-]{4,28}[a-z0-9]$`)
	regionRE     = regexp.MustCompile(`^[a-z]+-[a-z]+[0-9]+$`)
	bucketRE     = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{1,61}[a-z0-9]$`)
	kindRE       = regexp.MustCompile(`^[a-z][a-z0-9-]{0,39}$`)
	envNameRE    = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,127}$`)
	repoRE       = regexp.MustCompile(`^[a-z][a-z0-9-]{0,62}$`)
	accountRE    = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{0,99}@[a-z0-9.-]+\.gserviceaccount\.com$`)
	memoryRE     = regexp.MustCompile(`^[1-9][0-9]{0,5}(Mi|Gi)$`)
	reservedEnvs = map[string]bool{
		envServices: true, envStoreURL: true, envPublicURL: true, envSecret: true,
		"PORT": true, "K_SERVICE": true, "K_REVISION": true, "K_CONFIGURATION": true,
	}
)

// The environment the deployer owns.
const (
	envServices  = "ACQUIRE_SERVICES"
	envStoreURL  = "ACQUIRE_STORE_URL"
	envPublicURL = "ACQUIRE_PUBLIC_URL"
	envSecret    = "ACQUIRE_SERVICE_SECRET"
)

// parsed is a checked Spec with its settings decoded.
type parsed struct {
	deployer.Spec
	repository     string
	serviceAccount string
	memory         string
	maxInstances   int64
	timeoutS       int64
}

func checkName(name string) error {
	if !nameRE.MatchString(name) {
		return &SpecError{Field: "Name", Reason: "must be 3-40 of a-z, 0-9 and '-', starting with a letter and not ending with '-'"}
	}
	return nil
}

func (d *Deployer) parseSpec(s deployer.Spec) (parsed, error) {
	checks := []func() error{
		func() error { return checkName(s.Name) },
		func() error { return checkLocation(s.Location, d.cfg.Region) },
		func() error { return checkKinds(s.Kinds) },
		func() error { return checkBucket(s.Bucket) },
		func() error { return checkSecret(s.Secret) },
		func() error { return checkEnv(s.Env, s.Secret) },
		func() error { return checkLabels(s.Function.Tags) },
		func() error { return checkFunction(s.Function) },
		func() error {
			if s.Artifact == "" {
				return &SpecError{Field: "Artifact", Reason: "is required (dist/gcp-run-amd64.tar from make dist)"}
			}
			return nil
		},
	}
	for _, check := range checks {
		if err := check(); err != nil {
			return parsed{}, err
		}
	}
	return parseSettings(s, d.cfg.Project)
}

// checkFunction bounds the typed function settings by Cloud Run's and
// Cloud Logging's limits.
func checkFunction(f deployer.Function) error {
	switch {
	case f.LogRetentionDays < 0 || f.LogRetentionDays > MaxLogRetentionDays:
		return &SpecError{Field: "Function.LogRetentionDays", Reason: fmt.Sprintf("must be from 1 to %d (a log bucket's retention)", MaxLogRetentionDays)}
	case f.MemoryMB != 0 && (f.MemoryMB < 128 || f.MemoryMB > 32768):
		return &SpecError{Field: "Function.MemoryMB", Reason: "must be from 128 to 32768 (Cloud Run's memory limits)"}
	case f.TimeoutS < 0 || f.TimeoutS > 3600:
		return &SpecError{Field: "Function.TimeoutS", Reason: "must be from 1 to 3600 (Cloud Run's request timeout)"}
	case f.MaxInstances < 0 || f.MaxInstances > 1000:
		return &SpecError{Field: "Function.MaxInstances", Reason: "must be from 1 to 1000"}
	}
	return nil
}

func checkLocation(loc, region string) error {
	if loc != "" && loc != region {
		return &SpecError{Field: "Location", Reason: fmt.Sprintf("is %q but this deployer works in %q", loc, region)}
	}
	return nil
}

func checkKinds(kinds []string) error {
	if len(kinds) == 0 {
		return &SpecError{Field: "Kinds", Reason: "must name at least one service kind"}
	}
	for _, k := range kinds {
		if !kindRE.MatchString(k) {
			return &SpecError{Field: "Kinds", Reason: fmt.Sprintf("kind %q is not a service kind name", k)}
		}
	}
	return nil
}

func checkBucket(b string) error {
	if !bucketRE.MatchString(b) || strings.Contains(b, "..") || strings.HasPrefix(b, "goog") {
		return &SpecError{Field: "Bucket", Reason: "must be a GCS bucket name (3-63 of a-z, 0-9, '-', '_', '.')"}
	}
	return nil
}

func checkSecret(secret string) error {
	if secret == "" {
		return &SpecError{Field: "Secret", Reason: "is required"}
	}
	if len(secret) > maxSecretBytes {
		return &SpecError{Field: "Secret", Reason: "is longer than Secret Manager's 64 KiB"}
	}
	return nil
}

// checkEnv refuses names the deployer owns, and any value holding the
// secret: the secret goes only through Secret Manager.
func checkEnv(env map[string]string, secret string) error {
	for _, k := range sortedKeys(env) {
		switch {
		case !envNameRE.MatchString(k):
			return &SpecError{Field: "Env", Reason: fmt.Sprintf("%q is not an environment variable name", k)}
		case reservedEnvs[k]:
			return &SpecError{Field: "Env", Reason: fmt.Sprintf("%s is set by the deployer", k)}
		case secret != "" && strings.Contains(env[k], secret):
			return &SpecError{Field: "Env", Reason: fmt.Sprintf("%s holds the service secret; it goes only through Secret Manager", k)}
		}
	}
	return nil
}

func parseSettings(s deployer.Spec, project string) (parsed, error) {
	p := parsed{Spec: s}
	for _, k := range sortedKeys(s.Settings) {
		v := s.Settings[k]
		var err error
		switch k {
		case SettingProject:
			if v != project {
				err = &SpecError{Field: "Settings." + k, Reason: fmt.Sprintf("is %q but this deployer works in %q", v, project)}
			}
		case SettingRepository:
			p.repository, err = matching(k, v, repoRE, "an Artifact Registry repository id")
		case SettingServiceAccount:
			p.serviceAccount, err = matching(k, v, accountRE, "a service account email")
		case SettingMemory:
			p.memory, err = matching(k, v, memoryRE, "a memory size such as 512Mi or 2Gi")
		case SettingMaxInstances:
			p.maxInstances, err = strconv.ParseInt(v, 10, 64)
			if err != nil || p.maxInstances < 1 || p.maxInstances > 1000 {
				err = &SpecError{Field: "Settings." + k, Reason: "must be a whole number 1-1000"}
			}
		default:
			err = &SpecError{Field: "Settings", Reason: fmt.Sprintf("unknown key %q", k)}
		}
		if err != nil {
			return parsed{}, err
		}
	}
	// The typed function settings win over the older string settings.
	if s.Function.MemoryMB > 0 {
		p.memory = strconv.FormatInt(s.Function.MemoryMB, 10) + "Mi"
	}
	if s.Function.MaxInstances > 0 {
		p.maxInstances = s.Function.MaxInstances
	}
	p.timeoutS = s.Function.TimeoutS
	return p, requireSettings(p)
}

func requireSettings(p parsed) error {
	if p.repository == "" {
		return &SpecError{Field: "Settings." + SettingRepository, Reason: "is required (the Artifact Registry repository the image is pushed to)"}
	}
	if p.serviceAccount == "" {
		return &SpecError{Field: "Settings." + SettingServiceAccount, Reason: "is required (the identity that reads the secret and the bucket)"}
	}
	return nil
}

func matching(key, v string, re *regexp.Regexp, what string) (string, error) {
	if !re.MatchString(v) {
		return "", &SpecError{Field: "Settings." + key, Reason: "must be " + what}
	}
	return v, nil
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// CheckSetting checks one value by the rule this deployer applies at
// apply (a Settings key, or "region"), so a caller can refuse it earlier
// (the Terraform provider does, at plan).
func CheckSetting(key, v string) error {
	switch key {
	case SettingProject:
		_, err := matching(key, v, projectRE, "a GCP project id (6-30 of a-z, 0-9, '-')")
		return err
	case "region":
		_, err := matching(key, v, regionRE, "a GCP region such as europe-west1")
		return err
	case SettingRepository:
		_, err := matching(key, v, repoRE, "an Artifact Registry repository id")
		return err
	case SettingServiceAccount:
		_, err := matching(key, v, accountRE, "a service account email (<name>@<project>.iam.gserviceaccount.com)")
		return err
	case SettingMemory:
		_, err := matching(key, v, memoryRE, "a memory size such as 512Mi or 2Gi")
		return err
	}
	return &SpecError{Field: "Settings", Reason: fmt.Sprintf("unknown key %q", key)}
}
