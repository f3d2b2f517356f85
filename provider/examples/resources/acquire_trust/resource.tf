# The accounting service lets the access service cash users' cheques in its
# own name.
resource "acquire_trust" "accounting_trusts_access" {
  service = acquire_service.accounting.url
  trusted = acquire_service.access.url
}
