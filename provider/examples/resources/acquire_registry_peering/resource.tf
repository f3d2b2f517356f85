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
