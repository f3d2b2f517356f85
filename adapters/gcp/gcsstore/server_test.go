package gcsstore_test

import (
	"strings"
	"testing"

	"github.com/openacquire/acquire/adapters/servertest"
)

// startServer starts fake-gcs-server (TOOLING.md) with the given backend
// ("filesystem", over a fresh data folder, or "memory") and returns its
// JSON API endpoint.
func startServer(tb testing.TB, backend string) string {
	srv := servertest.Server{
		Name: "fake-gcs-server",
		Args: func(addr, dir string) []string {
			host, port, _ := strings.Cut(addr, ":")
			// -public-host is the host:port download URLs name; without the
			// port the client's reads would go to port 80.
			return []string{"-scheme", "http", "-host", host, "-port", port,
				"-public-host", addr, "-backend", backend, "-filesystem-root", dir, "-log-level", "error"}
		},
		Ready: servertest.Answers("/storage/v1/b", true),
	}
	return servertest.Start(tb, srv) + "/storage/v1/"
}
