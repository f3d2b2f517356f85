// Command handler is the Azure Functions custom handler executable.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/openacquire/acquire/adapters/azure/azurefn"
	"github.com/openacquire/acquire/adapters/azure/blobstore"
	"github.com/openacquire/acquire/runtime/host"
)

func main() {
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	cfg, err := host.ConfigFromEnv(os.Getenv)
	if err != nil {
		log.Error("bad function configuration", "err", err)
		os.Exit(2)
	}
	blobstore.Register()
	fn := &host.Lazy{Config: cfg, Logger: log}
	defer fn.Close()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := azurefn.Serve(ctx, os.Getenv(azurefn.EnvPort), fn); err != nil {
		fmt.Fprintln(os.Stderr, "handler:", err)
		os.Exit(1)
	}
}
