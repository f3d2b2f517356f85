package s3store_test

import (
	"testing"

	"github.com/openacquire/acquire/adapters/servertest"
)

// The S3 server the tests run against: versitygw, a real S3 gateway over a
// directory (docs/testing.md).
const (
	serverAccess = servertest.S3Access
	serverSecret = servertest.S3Secret
)

// startServer starts versitygw and returns its endpoint URL.
func startServer(tb testing.TB) string { return servertest.Start(tb, servertest.Versitygw) }
