package provider

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/ephemeral"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-go/tftypes"

	"github.com/openacquire/acquire/runtime/host"
)

// The enrolment file is written 0600, whole, and read back by the
// ephemeral resource; a file others can read, or one the provider did not
// write, is refused without quoting its content.
func TestAdminEnrolmentFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "sub", "enrolment.json")
	created := &host.AdminCreated{ProvisioningURI: "otpauth://totp/acquire:root?secret=JBSWY3DPEHPK3PXP", RecoveryCodes: []string{"aaaa-bbbb", "cccc-dddd"}}
	if err := writeEnrolment(file, "root", created); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(file)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("enrolment file mode: %v %v", fi, err)
	}
	entries, _ := os.ReadDir(filepath.Dir(file))
	if len(entries) != 1 {
		t.Fatalf("temporary files left beside it: %v", entries)
	}

	e := &adminEnrolmentEphemeral{}
	var sr ephemeral.SchemaResponse
	e.Schema(context.Background(), ephemeral.SchemaRequest{}, &sr)
	open := func(path string) (adminEnrolmentModel, string) {
		typ := sr.Schema.Type().TerraformType(context.Background())
		raw := tftypes.NewValue(typ, map[string]tftypes.Value{
			"file": tftypes.NewValue(tftypes.String, path), "username": tftypes.NewValue(tftypes.String, nil),
			"otp_uri": tftypes.NewValue(tftypes.String, nil), "recovery_codes": tftypes.NewValue(tftypes.List{ElementType: tftypes.String}, nil),
		})
		resp := ephemeral.OpenResponse{Result: tfsdk.EphemeralResultData{Schema: sr.Schema, Raw: tftypes.NewValue(typ, nil)}}
		e.Open(context.Background(), ephemeral.OpenRequest{Config: tfsdk.Config{Schema: sr.Schema, Raw: raw}}, &resp)
		var m adminEnrolmentModel
		if resp.Diagnostics.HasError() {
			return m, resp.Diagnostics.Errors()[0].Detail()
		}
		resp.Diagnostics.Append(resp.Result.Get(context.Background(), &m)...)
		return m, ""
	}
	m, msg := open(file)
	var codes []string
	_ = m.RecoveryCodes.ElementsAs(context.Background(), &codes, false)
	if msg != "" || m.OTPURI != types.StringValue(created.ProvisioningURI) || m.Username.ValueString() != "root" || len(codes) != 2 {
		t.Fatalf("ephemeral open: %+v %q", m, msg)
	}
	if err := os.Chmod(file, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, msg := open(file); !strings.Contains(msg, "readable by others") || strings.Contains(msg, "JBSWY3DP") {
		t.Fatalf("a world-readable enrolment file: %q", msg)
	}
	other := filepath.Join(t.TempDir(), "x.json")
	if err := os.WriteFile(other, []byte(`{"secret":"JBSWY3DPEHPK3PXP"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, msg := open(other); !strings.Contains(msg, "not an enrolment file") || strings.Contains(msg, "JBSWY3DP") {
		t.Fatalf("a file the provider did not write: %q", msg)
	}
}
