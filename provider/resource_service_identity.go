package provider

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/openacquire/acquire/runtime/host"
)

// A service's identity is where it runs and its name: platform (local or
// a registered cloud), that platform's ImportKeys (aws region, gcp
// project and region, azure subscription and resource group: the union of
// every registered platform's keys, null where they do not apply) and the
// deployment's name. It carries what the string import ID
// "<platform>/<keys...>/<name>" does, so both imports share one path.

// localPlatformName is the identity's platform for a service on an
// `acquire host` (the provider's, or platform.local's host_url).
const localPlatformName = "local"

// serviceIdentityKeys are every registered platform's ImportKeys, sorted.
func serviceIdentityKeys() []string {
	keys := map[string]bool{}
	for _, k := range platformKinds {
		for _, a := range k.ImportKeys {
			keys[a] = true
		}
	}
	return slices.Sorted(maps.Keys(keys))
}

// IdentitySchema: platform, its ImportKeys and the deployment's name.
func (r *serviceResource) IdentitySchema(_ context.Context, _ resource.IdentitySchemaRequest, resp *resource.IdentitySchemaResponse) {
	attrs := []identityAttr{
		{Name: "name", Required: true, Description: "The deployment's name."},
		{Name: "platform", Description: "Where it runs: " + localPlatformName + " (the default: the provider's host) or one of " +
			strings.Join(platformNames(), ", ") + "."},
	}
	for _, key := range serviceIdentityKeys() {
		var on []string
		for _, name := range platformNames() {
			if slices.Contains(platformKinds[name].ImportKeys, key) {
				on = append(on, name)
			}
		}
		attrs = append(attrs, identityAttr{Name: key, Description: "The platform block's " + key + " (" + strings.Join(on, ", ") + ")."})
	}
	resp.IdentitySchema = identitySchema(attrs...)
}

// identity is m's identity as name/value pairs for setIdentity.
func (m *serviceModel) identity(ctx context.Context) []string {
	name := m.Name.ValueString()
	if name == "" {
		name = m.ID.ValueString()
	}
	out := []string{"name", name, "platform", localPlatformName}
	pm := m.platform(ctx)
	var block map[string]any
	if c := pm.cloud(); c != "" {
		out[3] = c
		block = map[string]any{}
		for k, v := range pm.Raw.Attributes() {
			block[k] = v
		}
	}
	for _, key := range serviceIdentityKeys() {
		v, _ := block[key].(types.String)
		out = append(out, key, v.ValueString())
	}
	return out
}

// serviceImportID turns an import by identity into the string import ID
// ("<name>" on the local platform, "<platform>/<keys...>/<name>" on a
// cloud), refusing, by attribute, a key the platform needs that is missing
// or one it does not take.
func serviceImportID(ctx context.Context, req resource.ImportStateRequest) (string, bool, diag.Diagnostics) {
	keys := serviceIdentityKeys()
	values, ok, d := importedIdentity(ctx, req, append([]string{"name", "platform"}, keys...)...)
	if !ok || d.HasError() {
		return "", ok, d
	}
	name, platform, given := values[0], values[1], map[string]string{}
	for i, k := range keys {
		given[k] = values[i+2]
	}
	if !requireIdentity([]string{"name"}, values[:1], &d) {
		return "", true, d
	}
	if platform == "" || platform == localPlatformName {
		for _, k := range keys {
			if given[k] != "" {
				d.AddAttributeError(path.Root(k), "Invalid import identity", fmt.Sprintf("%s is not taken on the local platform", k))
			}
		}
		return name, true, d
	}
	k, known := platformKinds[platform]
	if !known {
		d.AddAttributeError(path.Root("platform"), "Invalid import identity",
			fmt.Sprintf("platform %q: want %s or one of %s", platform, localPlatformName, strings.Join(platformNames(), ", ")))
		return "", true, d
	}
	parts := []string{platform}
	for _, key := range keys {
		switch needed := slices.Contains(k.ImportKeys, key); {
		case needed && given[key] == "":
			d.AddAttributeError(path.Root(key), "Incomplete import identity", fmt.Sprintf("platform %s needs %q", platform, key))
		case !needed && given[key] != "":
			d.AddAttributeError(path.Root(key), "Invalid import identity", fmt.Sprintf("platform %s takes no %q", platform, key))
		}
	}
	for _, key := range k.ImportKeys {
		if strings.Contains(given[key], "/") {
			d.AddAttributeError(path.Root(key), "Invalid import identity", fmt.Sprintf("%s must not hold a /", key))
		}
		parts = append(parts, given[key])
	}
	return strings.Join(append(parts, name), "/"), true, d
}

// logFields are the service's log fields: name, kind, platform, store
// (redacted) and URL once known.
func (m *serviceModel) logFields(ctx context.Context) []any {
	platform := m.platform(ctx).cloud()
	if platform == "" {
		platform = localPlatformName
	}
	f := []any{logService, m.Name.ValueString(), logKind, m.Kind.ValueString(), logPlatform, platform}
	if m.Store != nil {
		f = append(f, logStore, redactURL(m.Store.storeURL()))
	}
	if u := m.URL.ValueString(); u != "" {
		f = append(f, logURL, u)
	}
	return f
}

// adminPasswordOf is the admin password a spec sends ("" if none), to mask.
func adminPasswordOf(s host.Spec) string {
	if s.Admin == nil {
		return ""
	}
	return s.Admin.Password
}
