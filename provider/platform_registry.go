package provider

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"maps"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/objectplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-framework/types/basetypes"
	"github.com/hashicorp/terraform-plugin-go/tftypes"

	"github.com/openacquire/acquire/adapters/deployer"
)

// A cloud platform is a typed block under acquire_service's platform
// attribute (platform = { aws = {...} }). Each is registered once, by an
// init function in the file that defines it (platform_aws.go,
// platform_gcp.go, platform_azure.go, platform_fn.go), so adding a platform
// touches no shared file: the schema, plan-time validation, the deployer and
// the docs all come from the registration.

// platformKind is one registered cloud platform block.
type platformKind struct {
	// Name is the block's name under platform: aws, gcp, azure, fn.
	Name string
	// Stores are the store blocks a service on it may keep its state on
	// (s3, gcs, azure); the first is named in errors.
	Stores []string
	// Description documents the block.
	Description string
	// Attributes are the block's own attributes. Every block also gets the
	// function attributes (functionAttributes): artifact, artifact_sha256,
	// memory_mb, timeout_s, max_instances, log_retention_days, tags.
	Attributes map[string]schema.Attribute
	// Replace are the attributes whose change replaces the service (where
	// it runs: region, project, account); any other change, and the
	// function attributes, update it in place.
	Replace []string
	// ImportKeys are the attributes an import ID carries, in order:
	// "<Name>/<value>/.../<deployment name>"; each is in Replace.
	ImportKeys []string
	// ImportEnv names, for each ImportKey, an environment variable that
	// gives its value when the import ID leaves the keys out
	// ("<Name>/<deployment name>"); nil: the keys are required.
	ImportEnv map[string]string
	// Limits bound the function attributes on this platform.
	Limits functionLimits
	// Decode reads the block (from config, plan or state; values may be
	// unknown at plan) into the platform's typed model. decodeAs[T] does it
	// for a struct T that embeds functionModel and implements cloudBlock.
	Decode func(ctx context.Context, obj types.Object) (cloudBlock, diag.Diagnostics)
}

// functionLimits are a platform's ranges for the function attributes
// (inclusive; 0 max: the attribute is refused on that platform).
type functionLimits struct {
	MemoryMB, TimeoutS, MaxInstances, LogRetentionDays [2]int64
	// Tag checks one tag (GCP labels are stricter than AWS tags); nil
	// accepts any key of 1-128 and value of 0-256 bytes.
	Tag func(key, value string) error
}

// cloudBlock is one decoded cloud platform block.
type cloudBlock interface {
	// function is the block's function attributes (promoted from the
	// embedded functionModel).
	function() *functionModel
	// validate adds the block's own plan-time errors (required values,
	// cross-field rules with the store), each at its attribute; at is the
	// block's path. Unknown values are skipped: they are checked at apply.
	validate(at path.Path, store *storeModel, d *diag.Diagnostics)
	// location is deployer.Spec.Location (region or Azure location).
	location() string
	// settings are the deployer's cloud-specific settings
	// (deployer.Spec.Settings), from the typed attributes.
	settings() map[string]string
	// newDeployer builds the platform's deployer (at apply and refresh,
	// never at plan).
	newDeployer(ctx context.Context) (deployer.Deployer, error)
}

var platformKinds = map[string]platformKind{}

// registerPlatform adds a cloud platform block; called from init.
func registerPlatform(k platformKind) {
	if _, dup := platformKinds[k.Name]; dup || k.Name == "local" || k.Decode == nil || len(k.Stores) == 0 {
		panic("provider: bad or duplicate platform registration " + k.Name)
	}
	platformKinds[k.Name] = k
}

// platformNames are the registered cloud platforms, sorted.
func platformNames() []string { return slices.Sorted(maps.Keys(platformKinds)) }

// decodeAs decodes a block into T (a struct embedding functionModel whose
// pointer implements cloudBlock).
func decodeAs[T any, PT interface {
	*T
	cloudBlock
}](ctx context.Context, obj types.Object) (cloudBlock, diag.Diagnostics) {
	var v T
	d := obj.As(ctx, &v, basetypes.ObjectAsOptions{UnhandledNullAsEmpty: true, UnhandledUnknownAsEmpty: true})
	return PT(&v), d
}

