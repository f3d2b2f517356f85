package blobstore_test

import (
	"strings"
	"testing"

	"github.com/openacquire/acquire/adapters/servertest"
)

// Azurite's well-known development account (public, documented by
// Microsoft for the emulator; not a secret).
const (
	devAccount = "devstoreaccount1"
	devKey     = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)

// azurite is Azurite's blob service (TOOLING.md), installed by
// scripts/servers/install.sh azurite-blob. --skipApiVersionCheck lets it
// accept the newer API version azblob sends; --disableTelemetry stops it
// calling out.
var azurite = servertest.Server{
	Name: "azurite-blob",
	Args: func(addr, dir string) []string {
		host, port, _ := strings.Cut(addr, ":")
		return []string{"--blobHost", host, "--blobPort", port, "--location", dir,
			"--skipApiVersionCheck", "--disableTelemetry"}
	},
	Ready: servertest.Answers("/", false),
}

// startServer starts Azurite and returns the dev account's blob endpoint.
func startServer(tb testing.TB) string { return servertest.Start(tb, azurite) + "/" + devAccount }
