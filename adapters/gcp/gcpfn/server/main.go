// Command server starts the GCP function the way Cloud Run starts a
// container: an HTTP server on $PORT, through functions-framework-go.
package main

import (
	"fmt"
	"os"

	"github.com/GoogleCloudPlatform/functions-framework-go/funcframework"
	// The image is built FROM scratch: no system roots, so TLS to GCS and
	// other services uses these (only when the system has none).
	_ "golang.org/x/crypto/x509roots/fallback"

	"github.com/openacquire/acquire/adapters/gcp/gcpfn"
)

func main() {
	port := os.Getenv("PORT")
	if port == "" {
		fmt.Fprintln(os.Stderr, "server: PORT is not set (Cloud Run sets it)")
		os.Exit(2)
	}
	// Serve the one function at every path: services live at /<kind>.
	if os.Getenv("FUNCTION_TARGET") == "" {
		_ = os.Setenv("FUNCTION_TARGET", gcpfn.FunctionName)
	}
	if err := funcframework.StartHostPort("", port); err != nil {
		fmt.Fprintln(os.Stderr, "server:", err)
		os.Exit(1)
	}
}
