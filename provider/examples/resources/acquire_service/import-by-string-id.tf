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
