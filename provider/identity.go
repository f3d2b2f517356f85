package provider

import (
	"context"
	"fmt"
	"slices"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/identityschema"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-framework/types"
)

// Resource identity (terraform-plugin-framework >= 1.15; Terraform >= 1.12,
// OpenTofu >= 1.12): every importable resource declares the attributes
// that name it, sets them on every create, read and update, and imports by
// them (`import { identity = {...} }`) as by its string ID. Identity
// attributes are plain strings, never secrets: the same values are already
// in the resource's ID.

// identityAttr is one identity attribute: its name, whether an import
// must give it, and its description.
type identityAttr struct {
	Name, Description string
	Required          bool
}

// identitySchema builds an identity schema of string attributes.
func identitySchema(attrs ...identityAttr) identityschema.Schema {
	s := identityschema.Schema{Attributes: map[string]identityschema.Attribute{}}
	for _, a := range attrs {
		s.Attributes[a.Name] = identityschema.StringAttribute{
			RequiredForImport: a.Required, OptionalForImport: !a.Required, Description: a.Description,
		}
	}
	return s
}

// setIdentity writes name/value pairs into a response's identity; an
// empty value is written as null (an attribute that does not apply). A nil
// identity (a resource without identity support in this call) is skipped.
func setIdentity(ctx context.Context, id *tfsdk.ResourceIdentity, pairs ...string) diag.Diagnostics {
	var d diag.Diagnostics
	if id == nil {
		return d
	}
	if len(pairs)%2 != 0 {
		d.AddError("Provider error", "setIdentity needs name/value pairs")
		return d
	}
	for i := 0; i < len(pairs); i += 2 {
		v := types.StringValue(pairs[i+1])
		if pairs[i+1] == "" {
			v = types.StringNull()
		}
		d.Append(id.SetAttribute(ctx, path.Root(pairs[i]), v)...)
	}
	return d
}

// importedIdentity reads the named attributes of an import by identity,
// in order ("" for an attribute not given). ok is false when the import
// is by string ID (req.ID set) or the identity holds none of them.
func importedIdentity(ctx context.Context, req resource.ImportStateRequest, names ...string) (values []string, ok bool, d diag.Diagnostics) {
	if req.ID != "" || req.Identity == nil || req.Identity.Raw.IsNull() {
		return nil, false, d
	}
	values = make([]string, len(names))
	for i, n := range names {
		var v types.String
		d.Append(req.Identity.GetAttribute(ctx, path.Root(n), &v)...)
		values[i] = v.ValueString()
	}
	return values, !d.HasError() && slices.ContainsFunc(values, func(s string) bool { return s != "" }), d
}

// requireIdentity reports, naming the attribute, the first required
// identity value that is missing.
func requireIdentity(names, values []string, d *diag.Diagnostics) bool {
	for i, n := range names {
		if values[i] == "" {
			d.AddAttributeError(path.Root(n), "Incomplete import identity", fmt.Sprintf("the import identity needs %q", n))
			return false
		}
	}
	return true
}
