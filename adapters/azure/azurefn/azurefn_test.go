package azurefn_test

import (
	"encoding/json"
	"testing"

	"github.com/openacquire/acquire/adapters/azure/azurefn"
	"github.com/openacquire/acquire/adapters/functiontest"
	"github.com/openacquire/acquire/adapters/servertest"
)

// The handler starts as the Functions host starts a custom handler: the
// port in FUNCTIONS_CUSTOMHANDLER_PORT, requests forwarded unchanged. It
// answers real encrypted calls. (Azure Functions Core Tools cannot be
// installed here, so the host itself is not in the loop: docs/testing.md.)
func TestCustomHandler(t *testing.T) {
	bin := functiontest.Build(t, "./handler", "handler", nil)
	addr := servertest.FreeAddr(t)
	env := append(functiontest.Env(t, "http://"+addr), azurefn.EnvPort+"="+functiontest.Port(t, addr))
	functiontest.Start(t, bin, env, addr)
	functiontest.Journey(t, "http://"+addr)
}

// The package files say what the host needs: forward requests as they
// came, no /api prefix, one anonymous catch-all trigger, and the handler's
// executable name.
func TestPackageFiles(t *testing.T) {
	var hostJSON struct {
		CustomHandler struct {
			Description struct {
				DefaultExecutablePath string `json:"defaultExecutablePath"`
			} `json:"description"`
			EnableForwardingHTTPRequest bool `json:"enableForwardingHttpRequest"`
		} `json:"customHandler"`
		Extensions struct {
			HTTP struct {
				RoutePrefix *string `json:"routePrefix"`
			} `json:"http"`
		} `json:"extensions"`
	}
	if err := json.Unmarshal(azurefn.HostJSON, &hostJSON); err != nil {
		t.Fatal(err)
	}
	ch := hostJSON.CustomHandler
	if ch.Description.DefaultExecutablePath != azurefn.HandlerName || !ch.EnableForwardingHTTPRequest ||
		hostJSON.Extensions.HTTP.RoutePrefix == nil || *hostJSON.Extensions.HTTP.RoutePrefix != "" {
		t.Fatalf("host.json: %+v", hostJSON)
	}
	var fn struct {
		Bindings []struct {
			Type, AuthLevel, Route string
			Methods                []string
		} `json:"bindings"`
	}
	if err := json.Unmarshal(azurefn.FunctionJSON, &fn); err != nil {
		t.Fatal(err)
	}
	if len(fn.Bindings) != 2 || fn.Bindings[0].Type != "httpTrigger" || fn.Bindings[0].Route != "{*route}" ||
		fn.Bindings[0].AuthLevel != "anonymous" || fn.Bindings[1].Type != "http" {
		t.Fatalf("function.json: %+v", fn)
	}
}
