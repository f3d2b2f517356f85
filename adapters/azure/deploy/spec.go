package deploy

import (
	"fmt"
	"regexp"
	"sort"

	"github.com/openacquire/acquire/adapters/deployer"
)

// Settings keys this deployer reads from Spec.Settings.
const (
	SettingStorageAccount = "storageAccount" // required: holds the store's container and the package
	SettingKeyVault       = "keyVault"       // required: an existing vault in access-policy mode
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
)

// reservedSettings are app settings the deployer owns; Spec.Env may not set
// them, so a typo cannot silently replace the store or the secret reference.
var reservedSettings = map[string]bool{
	envServices: true, envStoreURL: true, envPublicURL: true, envSecret: true,
	"FUNCTIONS_EXTENSION_VERSION": true, "FUNCTIONS_WORKER_RUNTIME": true,
	"WEBSITE_RUN_FROM_PACKAGE": true, "WEBSITE_RUN_FROM_PACKAGE_BLOB_MI_RESOURCE_ID": true,
	"AzureWebJobsStorage": true, "AzureWebJobsStorage__accountName": true,
}

// target is a validated Spec with its Azure names worked out.
type target struct {
	deployer.Spec
	account string
	vault   string
}

func validateName(name string) error {
	if !nameRE.MatchString(name) {
		return &SpecError{"Name", "3-40 of a-z, 0-9 and '-', starting with a letter"}
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
		{nameRE.MatchString(s.Name), "Name", "3-40 of a-z, 0-9 and '-', starting with a letter"},
		{len(s.Kinds) > 0, "Kinds", "at least one service kind"},
		{locationRE.MatchString(s.Location), "Location", "an Azure location such as westeurope"},
		{containerRE.MatchString(s.Bucket), "Bucket", "a blob container name: 3-63 of a-z, 0-9 and single '-'"},
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
	return t, validateEnv(s.Env)
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
)

// CheckSetting checks one value by the rule this deployer applies (a
// Settings key, or subscription, resourceGroup, location), so a caller can
// refuse it earlier (the Terraform provider does, at plan). It names the
// rule, never the value.
func CheckSetting(key, v string) error {
	rules := map[string]struct {
		re   *regexp.Regexp
		rule string
	}{
		SettingStorageAccount: {accountRE, "a storage account name: 3-24 of a-z and 0-9"},
		SettingKeyVault:       {vaultRE, "a Key Vault name: 3-24 of letters, digits and '-'"},
		"location":            {locationRE, "an Azure location such as westeurope"},
		"subscription":        {subscriptionRE, "a subscription id (a GUID)"},
		"resourceGroup":       {resourceGroupRE, "a resource group name: 1-90 of letters, digits, '-', '_', '.', '(' and ')', not ending in '.'"},
	}
	r, ok := rules[key]
	if !ok {
		return &SpecError{"Settings", fmt.Sprintf("unknown key %q", key)}
	}
	if !r.re.MatchString(v) {
		return &SpecError{key, r.rule}
	}
	return nil
}
