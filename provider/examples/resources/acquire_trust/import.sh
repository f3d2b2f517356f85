# "<service URL>,<trusted URL>"
tofu import acquire_trust.accounting_trusts_access "http://127.0.0.1:8080/accounting,http://127.0.0.1:8080/access"
