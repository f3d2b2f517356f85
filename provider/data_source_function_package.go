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
	"sync"
	"time"

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

// EnvSourceDir is the default of source_dir.
const EnvSourceDir = "ACQUIRE_SOURCE_DIR"

// BuildTimeout bounds one package build (a cold build of the Lambda binary
// is about a minute on two cores; a warm one a few seconds).
const BuildTimeout = 10 * time.Minute

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

// functionPackageDataSource builds the deployable artifact of one platform
// (the same bytes as make dist) for users who deploy the function with the
// clouds' own providers (aws_lambda_function, google_cloud_run_v2_service,
// azurerm_linux_function_app).
type functionPackageDataSource struct{}

// NewFunctionPackageDataSource constructs data "acquire_function_package".
func NewFunctionPackageDataSource() datasource.DataSource { return &functionPackageDataSource{} }

type functionPackageModel struct {
	Platform     types.String `tfsdk:"platform"`
	Arch         types.String `tfsdk:"arch"`
	SourceDir    types.String `tfsdk:"source_dir"`
	OutputDir    types.String `tfsdk:"output_dir"`
	Path         types.String `tfsdk:"path"`
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
		Description: "Builds the deployable artifact of the Acquire function for one cloud platform, reproducibly " +
			"(the same sources give the same bytes, as `make dist`), for deploying it with the clouds' own providers. " +
			"It needs the Go toolchain and an Acquire source checkout. aws: a Lambda zip (provided.al2023, `bootstrap`); " +
			"gcp: a Cloud Run OCI image as a docker-save tarball; azure: an Azure Functions custom-handler zip.",
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
			"source_dir": schema.StringAttribute{
				Optional: true,
				Computed: true,
				Description: "Root of the Acquire source checkout (its go.mod names " + Module + "). Default: the " +
					EnvSourceDir + " environment variable, else the first folder upward from the working directory holding it.",
			},
			"output_dir": schema.StringAttribute{
				Optional:    true,
				Computed:    true,
				Description: "Folder the artifact is written to (created if missing). Default: `dist` in source_dir.",
			},
			"path":         computed("Absolute path of the artifact, e.g. for aws_lambda_function.filename."),
			"filename":     computed("The artifact's file name: <platform>-<arch>.zip or .tar (make dist's names)."),
			"sha256":       computed("SHA-256 of the artifact, hex."),
			"base64sha256": computed("SHA-256 of the artifact, base64 (aws_lambda_function.source_code_hash)."),
			"size_bytes":   schema.Int64Attribute{Computed: true, Description: "Size of the artifact in bytes."},
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
	src, err := sourceDir(m.SourceDir.ValueString())
	if err != nil {
		resp.Diagnostics.AddAttributeError(path.Root("source_dir"), "No Acquire source", err.Error())
		return
	}
	out := stringOr(m.OutputDir, filepath.Join(src, "dist"))
	if out, err = filepath.Abs(out); err != nil {
		resp.Diagnostics.AddAttributeError(path.Root("output_dir"), "Bad output folder", err.Error())
		return
	}
	ctx, cancel := context.WithTimeout(ctx, BuildTimeout)
	defer cancel()
	a, err := buildPackage(ctx, src, out, target, arch)
	if err != nil {
		resp.Diagnostics.AddError("Package build failed", err.Error())
		return
	}
	sum, err := hex.DecodeString(a.SHA256)
	if err != nil {
		resp.Diagnostics.AddError("Package build failed", "bad digest: "+err.Error())
		return
	}
	m.Arch, m.SourceDir, m.OutputDir = types.StringValue(arch), types.StringValue(src), types.StringValue(out)
	m.Path, m.Filename = types.StringValue(a.Path), types.StringValue(filepath.Base(a.Path))
	m.SHA256, m.Base64SHA256 = types.StringValue(a.SHA256), types.StringValue(base64.StdEncoding.EncodeToString(sum))
	m.SizeBytes = types.Int64Value(a.Bytes)
	m.Runtime, m.Handler, m.ImageRef = types.StringValue(p.runtime), types.StringValue(p.handler), types.StringValue(p.imageRef)
	names := []string{host.EnvServices, host.EnvStoreURL, host.EnvPublicURL, host.EnvSecret, host.EnvTrustedServices}
	env, diags := types.ListValueFrom(ctx, types.StringType, names)
	resp.Diagnostics.Append(diags...)
	m.Environment = env
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}

// built remembers, for the life of the provider process, the artifacts it
// built: one command (plan, apply) reads a data source several times, and
// each build relinks a binary (seconds). A file since removed or changed
// in size is built again.
var built = struct {
	sync.Mutex
	m map[string]dist.Artifact
}{m: map[string]dist.Artifact{}}

// buildPackage builds one package at a time (the machine's cores go to the
// linker), reusing this process's earlier build of the same package.
func buildPackage(ctx context.Context, src, out string, t dist.Target, arch string) (dist.Artifact, error) {
	key := strings.Join([]string{src, out, t.Platform, arch}, "\x00")
	built.Lock()
	defer built.Unlock()
	if a, ok := built.m[key]; ok {
		if fi, err := os.Stat(a.Path); err == nil && fi.Size() == a.Bytes {
			return a, nil
		}
	}
	a, err := writePackage(ctx, src, out, t, arch)
	if err == nil {
		built.m[key] = a
	}
	return a, err
}

// writePackage builds into a fresh folder beside the destination and
// renames the artifact into place, so two reads building the same package
// at once (or a reader of the old one) never see a half-written file.
func writePackage(ctx context.Context, src, out string, t dist.Target, arch string) (dist.Artifact, error) {
	if err := os.MkdirAll(out, 0o750); err != nil {
		return dist.Artifact{}, err
	}
	tmp, err := os.MkdirTemp(out, ".build-")
	if err != nil {
		return dist.Artifact{}, err
	}
	defer func() { _ = os.RemoveAll(tmp) }()
	a, err := dist.WriteTarget(ctx, src, tmp, t, arch)
	if err != nil {
		return dist.Artifact{}, err
	}
	final := filepath.Join(out, filepath.Base(a.Path))
	if err := os.Rename(a.Path, final); err != nil {
		return dist.Artifact{}, err
	}
	a.Path = final
	return a, nil
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
			return "", errors.New("the package is built from source: set source_dir (or " + EnvSourceDir +
				") to an Acquire checkout, or run from inside one")
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
