package provider

import (
	"context"
	"net/url"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
)

// stringValidators collects every string attribute's validators from every
// resource's schema, keyed by "resource.attribute".
func stringValidators(t testing.TB) map[string][]validator.String {
	out := map[string][]validator.String{}
	p := &Provider{}
	for _, newResource := range p.Resources(context.Background()) {
		r := newResource()
		var meta resource.MetadataResponse
		r.Metadata(context.Background(), resource.MetadataRequest{ProviderTypeName: "acquire"}, &meta)
		var resp resource.SchemaResponse
		r.Schema(context.Background(), resource.SchemaRequest{}, &resp)
		if resp.Diagnostics.HasError() {
			t.Fatalf("%s schema: %v", meta.TypeName, resp.Diagnostics)
		}
		for name, a := range resp.Schema.Attributes {
			if s, ok := a.(schema.StringAttribute); ok && len(s.Validators) > 0 {
				out[meta.TypeName+"."+name] = s.Validators
			}
		}
	}
	if len(out) < 5 {
		t.Fatalf("found validators on %d attributes: the fuzz target would prove little", len(out))
	}
	return out
}

// FuzzProviderValues: any text in any validated string attribute of any
// resource is either accepted or refused at plan time with an error on that
// attribute's path; an accepted URL is an absolute http(s) URL with a host.
func FuzzProviderValues(f *testing.F) {
	for _, s := range []string{"http://127.0.0.1:8080/identity", "https://h", "ftp://h", "http://u:p@h/", "http://h/?q#f",
		"", " ", "identity", "file:///tmp/x", "s3://bucket", "30", "-1", "3601", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", "job/small", "\x00"} {
		f.Add(s)
	}
	validators := stringValidators(f)
	f.Fuzz(func(t *testing.T, value string) {
		for attr, vs := range validators {
			p := path.Root(attr)
			for _, v := range vs {
				var resp validator.StringResponse
				v.ValidateString(context.Background(), validator.StringRequest{Path: p, ConfigValue: types.StringValue(value)}, &resp)
				for _, d := range resp.Diagnostics.Errors() {
					withPath, ok := d.(interface{ Path() path.Path })
					if !ok || !withPath.Path().Equal(p) {
						t.Fatalf("%s = %q: error %q does not name the attribute", attr, value, d.Summary())
					}
				}
				if _, isURL := v.(urlValidator); isURL && !resp.Diagnostics.HasError() {
					u, err := url.Parse(value)
					if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
						t.Fatalf("%s accepted %q as a URL", attr, value)
					}
				}
			}
		}
	})
}
