// Command function is the Fn entry point, the binary of the image `make
// dist` writes for Fn (dist/fn-<arch>.tar): the Fn agent starts it with
// FN_LISTENER and the function's configuration in its environment, and
// it serves the Acquire services named there through their HTTP
// triggers. Fn runs on any cloud or on premises, so every store the
// runtime knows is registered: a local folder (a volume), S3, GCS or
// Azure Blob.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	// The image is built FROM scratch: no system roots, so TLS to a cloud
	// store uses these (only when the system has none).
	_ "golang.org/x/crypto/x509roots/fallback"

	"github.com/openacquire/acquire/adapters/aws/s3store"
	"github.com/openacquire/acquire/adapters/azure/blobstore"
	"github.com/openacquire/acquire/adapters/fn/fnfdk"
	"github.com/openacquire/acquire/adapters/gcp/gcsstore"
	"github.com/openacquire/acquire/runtime/host"
)

func main() {
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	cfg, err := host.ConfigFromEnv(os.Getenv)
	if err != nil {
		log.Error("bad function configuration", "err", err)
		os.Exit(2)
	}
	s3store.Register()
	gcsstore.Register()
	blobstore.Register()
	fn := &host.Lazy{Config: cfg, Logger: log}
	defer fn.Close()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := fnfdk.Serve(ctx, os.Getenv, fn, log); err != nil {
		fmt.Fprintln(os.Stderr, "function:", err)
		os.Exit(1)
	}
}
