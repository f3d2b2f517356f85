# By resource identity (Terraform >= 1.12, OpenTofu >= 1.12).
import {
  to = acquire_trust.accounting_trusts_access
  identity = {
    service = "http://127.0.0.1:8080/accounting"
    trusted = "http://127.0.0.1:8080/access"
  }
}