// functionModel is what every cloud block says about the function itself.
// Embed it (with no tfsdk tag) in a platform's model.
type functionModel struct {
	Artifact         types.String `tfsdk:"artifact"`
	ArtifactSHA256   types.String `tfsdk:"artifact_sha256"`
	MemoryMB         types.Int64  `tfsdk:"memory_mb"`
	TimeoutS         types.Int64  `tfsdk:"timeout_s"`
	MaxInstances     types.Int64  `tfsdk:"max_instances"`
	LogRetentionDays types.Int64  `tfsdk:"log_retention_days"`
	Tags             types.Map    `tfsdk:"tags"`
	TagsAll          types.Map    `tfsdk:"tags_all"`
	PublicURL        types.String `tfsdk:"public_url"`
}

func (f *functionModel) function() *functionModel { return f }

var sha256Hex = regexp.MustCompile(`^[0-9a-f]{64}$`)

// MaxTags bounds the tags on one service (provider default_tags included):
// AWS allows 50 per resource, GCP 64 labels.
const MaxTags = 50

// functionAttributes are the attributes every cloud block has.
func functionAttributes(k platformKind) map[string]schema.Attribute {
	rng := func(what string, r [2]int64) string {
		if r[1] == 0 {
			return " Not supported on " + k.Name + "."
		}
		return fmt.Sprintf(" %s %d to %d.", what, r[0], r[1])
	}
	return map[string]schema.Attribute{
		"artifact": schema.StringAttribute{Required: true, Description: "The function's artifact from `make dist` or a release: " +
			"an absolute path, or an https URL (then artifact_sha256 is required). A path must exist at plan time; nothing is built."},
		"artifact_sha256": schema.StringAttribute{Optional: true, Description: "SHA-256 of the artifact (64 hex digits, as " +
			"`dist/SHA256SUMS`). Checked at plan for a path, and at apply for what is deployed; required for a URL."},
		"memory_mb":          schema.Int64Attribute{Optional: true, Description: "Memory of one instance, MiB." + rng("From", k.Limits.MemoryMB)},
		"timeout_s":          schema.Int64Attribute{Optional: true, Description: "Longest a call may run, seconds." + rng("From", k.Limits.TimeoutS)},
		"max_instances":      schema.Int64Attribute{Optional: true, Description: "Most instances (concurrency ceiling)." + rng("From", k.Limits.MaxInstances)},
		"log_retention_days": schema.Int64Attribute{Optional: true, Description: "Days the function's logs are kept." + rng("From", k.Limits.LogRetentionDays)},
		"public_url": schema.StringAttribute{Optional: true, Validators: []validatorString{httpURL()},
			Description: "The service's URL when a custom domain fronts the function (DNS and certificate are yours to route " +
				"to the function's own URL, before apply: the registry calls the service there). The service's identity is its " +
				"URL and keys, so with the same public_url and store it keeps its identity when it moves to another platform. " +
				"Default: the platform's own URL."},
		"tags": schema.MapAttribute{Optional: true, ElementType: types.StringType, Description: fmt.Sprintf("Tags (labels on GCP) put on "+
			"every object the deployer makes for this service, over the provider's default_tags (at most %d in all). A change "+
			"updates every object in place.", MaxTags)},
		"tags_all": schema.MapAttribute{Computed: true, ElementType: types.StringType, Description: "Every tag on the service's " +
			"objects: the provider's default_tags under tags (the deployer's own tags, acquire-service and Azure's acquire-*, left out). " +
			"Planned from the configuration, so a default_tags change alone updates the service in place; read back from the " +
			"deployment's main object (AWS, GCP, Azure, Fn), so a tag changed out of band shows as drift and the next apply puts " +
			"the configured ones back."},
	}
}

