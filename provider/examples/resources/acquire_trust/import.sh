# "<service URL>,<trusted URL>" (local platform)
tofu import acquire_trust.accounting_trusts_access "http://127.0.0.1:8080/accounting,http://127.0.0.1:8080/access"
# "<deployment>,<trusted URL>" (a service on a cloud, named as acquire_service imports it)
tofu import acquire_trust.cloud_accounting_trusts_access "gcp/my-project/europe-west2/accounting,https://access.example.org/access"
