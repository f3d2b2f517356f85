# By resource identity (Terraform >= 1.12, OpenTofu >= 1.12): this region's
# registry and the peer's.
import {
  to = acquire_registry_peering.eu_to_us
  identity = {
    registry = "http://eu.example:8080/registry"
    peer     = "http://us.example:8080/registry"
  }
}