// validateFunction checks the function attributes against the platform's
// limits, and the artifact: a path must exist (and match its checksum), a
// URL must carry a checksum. Nothing is built or written.
func validateFunction(k platformKind, f *functionModel, at path.Path, d *diag.Diagnostics) {
	checkRange := func(name string, v types.Int64, r [2]int64) {
		if v.IsNull() || v.IsUnknown() {
			return
		}
		if r[1] == 0 {
			d.AddAttributeError(at.AtName(name), "Not supported", fmt.Sprintf("%s: not supported on %s.", at.AtName(name), k.Name))
		} else if n := v.ValueInt64(); n < r[0] || n > r[1] {
			d.AddAttributeError(at.AtName(name), "Out of range", fmt.Sprintf("%s: %d is not in %d to %d on %s.", at.AtName(name), n, r[0], r[1], k.Name))
		}
	}
	checkRange("memory_mb", f.MemoryMB, k.Limits.MemoryMB)
	checkRange("timeout_s", f.TimeoutS, k.Limits.TimeoutS)
	checkRange("max_instances", f.MaxInstances, k.Limits.MaxInstances)
	checkRange("log_retention_days", f.LogRetentionDays, k.Limits.LogRetentionDays)
	if !f.Tags.IsUnknown() {
		for key, v := range f.Tags.Elements() {
			s, ok := v.(types.String)
			if ok && !s.IsUnknown() {
				if err := checkTag(k, key, s.ValueString()); err != nil {
					d.AddAttributeError(at.AtName("tags").AtMapKey(key), "Invalid tag", fmt.Sprintf("%s: %v.", at.AtName("tags").AtMapKey(key), err))
				}
			}
		}
		if len(f.Tags.Elements()) > MaxTags {
			d.AddAttributeError(at.AtName("tags"), "Too many tags", fmt.Sprintf("%s: at most %d.", at.AtName("tags"), MaxTags))
		}
	}
	sum := f.ArtifactSHA256
	if !sum.IsNull() && !sum.IsUnknown() && !sha256Hex.MatchString(sum.ValueString()) {
		d.AddAttributeError(at.AtName("artifact_sha256"), "Invalid checksum", fmt.Sprintf("%s: must be 64 lowercase hex digits.", at.AtName("artifact_sha256")))
		return
	}
	if f.Artifact.IsUnknown() || f.Artifact.IsNull() {
		return
	}
	if err := checkArtifact(f.Artifact.ValueString(), sum.ValueString(), sum.IsUnknown()); err != nil {
		d.AddAttributeError(at.AtName(err.attr), "Bad artifact", fmt.Sprintf("%s: %s.", at.AtName(err.attr), err.msg))
	}
}

func checkTag(k platformKind, key, value string) error {
	if k.Limits.Tag != nil {
		return k.Limits.Tag(key, value)
	}
	if key == "" || len(key) > 128 || len(value) > 256 {
		return fmt.Errorf("keys are 1-128 bytes and values at most 256")
	}
	return nil
}

type artifactError struct{ attr, msg string }

// checkArtifact: an https URL needs a checksum (the apply downloads and
// checks it); a path must be absolute, a regular file, and match the
// checksum when one is given.
func checkArtifact(a, sum string, sumUnknown bool) *artifactError {
	if strings.Contains(a, "://") {
		u, err := url.Parse(a)
		if err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil {
			return &artifactError{"artifact", fmt.Sprintf("%q is neither an absolute path nor an https URL without credentials", a)}
		}
		if sum == "" && !sumUnknown {
			return &artifactError{"artifact_sha256", "required when the artifact is a URL (the apply checks what it downloads)"}
		}
		return nil
	}
	if !filepath.IsAbs(a) {
		return &artifactError{"artifact", fmt.Sprintf("%q must be an absolute path (e.g. \"${abspath(path.root)}/../../dist/...\") or an https URL", a)}
	}
	fi, err := os.Stat(a)
	if err != nil || !fi.Mode().IsRegular() {
		return &artifactError{"artifact", fmt.Sprintf("%s does not exist or is not a file: run `make dist` (or download the release) first", a)}
	}
	if sum == "" {
		return nil
	}
	got, err := fileSHA256(a)
	if err != nil {
		return &artifactError{"artifact", err.Error()}
	}
	if got != sum {
		return &artifactError{"artifact_sha256", fmt.Sprintf("the artifact's SHA-256 is %s, not the one given", got)}
	}
	return nil
}

