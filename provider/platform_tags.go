package provider

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/openacquire/acquire/adapters/deployer"
)

// Tags: a cloud block's tags_all is every tag the deployer puts on the
// service's objects, the provider's default_tags under the block's tags
// (as terraform-provider-aws's tags_all). It is computed at plan, so a
// change of default_tags alone is a planned in-place update, and read
// back from the deployment (deployer.TagReader) at refresh, so a tag
// changed out of band is drift the next apply puts back.

// serviceTagKey is the tag every deployer sets itself (the sweepers of
// make testacc-live look for it); a caller's value would be overwritten,
// so it is refused.
const serviceTagKey = "acquire-service"

// planTagsAll puts the cloud block's tags_all into the plan, after
// checking the provider's default_tags by the platform's tag rule (GCP
// labels are stricter than AWS tags), naming the key.
func planTagsAll(ctx context.Context, plan *serviceModel, defaultTags map[string]string, resp *resource.ModifyPlanResponse) {
	pm := plan.platform(ctx)
	if pm.cloud() == "" || pm.Block == nil {
		return
	}
	k := platformKinds[pm.Cloud]
	at := path.Root("platform").AtName(pm.Cloud).AtName("tags_all")
	for _, key := range slices.Sorted(maps.Keys(defaultTags)) {
		if err := checkTag(k, key, defaultTags[key]); err != nil {
			resp.Diagnostics.AddAttributeError(path.Root("platform").AtName(pm.Cloud), "Invalid default tag",
				fmt.Sprintf("provider default_tags[%q]: %v (for platform %s of this service).", key, err, pm.Cloud))
		}
		if key == serviceTagKey {
			resp.Diagnostics.AddAttributeError(path.Root("platform").AtName(pm.Cloud), "Reserved tag",
				fmt.Sprintf("provider default_tags[%q]: set by the deployer to the service's name.", key))
		}
	}
	f := pm.Block.function()
	if f.Tags.IsUnknown() || hasUnknown(f.Tags) {
		resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, at, types.MapUnknown(types.StringType))...)
		return
	}
	all := functionSpec(f, defaultTags).Tags
	if len(all) > MaxTags {
		resp.Diagnostics.AddAttributeError(path.Root("platform").AtName(pm.Cloud).AtName("tags"), "Too many tags",
			fmt.Sprintf("platform.%s.tags: with the provider's default_tags, %d tags; at most %d.", pm.Cloud, len(all), MaxTags))
		return
	}
	resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, at, tagsValue(all))...)
}

func hasUnknown(m types.Map) bool {
	for _, v := range m.Elements() {
		if v.IsUnknown() {
			return true
		}
	}
	return false
}

// tagsValue is a tag map as tags_all: null when empty, so a service with
// no tags reads back as it plans.
func tagsValue(tags map[string]string) types.Map {
	if len(tags) == 0 {
		return types.MapNull(types.StringType)
	}
	vals := map[string]attr.Value{}
	for k, v := range tags {
		vals[k] = types.StringValue(v)
	}
	return types.MapValueMust(types.StringType, vals)
}

// withTagsAll is the platform object with the cloud block's tags_all
// replaced.
func withTagsAll(obj types.Object, cloud string, tags map[string]string) (types.Object, diag.Diagnostics) {
	var d diag.Diagnostics
	outer := maps.Clone(obj.Attributes())
	block, ok := outer[cloud].(types.Object)
	if !ok || block.IsNull() || block.IsUnknown() {
		return obj, d
	}
	inner := maps.Clone(block.Attributes())
	if _, ok := inner["tags_all"]; !ok {
		return obj, d
	}
	inner["tags_all"] = tagsValue(tags)
	nb, dd := types.ObjectValue(block.AttributeTypes(context.Background()), inner)
	d.Append(dd...)
	outer[cloud] = nb
	no, dd := types.ObjectValue(obj.AttributeTypes(context.Background()), outer)
	d.Append(dd...)
	return no, d
}

// keepTagsAll writes into m's platform the tags the cloud platform p
// applied or read back (nothing for local, or a deployer that cannot read
// tags back).
func keepTagsAll(ctx context.Context, m *serviceModel, p platform) diag.Diagnostics {
	c, ok := p.(*cloudPlatform)
	if !ok || c.tags == nil {
		return nil
	}
	pm := m.platform(ctx)
	if pm.cloud() == "" {
		return nil
	}
	o, d := withTagsAll(m.Platform, pm.Cloud, c.tags)
	if !d.HasError() {
		m.Platform = o
	}
	return d
}

// readTags asks a deployer that can for the deployment's tags (nil when
// it cannot).
func readTags(ctx context.Context, d deployer.Deployer, name string) (map[string]string, error) {
	tr, ok := inner(d).(deployer.TagReader)
	if !ok {
		return nil, nil
	}
	return tr.Tags(ctx, name)
}

// recordReader is a deployer that keeps its platform block's
// configuration-only values on the deployment (Fn: the function's
// annotations), so an import rebuilds the block and the first plan after
// it is empty.
type recordReader interface {
	Record(ctx context.Context, name string) (map[string]string, error)
}

// restoreImported fills an imported service's cloud block (every
// attribute but its ImportKeys null) from the deployment: the recorded
// values, and tags as read back less the provider's default_tags.
func restoreImported(ctx context.Context, m *serviceModel, p platform, defaultTags map[string]string) diag.Diagnostics {
	var d diag.Diagnostics
	c, ok := p.(*cloudPlatform)
	pm := m.platform(ctx)
	if !ok || c.record == nil || pm.cloud() == "" {
		return d
	}
	outer := maps.Clone(m.Platform.Attributes())
	block, ok := outer[pm.Cloud].(types.Object)
	if !ok || block.IsNull() {
		return d
	}
	inner := maps.Clone(block.Attributes())
	for k, v := range c.record {
		cur, ok := inner[k]
		if !ok || !cur.IsNull() {
			continue
		}
		switch cur.(type) {
		case types.String:
			inner[k] = types.StringValue(v)
		case types.Int64:
			if n, err := strconv.ParseInt(v, 10, 64); err == nil {
				inner[k] = types.Int64Value(n)
			}
		case types.List:
			var elems []attr.Value
			for _, e := range strings.Split(v, ",") {
				elems = append(elems, types.StringValue(e))
			}
			inner[k] = types.ListValueMust(types.StringType, elems)
		}
	}
	if t, ok := inner["tags"]; ok && t.IsNull() && len(c.tags) > 0 {
		own := map[string]string{}
		for k, v := range c.tags {
			if dv, def := defaultTags[k]; !def || dv != v {
				own[k] = v
			}
		}
		inner["tags"] = tagsValue(own)
	}
	nb, dd := types.ObjectValue(block.AttributeTypes(ctx), inner)
	d.Append(dd...)
	outer[pm.Cloud] = nb
	no, dd := types.ObjectValue(m.Platform.AttributeTypes(ctx), outer)
	d.Append(dd...)
	if !d.HasError() {
		m.Platform = no
	}
	return d
}

// inner is the deployer under the provider's logging wrapper, for its
// optional interfaces (TagReader, recordReader), which the wrapper does
// not forward.
func inner(d deployer.Deployer) deployer.Deployer {
	if l, ok := d.(*loggedDeployer); ok {
		return l.d
	}
	return d
}
