// Package azurefn is the Azure Functions custom handler: the Functions host
// forwards each HTTP request unchanged (enableForwardingHttpRequest) to a
// server on $FUNCTIONS_CUSTOMHANDLER_PORT, through one catch-all HTTP
// trigger. The files that tell the host so are embedded here for the
// deployment package.
package azurefn

import (
	"context"
	_ "embed"
	"errors"
	"net"
	"net/http"
	"time"

	"github.com/openacquire/acquire/runtime/host"
)

// EnvPort is where the Functions host says the handler must listen.
const EnvPort = "FUNCTIONS_CUSTOMHANDLER_PORT"

// FunctionName is the catch-all HTTP trigger's folder in the package.
const FunctionName = "acquire"

// HandlerName is the executable the host starts (host.json names it).
const HandlerName = "handler"

// HostJSON and FunctionJSON are the package's host.json and
// acquire/function.json.
var (
	//go:embed host.json
	HostJSON []byte
	//go:embed function.json
	FunctionJSON []byte
)

// ErrNoPort is returned when the Functions host gave no port.
var ErrNoPort = errors.New("azurefn: " + EnvPort + " is not set (the Functions host sets it)")

// Serve listens on the port the Functions host gave and serves h until ctx
// ends.
func Serve(ctx context.Context, port string, h http.Handler) error {
	if port == "" {
		return ErrNoPort
	}
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", port))
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: host.ReadTimeout, WriteTimeout: host.WriteTimeout}
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
