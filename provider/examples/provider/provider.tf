terraform {
  required_providers {
    acquire = { source = "openacquire/acquire" }
  }
}

# The local platform: a running `acquire host` with its admin API.
# host_token defaults to ACQUIRE_HOST_TOKEN; keep it out of the configuration.
provider "acquire" {
  host_url = "http://127.0.0.1:8080"
}

# Tags (labels on GCP) on every cloud object the provider makes.
provider "acquire" {
  alias        = "cloud"
  default_tags = { project = "acquire", managed-by = "opentofu" }
}
