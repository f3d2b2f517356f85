package provider

import (
	"context"

	"github.com/hashicorp/terraform-plugin-framework/ephemeral"
	"github.com/hashicorp/terraform-plugin-framework/ephemeral/schema"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/types"
)

// adminEnrolmentEphemeral is ephemeral "acquire_admin_enrolment": the
// first admin's authenticator URI and recovery codes, read from the file
// acquire_service wrote, as ephemeral values: never in plan or state, for
// a secret manager's write-only argument (Terraform >= 1.10; OpenTofu 1.10
// has no ephemeral resources, so there read the file itself).
type adminEnrolmentEphemeral struct{}

// NewAdminEnrolmentEphemeral constructs ephemeral "acquire_admin_enrolment".
func NewAdminEnrolmentEphemeral() ephemeral.EphemeralResource { return &adminEnrolmentEphemeral{} }

type adminEnrolmentModel struct {
	File          types.String `tfsdk:"file"`
	Username      types.String `tfsdk:"username"`
	OTPURI        types.String `tfsdk:"otp_uri"`
	RecoveryCodes types.List   `tfsdk:"recovery_codes"`
}

func (e *adminEnrolmentEphemeral) Metadata(_ context.Context, req ephemeral.MetadataRequest, resp *ephemeral.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_admin_enrolment"
}

func (e *adminEnrolmentEphemeral) Schema(_ context.Context, _ ephemeral.SchemaRequest, resp *ephemeral.SchemaResponse) {
	resp.Schema = schema.Schema{
		Description: "The first admin's enrolment (authenticator URI and one-time recovery codes) that acquire_service wrote to " +
			"its admin_enrolment_file, as ephemeral values: never in plan or state. The file must be mode 0600.",
		Attributes: map[string]schema.Attribute{
			"file":     schema.StringAttribute{Required: true, Description: "acquire_service's admin_enrolment_file."},
			"username": schema.StringAttribute{Computed: true, Description: "The admin's username."},
			"otp_uri": schema.StringAttribute{Computed: true, Sensitive: true,
				Description: "The admin's authenticator (otpauth://) URI."},
			"recovery_codes": schema.ListAttribute{Computed: true, Sensitive: true, ElementType: types.StringType,
				Description: "The admin's one-time recovery codes."},
		},
	}
}

func (e *adminEnrolmentEphemeral) Open(ctx context.Context, req ephemeral.OpenRequest, resp *ephemeral.OpenResponse) {
	var m adminEnrolmentModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	en, err := readEnrolment(m.File.ValueString())
	if err != nil {
		resp.Diagnostics.AddAttributeError(path.Root("file"), "No enrolment", "file: "+err.Error())
		return
	}
	codes, d := types.ListValueFrom(ctx, types.StringType, en.RecoveryCodes)
	resp.Diagnostics.Append(d...)
	m.Username, m.OTPURI, m.RecoveryCodes = types.StringValue(en.Username), types.StringValue(en.OTPURI), codes
	resp.Diagnostics.Append(resp.Result.Set(ctx, &m)...)
}
