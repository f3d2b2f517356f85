package provider

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/openacquire/acquire/adapters/dist"
	"github.com/openacquire/acquire/runtime/host"
)

// Module is the Go module path of Acquire: a source_dir must hold it.
const Module = "github.com/openacquire/acquire"

// EnvSourceDir locates an Acquire checkout, whose dist/ folder is
// dist_dir's default.
const EnvSourceDir = "ACQUIRE_SOURCE_DIR"

// EnvDistDir is the default of dist_dir.
const EnvDistDir = "ACQUIRE_DIST_DIR"

// packagePlatforms maps the provider's platform names (as in
// acquire_service) to the make dist platform and how the clouds' own
// providers run the artifact.
var packagePlatforms = map[string]struct {
	dist, runtime, handler, imageRef string
}{
	"aws":   {dist: "aws-lambda", runtime: "provided.al2023", handler: "bootstrap"},
	"gcp":   {dist: "gcp-run", handler: "/server", imageRef: dist.ImageRef},
	"azure": {dist: "azure-functions", runtime: "custom", handler: "handler"},
}

var _ datasource.DataSourceWithConfigure = (*functionPackageDataSource)(nil)

// functionPackageDataSource describes the deployable artifact of one
// platform that `make dist` (or a release) made: its path or URL, checksum
// and how the platform runs it, for acquire_service's platform blocks and
// for users who deploy with the clouds' own providers (aws_lambda_function,
// google_cloud_run_v2_service, azurerm_linux_function_app). It builds
// nothing and writes nothing: an earlier version built the artifact at every
// plan (3 min 37 s for a cold plan of examples/multi-cloud on two cores),
// needed Go and the source tree, and wrote dist/ into the checkout, so a
// provider installed from a registry could not use it.
type functionPackageDataSource struct{}

// NewFunctionPackageDataSource constructs data "acquire_function_package".
func NewFunctionPackageDataSource() datasource.DataSource { return &functionPackageDataSource{} }

type functionPackageModel struct {
	Platform     types.String `tfsdk:"platform"`
	Arch         types.String `tfsdk:"arch"`
	DistDir      types.String `tfsdk:"dist_dir"`
	URL          types.String `tfsdk:"url"`
	Path         types.String `tfsdk:"path"`
	Artifact     types.String `tfsdk:"artifact"`
	Filename     types.String `tfsdk:"filename"`
	SHA256       types.String `tfsdk:"sha256"`
	Base64SHA256 types.String `tfsdk:"base64sha256"`
	SizeBytes    types.Int64  `tfsdk:"size_bytes"`
	Runtime      types.String `tfsdk:"runtime"`
	Handler      types.String `tfsdk:"handler"`
	ImageRef     types.String `tfsdk:"image_ref"`
	Environment  types.List   `tfsdk:"environment_names"`
}

func (d *functionPackageDataSource) Metadata(_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_function_package"
}

func (d *functionPackageDataSource) Configure(context.Context, datasource.ConfigureRequest, *datasource.ConfigureResponse) {
}

func (d *functionPackageDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	computed := func(desc string) schema.StringAttribute {
		return schema.StringAttribute{Computed: true, Description: desc}
	}
	resp.Schema = schema.Schema{
		Description: "The deployable artifact of the Acquire function for one cloud platform, as `make dist` or a release made " +
			"it: found in dist_dir (or given by url with its sha256), checked, and described. It builds nothing, writes nothing " +
			"and needs no Go toolchain. aws: a Lambda zip (provided.al2023, `bootstrap`); gcp: a Cloud Run OCI image as a " +
			"docker-save tarball; azure: an Azure Functions custom-handler zip.",
		Attributes: map[string]schema.Attribute{
			"platform": schema.StringAttribute{
				Required:    true,
				Description: "Cloud platform: `aws`, `gcp` or `azure` (the local platform needs no package).",
				Validators:  []validatorString{stringvalidator.OneOf("aws", "gcp", "azure")},
			},
			"arch": schema.StringAttribute{
				Optional:    true,
				Computed:    true,
				Description: "CPU architecture: `amd64` (default) or `arm64`.",
				Validators:  []validatorString{stringvalidator.OneOf(dist.Archs...)},
			},
			"dist_dir": schema.StringAttribute{
				Optional: true,
				Description: "Folder holding `make dist`'s output (or an unpacked release). Default: the " + EnvDistDir +
					" environment variable, else `dist` in the Acquire checkout named by " + EnvSourceDir + " or found upward from the working directory.",
			},
			"url": schema.StringAttribute{
				Optional:    true,
				Description: "An https URL of the artifact (e.g. a release asset) instead of dist_dir; sha256 is then required. Nothing is downloaded at plan: acquire_service downloads and checks it at apply.",
				Validators:  []validatorString{httpURL()},
			},
			"sha256": schema.StringAttribute{
				Optional:    true,
				Computed:    true,
				Description: "SHA-256 of the artifact, hex. Given: the file in dist_dir must match it (required with url). Computed from the file otherwise.",
			},
			"artifact":     computed("What acquire_service's platform blocks take as `artifact`: path, or url."),
			"path":         computed("Absolute path of the artifact in dist_dir, e.g. for aws_lambda_function.filename (null for a url)."),
			"filename":     computed("The artifact's file name: <platform>-<arch>.zip or .tar (make dist's names)."),
			"base64sha256": computed("SHA-256 of the artifact, base64 (aws_lambda_function.source_code_hash)."),
			"size_bytes":   schema.Int64Attribute{Computed: true, Description: "Size of the artifact in bytes (null for a url)."},
			"runtime":      computed("The platform's runtime: provided.al2023 (aws), custom (azure), empty for gcp (a container)."),
			"handler":      computed("The executable the platform starts: bootstrap (aws), /server (gcp entry point), handler (azure)."),
			"image_ref":    computed("gcp only: the name the image is saved under in the tarball, to push under your registry's name."),
			"environment_names": schema.ListAttribute{
				Computed: true, ElementType: types.StringType,
				Description: "Environment variables the function reads: the service kinds, the store URL, the public base " +
					"URL, the service secret (pass it through the platform's secret mechanism) and the trusted services.",
			},
		},
	}
}

