package provider

import (
	"context"
	"fmt"
	"regexp"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	awsdeploy "github.com/openacquire/acquire/adapters/aws/deploy"
	"github.com/openacquire/acquire/adapters/deployer"
)

// platform = { aws = {...} }: AWS Lambda with a function URL
// (adapters/aws/deploy), its state on store.s3.

type awsPlatformModel struct {
	functionModel
	Region  types.String `tfsdk:"region"`
	Arch    types.String `tfsdk:"arch"`
	RoleARN types.String `tfsdk:"role_arn"`
}

var (
	awsRegionPattern  = regexp.MustCompile(`^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-[0-9]$`)
	awsRoleARNPattern = regexp.MustCompile(`^arn:aws[a-z-]*:iam::[0-9]{12}:role/[A-Za-z0-9+=,.@_/-]{1,512}$`)
)

func init() {
	registerPlatform(platformKind{
		Name: "aws", Stores: []string{"s3"},
		Description: "AWS Lambda with a function URL (adapters/aws/deploy); the state on store.s3, in the same region.",
		Attributes: map[string]schema.Attribute{
			"region": schema.StringAttribute{Required: true, Description: "AWS region, e.g. eu-west-2. A store.s3.region must be the same.",
				Validators: []validator.String{patternValidator{awsRegionPattern, "an AWS region such as eu-west-2"}}},
			"arch": schema.StringAttribute{Optional: true, Description: "arm64 (default) or amd64: must match the artifact.",
				Validators: []validator.String{oneOfValidator{[]string{"arm64", "amd64"}}}},
			"role_arn": schema.StringAttribute{Optional: true, Description: "Bring your own execution role (its ARN) instead of the " +
				"one the deployer makes; it must allow what the made one does (docs/design/provider.md): the bucket, the secret, the logs.",
				Validators: []validator.String{patternValidator{awsRoleARNPattern, "an IAM role ARN (arn:aws:iam::<account>:role/<name>)"}}},
		},
		Replace: []string{"region"}, ImportKeys: []string{"region"},
		Limits: functionLimits{MemoryMB: [2]int64{awsdeploy.MinMemoryMB, awsdeploy.MaxMemoryMB}, TimeoutS: [2]int64{1, awsdeploy.MaxTimeoutS},
			MaxInstances: [2]int64{1, 1000}, LogRetentionDays: [2]int64{1, 3653}},
		Decode: decodeAs[awsPlatformModel],
	})
}

func (m *awsPlatformModel) validate(at path.Path, store *storeModel, d *diag.Diagnostics) {
	if store == nil || store.S3 == nil {
		return // validatePlatform names the missing store
	}
	r := store.S3.Region
	if !r.IsNull() && !r.IsUnknown() && !m.Region.IsUnknown() && r.ValueString() != m.Region.ValueString() {
		d.AddAttributeError(path.Root("store").AtName("s3").AtName("region"), "Store in another region",
			fmt.Sprintf("store.s3.region: %q differs from %s %q; the deployer makes the bucket in the function's region.",
				r.ValueString(), at.AtName("region"), m.Region.ValueString()))
	}
	refuseStoreOverrides(path.Root("store").AtName("s3"), d, map[string]bool{"endpoint": !store.S3.Endpoint.IsNull(),
		"prefix": !store.S3.Prefix.IsNull(), "path_style": !store.S3.PathStyle.IsNull()})
	if a := m.Arch.ValueString(); a != "" && !m.Artifact.IsUnknown() {
		if got := artifactArch(m.Artifact.ValueString()); got != "" && got != a {
			d.AddAttributeError(at.AtName("arch"), "Artifact for another architecture",
				fmt.Sprintf("%s: %q, but the artifact is built for %s.", at.AtName("arch"), a, got))
		}
	}
}

func (m *awsPlatformModel) location() string { return m.Region.ValueString() }

func (m *awsPlatformModel) settings() map[string]string {
	s := map[string]string{}
	if a := m.Arch.ValueString(); a != "" {
		s[awsdeploy.SettingArch] = a
	}
	if r := m.RoleARN.ValueString(); r != "" {
		s[awsdeploy.SettingRoleARN] = r
	}
	return s
}

func (m *awsPlatformModel) newDeployer(ctx context.Context) (deployer.Deployer, error) {
	return awsdeploy.New(ctx, m.Region.ValueString())
}

var archInName = regexp.MustCompile(`-(arm64|amd64)\.(zip|tar)$`)

// artifactArch is the architecture make dist's file name says ("" if none).
func artifactArch(a string) string {
	if m := archInName.FindStringSubmatch(a); m != nil {
		return m[1]
	}
	return ""
}

// refuseStoreOverrides: the deployers give the function a store URL of the
// bucket alone, so a store attribute they would drop is refused at plan
// rather than silently ignored.
func refuseStoreOverrides(at path.Path, d *diag.Diagnostics, set map[string]bool) {
	for _, k := range []string{"endpoint", "prefix", "path_style", "anonymous", "account"} {
		if set[k] {
			d.AddAttributeError(at.AtName(k), "Not for a cloud platform",
				fmt.Sprintf("%s: a cloud deployment's function uses its cloud's own bucket endpoint and the whole bucket; remove it.", at.AtName(k)))
		}
	}
}
