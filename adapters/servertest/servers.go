package servertest

import "strings"

// The credentials versitygw runs with in tests (a local gateway: these are
// not secrets).
const (
	S3Access = "test"
	S3Secret = "testsecret"
)

// Versitygw is a real S3 gateway over a directory (docs/testing.md).
var Versitygw = Server{
	Name: "versitygw",
	Args: func(addr, dir string) []string {
		return []string{"--access", S3Access, "--secret", S3Secret, "--port", addr, "--quiet", "posix", dir}
	},
	Ready: Answers("/", false),
}

// FakeGCS is fake-gcs-server with the given backend ("filesystem", over
// the data folder, or "memory"). Start returns its base URL; the JSON API
// is at base + "/storage/v1/".
func FakeGCS(backend string) Server {
	return Server{
		Name: "fake-gcs-server",
		Args: func(addr, dir string) []string {
			host, port, _ := strings.Cut(addr, ":")
			// -public-host is the host:port download URLs name; without the
			// port the client's reads would go to port 80.
			return []string{"-scheme", "http", "-host", host, "-port", port,
				"-public-host", addr, "-backend", backend, "-filesystem-root", dir, "-log-level", "error"}
		},
		Ready: Answers("/storage/v1/b", true),
	}
}

// Azurite's well-known development account (public, documented by
// Microsoft for the emulator; not a secret).
const (
	AzuriteAccount = "devstoreaccount1"
	AzuriteKey     = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)

// Azurite is Azurite's blob service (docs/testing.md), installed by
// scripts/servers/install.sh azurite-blob. --skipApiVersionCheck lets it
// accept the newer API version azblob sends; --disableTelemetry stops it
// calling out. Start returns its base URL; the dev account's blob
// endpoint is base + "/" + AzuriteAccount.
var Azurite = Server{
	Name: "azurite-blob",
	Args: func(addr, dir string) []string {
		host, port, _ := strings.Cut(addr, ":")
		return []string{"--blobHost", host, "--blobPort", port, "--location", dir,
			"--skipApiVersionCheck", "--disableTelemetry"}
	},
	Ready: Answers("/", false),
}