func (d *functionPackageDataSource) Read(ctx context.Context, req datasource.ReadRequest, resp *datasource.ReadResponse) {
	var m functionPackageModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	p := packagePlatforms[m.Platform.ValueString()]
	target, ok := dist.TargetFor(p.dist)
	if !ok {
		resp.Diagnostics.AddAttributeError(path.Root("platform"), "Unknown platform", "platform must be aws, gcp or azure")
		return
	}
	arch := stringOr(m.Arch, "amd64")
	name := distFileName(target, arch)
	m.Arch, m.Filename = types.StringValue(arch), types.StringValue(name)
	want := m.SHA256.ValueString()
	if want != "" && !sha256Hex.MatchString(want) {
		resp.Diagnostics.AddAttributeError(path.Root("sha256"), "Invalid checksum", "sha256: must be 64 lowercase hex digits.")
		return
	}
	if !m.URL.IsNull() {
		if want == "" || !m.DistDir.IsNull() {
			resp.Diagnostics.AddAttributeError(path.Root("url"), "URL needs a checksum",
				"url: give sha256 with it (the apply checks what it downloads against it), and no dist_dir.")
			return
		}
		m.Artifact, m.Path, m.SizeBytes = m.URL, types.StringNull(), types.Int64Null()
	} else {
		dir, err := distDir(m.DistDir.ValueString())
		if err != nil {
			resp.Diagnostics.AddAttributeError(path.Root("dist_dir"), "No dist folder", err.Error())
			return
		}
		file := filepath.Join(dir, name)
		fi, err := os.Stat(file)
		if err != nil || !fi.Mode().IsRegular() {
			resp.Diagnostics.AddAttributeError(path.Root("dist_dir"), "No artifact",
				fmt.Sprintf("dist_dir: %s is missing: run `make dist` (or unpack the release) first; plans build nothing.", file))
			return
		}
		got, err := fileSHA256(file)
		if err != nil {
			resp.Diagnostics.AddAttributeError(path.Root("dist_dir"), "Unreadable artifact", err.Error())
			return
		}
		if want != "" && got != want {
			resp.Diagnostics.AddAttributeError(path.Root("sha256"), "Checksum mismatch",
				fmt.Sprintf("sha256: %s has SHA-256 %s, not the one given.", file, got))
			return
		}
		m.Path, m.Artifact, m.SHA256, m.SizeBytes = types.StringValue(file), types.StringValue(file), types.StringValue(got), types.Int64Value(fi.Size())
	}
	sum, _ := hex.DecodeString(m.SHA256.ValueString())
	m.Base64SHA256 = types.StringValue(base64.StdEncoding.EncodeToString(sum))
	m.Runtime, m.Handler, m.ImageRef = types.StringValue(p.runtime), types.StringValue(p.handler), types.StringValue(p.imageRef)
	names := []string{host.EnvServices, host.EnvStoreURL, host.EnvPublicURL, host.EnvSecret, host.EnvTrustedServices}
	env, diags := types.ListValueFrom(ctx, types.StringType, names)
	resp.Diagnostics.Append(diags...)
	m.Environment = env
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}

// distFileName is make dist's name for a target's artifact.
func distFileName(t dist.Target, arch string) string {
	if t.Platform == "gcp-run" {
		return t.Platform + "-" + arch + ".tar"
	}
	return t.Platform + "-" + arch + ".zip"
}

// distDir is dist_dir, else EnvDistDir, else the checkout's dist folder.
func distDir(given string) (string, error) {
	if given == "" {
		given = os.Getenv(EnvDistDir)
	}
	if given == "" {
		src, err := sourceDir("")
		if err != nil {
			return "", fmt.Errorf("set dist_dir (or %s) to the folder `make dist` wrote: %w", EnvDistDir, err)
		}
		given = filepath.Join(src, "dist")
	}
	return filepath.Abs(given)
}

// sourceDir resolves the Acquire checkout: the attribute, the environment,
// or the working directory and its parents.
func sourceDir(given string) (string, error) {
	if given == "" {
		given = os.Getenv(EnvSourceDir)
	}
	if given != "" {
		abs, err := filepath.Abs(given)
		if err != nil {
			return "", err
		}
		if !isAcquireModule(abs) {
			return "", fmt.Errorf("source_dir %s holds no go.mod of %s", abs, Module)
		}
		return abs, nil
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if isAcquireModule(dir) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no Acquire checkout (" + EnvSourceDir + ") here or above the working directory")
		}
		dir = parent
	}
}

// isAcquireModule says whether dir's go.mod declares Acquire's module.
func isAcquireModule(dir string) bool {
	f, err := os.Open(filepath.Join(dir, "go.mod")) //nolint:gosec // G304: reading the go.mod of a folder the user named is the point
	if err != nil {
		return false
	}
	defer func() { _ = f.Close() }()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if mod, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "module "); ok {
			return strings.TrimSpace(mod) == Module
		}
	}
	return false
}
