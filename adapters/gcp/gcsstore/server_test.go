package gcsstore_test

import (
	"testing"

	"github.com/openacquire/acquire/adapters/servertest"
)

// startServer starts fake-gcs-server (docs/testing.md) with the given backend
// ("filesystem", over a fresh data folder, or "memory") and returns its
// JSON API endpoint.
func startServer(tb testing.TB, backend string) string {
	return servertest.Start(tb, servertest.FakeGCS(backend)) + "/storage/v1/"
}
