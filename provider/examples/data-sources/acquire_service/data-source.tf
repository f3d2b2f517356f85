# Another team's accounting service, found through the registry.
data "acquire_service" "accounting" {
  registry = "https://registry.example.org/registry"
  url      = "https://accounting.example.org/accounting"
}

output "accounting_uid" {
  value = data.acquire_service.accounting.uid
}