func fileSHA256(p string) (string, error) {
	f, err := os.Open(p) //nolint:gosec // the configured artifact
	if err != nil {
		return "", err
	}
	defer func() { _ = f.Close() }()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// platformModel is the decoded platform attribute: local, or one cloud.
type platformModel struct {
	Local *localPlatformModel
	// Cloud names the cloud block given ("" for none); Block is it decoded.
	Cloud string
	Block cloudBlock
	// Given lists every block set, to refuse more than one.
	Given []string
	// Raw is the cloud block as configured.
	Raw types.Object
}

// cloud names the cloud platform block given ("" for local or none).
func (p *platformModel) cloud() string {
	if p == nil {
		return ""
	}
	return p.Cloud
}

// parsePlatform decodes the platform attribute (nil when null).
func parsePlatform(ctx context.Context, obj types.Object) (*platformModel, diag.Diagnostics) {
	var d diag.Diagnostics
	if obj.IsNull() || obj.IsUnknown() {
		return nil, d
	}
	p := &platformModel{}
	attrs := obj.Attributes()
	if l, ok := attrs["local"].(types.Object); ok && !l.IsNull() {
		p.Given = append(p.Given, "local")
		p.Local = &localPlatformModel{}
		d.Append(l.As(ctx, p.Local, basetypes.ObjectAsOptions{UnhandledUnknownAsEmpty: true})...)
	}
	for _, name := range platformNames() {
		o, ok := attrs[name].(types.Object)
		if !ok || o.IsNull() {
			continue
		}
		p.Given = append(p.Given, name)
		if p.Cloud == "" {
			b, dd := platformKinds[name].Decode(ctx, o)
			d.Append(dd...)
			p.Cloud, p.Block, p.Raw = name, b, o
		}
	}
	return p, d
}

// requiredAttributes are the block attributes a platform needs. The schema
// marks them optional: the framework demands a block's required attributes
// even when the block is absent, so validatePlatform checks them instead,
// naming each (missingRequired).
func requiredAttributes(k platformKind) []string {
	var out []string
	for name, a := range functionAttributesWith(k) {
		if a.IsRequired() {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

func functionAttributesWith(k platformKind) map[string]schema.Attribute {
	attrs := functionAttributes(k)
	maps.Copy(attrs, k.Attributes)
	return attrs
}

// blockAttributes are k's attributes as its block's schema: the required
// ones optional (requiredAttributes), their description saying "Required".
func blockAttributes(k platformKind) map[string]schema.Attribute {
	attrs := functionAttributesWith(k)
	for name, a := range attrs {
		if s, ok := a.(schema.StringAttribute); ok && s.Required {
			s.Required, s.Optional = false, true
			s.Description = "Required. " + s.Description
			attrs[name] = s
		}
	}
	return attrs
}

// missingRequired reports each required attribute left out of a block.
func missingRequired(k platformKind, raw types.Object, at path.Path, d *diag.Diagnostics) bool {
	missing := false
	for _, name := range requiredAttributes(k) {
		if v, ok := raw.Attributes()[name]; !ok || v.IsNull() {
			d.AddAttributeError(at.AtName(name), "Missing required argument",
				fmt.Sprintf("%s: the argument %q is required on platform %s.", at.AtName(name), name, k.Name))
			missing = true
		}
	}
	return missing
}

// functionSpec is the function attributes and tags as deployer.Spec
// fields (defaults are the deployer's).
func functionSpec(f *functionModel, defaultTags map[string]string) deployer.Function {
	fn := deployer.Function{Tags: map[string]string{}}
	maps.Copy(fn.Tags, defaultTags)
	for k, v := range f.Tags.Elements() {
		if s, ok := v.(types.String); ok {
			fn.Tags[k] = s.ValueString()
		}
	}
	fn.ArtifactSHA256 = f.ArtifactSHA256.ValueString()
	fn.MemoryMB, fn.TimeoutS = f.MemoryMB.ValueInt64(), f.TimeoutS.ValueInt64()
	fn.MaxInstances, fn.LogRetentionDays = f.MaxInstances.ValueInt64(), f.LogRetentionDays.ValueInt64()
	fn.PublicURL = strings.TrimRight(f.PublicURL.ValueString(), "/")
	return fn
}

// platformReplace is the platform block's plan modifier: a service is
// replaced when it moves to another platform or another place on it (a
// Replace attribute of its block changes), and updated in place
// otherwise (memory, timeout, tags, artifact...). An attribute null in
// state (an imported service knows only its ImportKeys) does not count.
func platformReplace(ctx context.Context, req planmodifier.ObjectRequest, resp *objectplanmodifier.RequiresReplaceIfFuncResponse) {
	from, _ := parsePlatform(ctx, req.StateValue)
	to, _ := parsePlatform(ctx, req.PlanValue)
	if from.cloud() != to.cloud() {
		resp.RequiresReplace = true
		return
	}
	if from.cloud() == "" {
		if from != nil && to != nil && from.Local != nil && to.Local != nil && !from.Local.HostURL.Equal(to.Local.HostURL) {
			resp.RequiresReplace = true
		}
		return
	}
	was, now := from.Raw.Attributes(), to.Raw.Attributes()
	for _, a := range platformKinds[from.Cloud].Replace {
		if !was[a].IsNull() && !was[a].Equal(now[a]) {
			resp.RequiresReplace = true
		}
	}
}

// importedPlatform is the platform object of a service imported by
// "<cloud>/<key values>/<name>": the cloud block with its ImportKeys set,
// everything else null (Read fills what the deployment says, the
// configuration the rest).
func importedPlatform(ctx context.Context, k platformKind, values []string) (types.Object, diag.Diagnostics) {
	var d diag.Diagnostics
	top := platformSchema().Type().(basetypes.ObjectType)
	attrs := map[string]attr.Value{}
	for name, t := range top.AttrTypes {
		ot := t.(basetypes.ObjectType)
		if name != k.Name {
			attrs[name] = types.ObjectNull(ot.AttrTypes)
			continue
		}
		inner := map[string]attr.Value{}
		for a, at := range ot.AttrTypes {
			v, err := at.ValueFromTerraform(ctx, tftypes.NewValue(at.TerraformType(ctx), nil))
			if err != nil {
				d.AddError("Import", err.Error())
				return types.ObjectNull(top.AttrTypes), d
			}
			inner[a] = v
		}
		for i, a := range k.ImportKeys {
			inner[a] = types.StringValue(values[i])
		}
		o, dd := types.ObjectValue(ot.AttrTypes, inner)
		d.Append(dd...)
		attrs[name] = o
	}
	o, dd := types.ObjectValue(top.AttrTypes, attrs)
	d.Append(dd...)
	return o, d
}

// importValues are the ImportKeys' values from an import ID's middle
// parts, each URL-path-unescaped (so a value holding '/', such as Fn's API
// URL, can be given escaped), or, when the ID leaves them all out and the
// platform allows it, from the environment (ImportEnv).
func importValues(k platformKind, parts []string) ([]string, error) {
	if len(parts) == 0 && len(k.ImportKeys) > 0 && k.ImportEnv != nil {
		out := make([]string, len(k.ImportKeys))
		for i, key := range k.ImportKeys {
			if out[i] = os.Getenv(k.ImportEnv[key]); out[i] == "" {
				return nil, fmt.Errorf("%s is not in the ID and %s is not set", key, k.ImportEnv[key])
			}
		}
		return out, nil
	}
	if len(parts) != len(k.ImportKeys) {
		return nil, fmt.Errorf("%d values before the name, not %d", len(k.ImportKeys), len(parts))
	}
	out := make([]string, len(parts))
	for i, p := range parts {
		v, err := url.PathUnescape(p)
		if err != nil || v == "" {
			return nil, fmt.Errorf("%s: %q is not a URL-escaped value", k.ImportKeys[i], p)
		}
		out[i] = v
	}
	return out, nil
}
