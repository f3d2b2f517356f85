# Region "eu" peers with region "us": each region declares its half, on its
# own host; the peering is active once both are applied.
resource "acquire_registry_peering" "eu_to_us" {
  host_url = "http://eu.example:8080"
  registry = acquire_service.eu_registry.url
  peer     = acquire_service.us_registry.url
  label    = "us"
}

resource "acquire_registry_peering" "us_to_eu" {
  host_url = "http://us.example:8080"
  registry = acquire_service.us_registry.url
  peer     = acquire_service.eu_registry.url
  label    = "eu"
}

# A registry on a cloud platform: named as acquire_service imports it; the
# provider opens it on its store with its secret from the secret store.
resource "acquire_registry_peering" "cloud_to_eu" {
  deployment = "aws/eu-west-2/cloud-registry"
  registry   = acquire_service.cloud_registry.url
  peer       = acquire_service.eu_registry.url
  label      = "eu"
}
