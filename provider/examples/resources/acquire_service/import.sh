# A service deployed on the provider's host, by its deployment name.
tofu import acquire_service.identity identity
