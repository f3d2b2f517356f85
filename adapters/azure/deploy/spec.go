package deploy

import (
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/openacquire/acquire/adapters/deployer"
)

// Settings keys this deployer reads from Spec.Settings.
const (
	SettingStorageAccount = "storageAccount" // required: holds the store's container and the deployment container
	SettingKeyVault       = "keyVault"       // required: an existing vault in the RBAC permission model
	// SettingHTTPConcurrency is Flex Consumption's per-instance HTTP
	// trigger concurrency (functionAppConfig.scaleAndConcurrency.triggers.http);
	// optional, the platform's default when absent.
	SettingHTTPConcurrency = "httpConcurrency"
)

// Flex Consumption's sizes and ranges (the deployer's and the provider's
// plan-time rules; see docs/design/provider.md).
var (
	// MemorySizesMB are the instance memory sizes Flex Consumption offers.
	MemorySizesMB = []int64{512, 2048, 4096}
	// MaxInstancesRange bounds maximumInstanceCount.
	MaxInstancesRange = [2]int64{1, 1000}
	// TimeoutRangeS bounds a call: every Acquire function is an HTTP trigger,
	// and Azure's front end ends an HTTP request after 230 s whatever the
	// host's functionTimeout says.
	TimeoutRangeS = [2]int64{1, 230}
	// HTTPConcurrencyRange bounds the per-instance HTTP concurrency.
	HTTPConcurrencyRange = [2]int64{1, 1000}
	// LogRetentionRangeDays bounds the Log Analytics workspace's retention
	// (pay-as-you-go PerGB2018 tier).
	LogRetentionRangeDays = [2]int64{30, 730}
)

// SpecError is a Spec value this deployer refuses. It names the field and
// the rule, never the value (which could be the secret).
type SpecError struct {
	Field  string
	Reason string
}

func (e *SpecError) Error() string {
	return fmt.Sprintf("azure deploy: spec %s: %s", e.Field, e.Reason)
}

var (
	nameRE      = regexp.MustCompile(`^[a-z][a-z0-9-]{2,39}$`)
	kindRE      = regexp.MustCompile(`^[a-z][a-z0-9-]{0,31}$`)
	containerRE = regexp.MustCompile(`^[a-z0-9](?:[a-z0-9]|-[a-z0-9]){2,62}$`)
	accountRE   = regexp.MustCompile(`^[a-z0-9]{3,24}$`)
	vaultRE     = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9-]{1,22}[a-zA-Z0-9]$`)
	envKeyRE    = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,127}$`)
	locationRE  = regexp.MustCompile(`^[a-z0-9]{2,40}$`)
	tagKeyBad   = regexp.MustCompile(`[<>%&\\?/]`)
)

// reservedSettings are app settings the deployer owns; Spec.Env may not set
// them, so a typo cannot silently replace the store, the secret reference
// or the host's storage and telemetry.
var reservedSettings = map[string]bool{
	envServices: true, envStoreURL: true, envPublicURL: true, envSecret: true,
	"AzureWebJobsStorage": true, "AzureWebJobsStorage__accountName": true,
	"AzureFunctionsJobHost__functionTimeout": true,
	"APPLICATIONINSIGHTS_CONNECTION_STRING":  true, "APPLICATIONINSIGHTS_AUTHENTICATION_STRING": true,
	// Flex Consumption refuses these (its runtime and package are in
	// functionAppConfig); refused here so the error names the cause.
	"FUNCTIONS_WORKER_RUNTIME": true, "FUNCTIONS_EXTENSION_VERSION": true, "WEBSITE_RUN_FROM_PACKAGE": true,
	"WEBSITE_RUN_FROM_PACKAGE_BLOB_MI_RESOURCE_ID": true, "SCM_DO_BUILD_DURING_DEPLOYMENT": true, "ENABLE_ORYX_BUILD": true,
}

// target is a validated Spec with its Azure names worked out.
type target struct {
	deployer.Spec
	account     string
	vault       string
	concurrency int64 // 0: the platform's default
}

// deployContainer is the service's own Flex deployment container: the app
// may write there and nowhere else but its store.
func deployContainer(name string) string { return "acquire-pkg-" + name }

func validateName(name string) error {
	if !nameRE.MatchString(name) || !containerRE.MatchString(deployContainer(name)) {
		return &SpecError{"Name", "3-40 of a-z, 0-9 and single '-', starting with a letter"}
	}
	return nil
}

func validate(s deployer.Spec) (target, error) {
	t := target{Spec: s, account: s.Settings[SettingStorageAccount], vault: s.Settings[SettingKeyVault]}
	checks := []struct {
		ok     bool
		field  string
		reason string
	}{
		{validateName(s.Name) == nil, "Name", "3-40 of a-z, 0-9 and single '-', starting with a letter"},
		{len(s.Kinds) > 0, "Kinds", "at least one service kind"},
		{locationRE.MatchString(s.Location), "Location", "an Azure location such as westeurope"},
		{containerRE.MatchString(s.Bucket), "Bucket", "a blob container name: 3-63 of a-z, 0-9 and single '-'"},
		{s.Bucket != deployContainer(s.Name) && s.Bucket != hostContainers[0] && s.Bucket != hostContainers[1],
			"Bucket", "the store may not be the deployment's package container or a Functions host container"},
		{s.Artifact != "", "Artifact", "the path of dist/azure-functions-<arch>.zip"},
		{s.Secret != "", "Secret", "required"},
		{accountRE.MatchString(t.account), "Settings." + SettingStorageAccount, "a storage account name: 3-24 of a-z and 0-9"},
		{vaultRE.MatchString(t.vault), "Settings." + SettingKeyVault, "a Key Vault name: 3-24 of letters, digits and '-'"},
	}
	for _, c := range checks {
		if !c.ok {
			return target{}, &SpecError{c.field, c.reason}
		}
	}
	for _, k := range s.Kinds {
		if !kindRE.MatchString(k) {
			return target{}, &SpecError{"Kinds", "each kind is lowercase letters, digits and '-'"}
		}
	}
	if v, ok := s.Settings[SettingHTTPConcurrency]; ok {
		if err := CheckSetting(SettingHTTPConcurrency, v); err != nil {
			return target{}, err
		}
		t.concurrency, _ = strconv.ParseInt(v, 10, 64)
	}
	if err := CheckFunction(s.Function); err != nil {
		return target{}, err
	}
	return t, validateEnv(s.Env)
}

