package provider

import (
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"

	"github.com/openacquire/acquire/runtime/crypto"
)

func TestFingerprintOf(t *testing.T) {
	k, err := crypto.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	pemText := string(k.Public().PEM())
	fp, msg := fingerprintOf(pemText)
	if msg != "" || fp != k.Fingerprint() {
		t.Fatalf("fingerprint %q (%s), want %q", fp, msg, k.Fingerprint())
	}
	// Acquire hashes the canonical PEM: CRLF line ends and surrounding
	// blank lines from a copied file give the same fingerprint.
	crlf := "\n\n" + strings.ReplaceAll(pemText, "\n", "\r\n")
	if got, msg := fingerprintOf(crlf); got != fp {
		t.Errorf("CRLF PEM: %q (%s), want %q", got, msg, fp)
	}
	for _, bad := range []string{"", "not a key", strings.Replace(pemText, "PUBLIC KEY", "CERTIFICATE", 2), strings.Repeat("A", MaxPEMBytes+1)} {
		if got, msg := fingerprintOf(bad); msg == "" || got != "" {
			t.Errorf("fingerprintOf(%.20q) = %q with no error", bad, got)
		}
	}
}

func TestAccFingerprintFunction(t *testing.T) {
	k, err := crypto.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	forEachEngine(t, func(t *testing.T) {
		resource.UnitTest(t, resource.TestCase{
			ProtoV6ProviderFactories: testAccProviders,
			Steps: []resource.TestStep{
				{
					Config: providerBlock("") + "output \"fp\" {\n  value = provider::acquire::fingerprint(<<EOT\n" +
						string(k.Public().PEM()) + "EOT\n  )\n}\n",
					ConfigStateChecks: []statecheck.StateCheck{
						statecheck.ExpectKnownOutputValue("fp", knownvalue.StringExact(k.Fingerprint())),
					},
				},
				{
					Config:      providerBlock("") + `output "fp" { value = provider::acquire::fingerprint("not a key") }`,
					ExpectError: errorText(`"public_key_pem" parameter: not an RSA public key in PEM form`),
				},
			},
		})
	})
}
