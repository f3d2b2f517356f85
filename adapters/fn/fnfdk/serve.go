package fnfdk

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/openacquire/acquire/runtime/host"
)

// Serve listens where the agent says (getenv is os.Getenv in the
// container) and serves h's HTTP trigger calls until ctx ends.
func Serve(ctx context.Context, getenv func(string) string, h http.Handler, log *slog.Logger) error {
	path, err := SocketPath(getenv(EnvListener), getenv(EnvFormat))
	if err != nil {
		return err
	}
	ln, err := Listen(path)
	if err != nil {
		return err
	}
	fh := &Handler{H: h, Logger: log, LogFrameName: getenv(EnvLogFrameName), LogFrameHeader: getenv(EnvLogFrameHdr),
		Stdout: os.Stdout, Stderr: os.Stderr}
	// No write timeout of our own: Fn-Deadline bounds each call, and the
	// agent closes the connection at its own timeout.
	srv := &http.Server{Handler: fh, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: host.ReadTimeout, IdleTimeout: 0}
	go func() { //nolint:gosec // G118: the shutdown needs its own deadline once ctx has ended
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), host.ShutdownTimeout)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
