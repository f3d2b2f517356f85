# A service deployed on the provider's host, by its deployment name.
tofu import acquire_service.identity identity
# A cloud service: aws/<region>/<name>, gcp/<project>/<region>/<name>,
# azure/<subscription>/<resource group>/<name>.
tofu import acquire_service.registry aws/eu-west-2/acquire-demo-registry
# An Fn service: fn/<URL-escaped API URL>/<name>, or fn/<name> with FN_API_URL set.
tofu import acquire_service.registry_fn 'fn/http:%2F%2Ffn.example.internal:8080/registry'
