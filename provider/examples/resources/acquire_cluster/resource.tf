# A cluster of the compute service; its agents sign with the private key.
resource "acquire_cluster" "lab" {
  store_url = acquire_service.compute.store_url
  name      = "lab"
}

# Hand the key to the agent host (0600), then run there:
#   acquire cluster agent lab --key lab.key
resource "local_sensitive_file" "lab_key" {
  filename        = "${path.module}/lab.key"
  content         = acquire_cluster.lab.private_key_pem
  file_permission = "0600"
}
