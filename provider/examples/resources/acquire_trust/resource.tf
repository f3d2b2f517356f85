# The accounting service lets the access service cash users' cheques in its
# own name.
resource "acquire_trust" "accounting_trusts_access" {
  service = acquire_service.accounting.url
  trusted = acquire_service.access.url
}

# On a cloud the trust is written to the trusting service's store (no
# redeploy); the service is named as acquire_service imports it.
resource "acquire_trust" "cloud_accounting_trusts_access" {
  deployment = "gcp/my-project/europe-west2/accounting"
  service    = acquire_service.accounting_gcp.url
  trusted    = "https://access.example.org/access"
}
