// Package gcpfn is the GCP entry point: an HTTP function registered with
// functions-framework-go (Cloud Functions 2nd gen) that the server command
// also serves on $PORT (Cloud Run). It adapts nothing but the platform's
// start-up: requests are plain HTTP for the runtime's one handler.
package gcpfn

import (
	"log/slog"
	"net/http"
	"os"
	"sync"

	"github.com/GoogleCloudPlatform/functions-framework-go/functions"

	"github.com/openacquire/acquire/adapters/gcp/gcsstore"
	"github.com/openacquire/acquire/runtime/host"
)

// FunctionName is the function's registered name (its FUNCTION_TARGET).
const FunctionName = "acquire"

func init() {
	gcsstore.Register()
	functions.HTTP(FunctionName, Handle)
}

var (
	once sync.Once
	fn   http.Handler
)

// Handle serves one request. The configuration is read on the first one,
// from the environment the deployer set.
func Handle(w http.ResponseWriter, r *http.Request) {
	once.Do(func() { fn = fromEnv() })
	fn.ServeHTTP(w, r)
}

func fromEnv() http.Handler {
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	cfg, err := host.ConfigFromEnv(os.Getenv)
	if err != nil {
		log.Error("bad function configuration", "err", err)
		return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			http.Error(w, "service misconfigured", http.StatusInternalServerError)
		})
	}
	return &host.Lazy{Config: cfg, Logger: log}
}
