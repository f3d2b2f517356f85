package provider

import (
	"fmt"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/openacquire/acquire/runtime/identity"
	"github.com/openacquire/acquire/runtime/registry"
)

func TestAccServiceDataSource(t *testing.T) {
	env := startAcquire(t)
	reg := env.Host.ServiceURL(registry.Kind)
	idURL := env.Host.ServiceURL(identity.Kind)
	keys, err := env.Client.ServiceKeys(t.Context(), idURL)
	if err != nil {
		t.Fatal(err)
	}
	pk, err := env.Host.Service(identity.Kind).PublicKeys(t.Context())
	if err != nil || pk.UID == "" {
		t.Fatalf("identity has no UID: %v", err)
	}
	uid := pk.UID
	byURL := fmt.Sprintf(`data "acquire_service" "id" {
  registry = %q
  url      = %q
}
data "acquire_service" "again" {
  registry = %q
  uid      = data.acquire_service.id.uid
}
output "same_key" {
  value = provider::acquire::fingerprint(data.acquire_service.id.certificate) == data.acquire_service.again.cert_fingerprint
}
`, reg, idURL+"/", reg)
	forEachEngine(t, func(t *testing.T) {
		resource.UnitTest(t, resource.TestCase{
			ProtoV6ProviderFactories: testAccProviders,
			// Refused configurations first: the steps end on a valid one, which
			// the final destroy plans with.
			Steps: []resource.TestStep{
				{
					Config:      providerBlock("") + fmt.Sprintf("data \"acquire_service\" \"x\" {\n registry = %q\n url = %q\n}\n", idURL, idURL),
					ExpectError: errorText(`Not a registry`),
				},
				{
					Config:      providerBlock("") + fmt.Sprintf("data \"acquire_service\" \"x\" {\n registry = %q\n uid = \"iden-0000000000000000\"\n}\n", reg),
					ExpectError: errorText(`Service not registered`),
				},
				{
					Config:      providerBlock("") + fmt.Sprintf("data \"acquire_service\" \"x\" {\n registry = %q\n url = %q\n uid = %q\n}\n", reg, idURL, uid),
					ExpectError: errorText(`Exactly one of these attributes must be configured: [url,uid]`),
				},
				{
					Config:      providerBlock("") + fmt.Sprintf("data \"acquire_service\" \"x\" {\n registry = %q\n url = \"ftp://x/identity\"\n}\n", reg),
					ExpectError: errorText(`Invalid URL`),
				},
				{
					Config: providerBlock("") + byURL,
					ConfigStateChecks: []statecheck.StateCheck{
						statecheck.ExpectKnownValue("data.acquire_service.id", tfjsonpath.New("uid"), knownvalue.StringExact(uid)),
						statecheck.ExpectKnownValue("data.acquire_service.id", tfjsonpath.New("url"), knownvalue.StringExact(idURL)),
						statecheck.ExpectKnownValue("data.acquire_service.id", tfjsonpath.New("kind"), knownvalue.StringExact(identity.Kind)),
						statecheck.ExpectKnownValue("data.acquire_service.id", tfjsonpath.New("cert_fingerprint"), knownvalue.StringExact(keys.Newest)),
						statecheck.ExpectKnownValue("data.acquire_service.again", tfjsonpath.New("url"), knownvalue.StringExact(idURL)),
						statecheck.ExpectKnownOutputValue("same_key", knownvalue.Bool(true)),
					},
				},
			},
		})
	})
}
