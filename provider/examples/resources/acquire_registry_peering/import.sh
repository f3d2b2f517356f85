# "<registry URL>,<peer registry URL>" (local platform)
tofu import acquire_registry_peering.eu_to_us "http://eu.example:8080/registry,http://us.example:8080/registry"
# "<deployment>,<peer registry URL>" (a registry on a cloud, named as acquire_service imports it)
tofu import acquire_registry_peering.us_to_eu "aws/us-east-1/us-registry,http://eu.example:8080/registry"
