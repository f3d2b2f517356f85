package blobstore_test

import (
	"testing"

	"github.com/openacquire/acquire/adapters/servertest"
)

const (
	devAccount = servertest.AzuriteAccount
	devKey     = servertest.AzuriteKey
)

// startServer starts Azurite and returns the dev account's blob endpoint.
func startServer(tb testing.TB) string {
	return servertest.Start(tb, servertest.Azurite) + "/" + devAccount
}
