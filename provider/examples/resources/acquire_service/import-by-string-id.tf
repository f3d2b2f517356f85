# A service on the provider's local host, by its deployment name.
import {
  to = acquire_service.identity
  id = "identity"
}

# A cloud service, by "<platform>/<where>/<name>": aws/<region>/<name>,
# gcp/<project>/<region>/<name>, azure/<subscription>/<resource group>/<name>.
# Its secret is read back from the platform's secret store, never kept.
import {
  to = acquire_service.accounting_gcp
  id = "gcp/my-project/europe-west2/accounting-gcp"
}

# A service on an Fn server: fn/<API URL, URL-escaped>/<name>, or fn/<name>
# with the API URL in FN_API_URL (as the Fn CLI reads it). The platform
# block is rebuilt from what the deployer recorded on the function, so the
# plan after the import is empty for a service without a registry or admin.
import {
  to = acquire_service.registry_fn
  id = "fn/http:%2F%2Ffn.example.internal:8080/registry"
}
