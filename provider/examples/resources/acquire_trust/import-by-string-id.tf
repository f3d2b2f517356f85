import {
  to = acquire_trust.accounting_trusts_access
  id = "http://127.0.0.1:8080/accounting,http://127.0.0.1:8080/access"
}
