package s3store_test

import (
	"testing"

	"github.com/openacquire/acquire/adapters/servertest"
)

// The S3 server the tests run against: versitygw, a real S3 gateway over a
// directory (TOOLING.md).
const (
	serverAccess = "test"
	serverSecret = "testsecret"
)

var versitygw = servertest.Server{
	Name: "versitygw",
	Args: func(addr, dir string) []string {
		return []string{"--access", serverAccess, "--secret", serverSecret, "--port", addr, "--quiet", "posix", dir}
	},
	Ready: servertest.Answers("/", false),
}

// startServer starts versitygw and returns its endpoint URL.
func startServer(tb testing.TB) string { return servertest.Start(tb, versitygw) }
