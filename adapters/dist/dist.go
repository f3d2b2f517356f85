// Package dist builds what each platform deploys, reproducibly: the same
// sources give the same bytes. Binaries are built with -trimpath, no VCS
// stamp and an empty build id; archives carry fixed times, owners and
// modes, in a fixed order.
//
//   - AWS Lambda: <dir>/aws-lambda-<arch>.zip holding `bootstrap`
//     (provided.al2023; arm64 and amd64).
//   - GCP: <dir>/gcp-run-<arch>.tar, an OCI image (docker-save tarball,
//     loadable by `docker load` and pushable by crane) FROM scratch with
//     /server as its entry point, for Cloud Run. Chosen over a Cloud
//     Functions source archive because it is built and checked here
//     without Google's buildpacks; the same binary also registers the
//     functions-framework function for Cloud Functions 2nd gen.
//   - Azure Functions: <dir>/azure-functions-<arch>.zip holding host.json,
//     acquire/function.json and the `handler` executable.
//   - Fn: <dir>/fn-<arch>.tar, an OCI image layout (oci-layout, index.json,
//     blobs/sha256/…) in a tar, as `skopeo copy oci-archive:` and
//     `crane push` read it, FROM scratch with /function (the Fn entry
//     point, adapters/fn/fnfdk) as its entry point. No Docker engine is
//     needed to build it; the Fn deployer pushes it to the registry the
//     Fn server pulls from.
package dist

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"time"
)

// Epoch is every archive entry's time: zip cannot say 1970, and any fixed
// time makes the bytes repeatable.
var Epoch = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// Archs are the architectures built by default.
var Archs = []string{"amd64", "arm64"}

// Target is one command built for a platform.
type Target struct {
	Platform string // aws-lambda, gcp-run, azure-functions, fn
	Package  string // import path of the main package
	Binary   string // its name inside the artifact
	Tags     string
}

// Targets are the platforms' entry points.
var Targets = []Target{
	{Platform: "aws-lambda", Package: "./adapters/aws/lambdafn/bootstrap", Binary: "bootstrap", Tags: "lambda.norpc"},
	{Platform: "gcp-run", Package: "./adapters/gcp/gcpfn/server", Binary: "server"},
	{Platform: "azure-functions", Package: "./adapters/azure/azurefn/handler", Binary: "handler"},
	{Platform: "fn", Package: "./adapters/fn/fnfdk/function", Binary: "function"},
}

// Build compiles t for linux/arch in the module at root and returns the
// binary's bytes.
func Build(ctx context.Context, root string, t Target, arch string) ([]byte, error) {
	tmp, err := os.MkdirTemp("", "acquire-dist-")
	if err != nil {
		return nil, err
	}
	defer func() { _ = os.RemoveAll(tmp) }()
	out := filepath.Join(tmp, t.Binary)
	args := []string{"build", "-trimpath", "-buildvcs=false", "-ldflags=-s -w -buildid=", "-o", out}
	if t.Tags != "" {
		args = append(args, "-tags", t.Tags)
	}
	cmd := exec.CommandContext(ctx, "go", append(args, t.Package)...) //nolint:gosec // G204: packages and tags come from Targets
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH="+arch, "CGO_ENABLED=0")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("dist: go build %s for %s: %w\n%s", t.Package, arch, err, stderr.String())
	}
	return os.ReadFile(out)
}

// File is one entry of an archive.
type File struct {
	Name string
	Mode os.FileMode
	Data []byte
}

// Zip writes files, in the order given, with fixed times and modes.
func Zip(w io.Writer, files []File) error {
	zw := zip.NewWriter(w)
	for _, f := range files {
		h := &zip.FileHeader{Name: f.Name, Method: zip.Deflate, Modified: Epoch}
		h.SetMode(f.Mode)
		fw, err := zw.CreateHeader(h)
		if err != nil {
			return err
		}
		if _, err := fw.Write(f.Data); err != nil {
			return err
		}
	}
	return zw.Close()
}

// Tar writes files as a tar stream owned by root with fixed times.
func Tar(w io.Writer, files []File) error {
	tw := tar.NewWriter(w)
	for _, f := range files {
		h := &tar.Header{Name: f.Name, Mode: int64(f.Mode.Perm()), Size: int64(len(f.Data)), ModTime: Epoch,
			Typeflag: tar.TypeReg, Format: tar.FormatPAX}
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if _, err := tw.Write(f.Data); err != nil {
			return err
		}
	}
	return tw.Close()
}