// CheckFunction checks the function's sizing, retention and tags by Flex
// Consumption's and ARM's rules (zero fields take the defaults), so the
// provider can refuse them at plan with the same words.
func CheckFunction(f deployer.Function) error {
	in := func(v int64, r [2]int64) bool { return v == 0 || (v >= r[0] && v <= r[1]) }
	switch {
	case f.MemoryMB != 0 && !slices.Contains(MemorySizesMB, f.MemoryMB):
		return &SpecError{"Function.MemoryMB", "a Flex Consumption instance size: 512, 2048 or 4096"}
	case !in(f.MaxInstances, MaxInstancesRange):
		return &SpecError{"Function.MaxInstances", fmt.Sprintf("from %d to %d", MaxInstancesRange[0], MaxInstancesRange[1])}
	case !in(f.TimeoutS, TimeoutRangeS):
		return &SpecError{"Function.TimeoutS", fmt.Sprintf("from %d to %d (Azure ends an HTTP request after 230 s)", TimeoutRangeS[0], TimeoutRangeS[1])}
	case !in(f.LogRetentionDays, LogRetentionRangeDays):
		return &SpecError{"Function.LogRetentionDays", fmt.Sprintf("from %d to %d", LogRetentionRangeDays[0], LogRetentionRangeDays[1])}
	case len(f.Tags) > MaxTags:
		return &SpecError{"Function.Tags", fmt.Sprintf("at most %d (ARM takes 50 on a resource; the deployer adds 6)", MaxTags)}
	}
	for k, v := range f.Tags {
		if err := CheckTag(k, v); err != nil {
			return err
		}
	}
	return nil
}

// MaxTags leaves room under ARM's 50 tags per resource for the deployer's
// own six.
const MaxTags = 50 - 6

// CheckTag is ARM's rule for a tag: a key of 1-512 characters without
// < > % & \ ? /, a value of at most 256 (Key Vault secrets allow fewer
// tags but the same lengths); and not one of the deployer's own keys (ARM
// compares tag names without case).
func CheckTag(key, value string) error {
	if key == "" || len(key) > 512 || tagKeyBad.MatchString(key) || len(value) > 256 {
		return &SpecError{"Function.Tags", "Azure tags: keys are 1-512 characters without < > % & \\ ? /, values at most 256"}
	}
	if ownTagKeys[strings.ToLower(key)] {
		return &SpecError{"Function.Tags", "set by the deployer (it finds the deployment by it)"}
	}
	return nil
}

func validateEnv(env map[string]string) error {
	keys := make([]string, 0, len(env))
	for k := range env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if !envKeyRE.MatchString(k) {
			return &SpecError{"Env", fmt.Sprintf("%q is not an app setting name", k)}
		}
		if reservedSettings[k] {
			return &SpecError{"Env", fmt.Sprintf("%s is set by the deployer", k)}
		}
	}
	return nil
}

var (
	subscriptionRE  = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
	resourceGroupRE = regexp.MustCompile(`^[-\w._()]{0,89}[-\w_()]$`)
	concurrencyRE   = regexp.MustCompile(`^[1-9][0-9]{0,3}$`)
)

// CheckSetting checks one value by the rule this deployer applies (a
// Settings key, or subscription, resourceGroup, location), so a caller can
// refuse it earlier (the Terraform provider does, at plan). It names the
// rule, never the value.
func CheckSetting(key, v string) error {
	rules := map[string]struct {
		ok   func(string) bool
		rule string
	}{
		SettingStorageAccount: {accountRE.MatchString, "a storage account name: 3-24 of a-z and 0-9"},
		SettingKeyVault:       {vaultRE.MatchString, "a Key Vault name: 3-24 of letters, digits and '-'"},
		SettingHTTPConcurrency: {func(v string) bool {
			n, err := strconv.ParseInt(v, 10, 64)
			return concurrencyRE.MatchString(v) && err == nil && n >= HTTPConcurrencyRange[0] && n <= HTTPConcurrencyRange[1]
		}, fmt.Sprintf("a whole number from %d to %d", HTTPConcurrencyRange[0], HTTPConcurrencyRange[1])},
		"location":      {locationRE.MatchString, "an Azure location such as westeurope"},
		"subscription":  {subscriptionRE.MatchString, "a subscription id (a GUID)"},
		"resourceGroup": {resourceGroupRE.MatchString, "a resource group name: 1-90 of letters, digits, '-', '_', '.', '(' and ')', not ending in '.'"},
	}
	r, ok := rules[key]
	if !ok {
		return &SpecError{"Settings", fmt.Sprintf("unknown key %q", key)}
	}
	if !r.ok(v) {
		return &SpecError{key, r.rule}
	}
	return nil
}
