# "<registry URL> <peer registry URL>"
tofu import acquire_registry_peering.eu_to_us "http://eu.example:8080/registry http://us.example:8080/registry"
