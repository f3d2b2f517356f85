package gcpfn_test

import (
	"testing"

	"github.com/openacquire/acquire/adapters/functiontest"
	"github.com/openacquire/acquire/adapters/servertest"
)

// The server starts as Cloud Run starts a container: PORT in the
// environment, nothing else. It answers real encrypted calls.
func TestServerOnPort(t *testing.T) {
	bin := functiontest.Build(t, "./server", "server", nil)
	addr := servertest.FreeAddr(t)
	functiontest.Start(t, bin, append(functiontest.Env(t, "http://"+addr), "PORT="+functiontest.Port(t, addr)), addr)
	functiontest.Journey(t, "http://"+addr)
}
