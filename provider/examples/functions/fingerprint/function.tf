# Check that a service still publishes the certificate you pinned.
output "pinned_still_current" {
  value = provider::acquire::fingerprint(file("${path.module}/identity-cert.pem")) == data.acquire_service.identity.cert_fingerprint
}
