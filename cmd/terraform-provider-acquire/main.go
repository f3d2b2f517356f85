// Command terraform-provider-acquire is the Acquire Terraform/OpenTofu
// provider (protocol 6). Terraform starts it; run with -debug to attach a
// debugger (it prints TF_REATTACH_PROVIDERS).
package main

import (
	"context"
	"flag"
	"log"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"

	"github.com/openacquire/acquire/provider"
)

// version is set at release time with -ldflags "-X main.version=...".
var version = "dev"

// Address is the provider's registry address; configs write
// source = "openacquire/acquire".
const Address = "registry.opentofu.org/openacquire/acquire"

// protocolVersion is the plugin protocol served; terraform-registry-manifest.json
// declares the same to the registries.
const protocolVersion = 6

func main() {
	debug := flag.Bool("debug", false, "run with support for debuggers like delve")
	flag.Parse()
	err := providerserver.Serve(context.Background(), provider.New(version), providerserver.ServeOpts{
		Address:         Address,
		Debug:           *debug,
		ProtocolVersion: protocolVersion,
	})
	if err != nil {
		log.Fatal(err)
	}
}
