# A cluster of the compute service. Make its key pair where its agents run:
#   acquire cluster key lab          # prints the public key; the private key stays there (0600)
# then give the public key here, and run there:
#   acquire cluster agent lab
resource "acquire_cluster" "lab" {
  store_url  = acquire_service.compute.store_url
  name       = "lab"
  public_key = "Hb1J8HjDDW3LZ9Hq9mGdDZrfOF7uH1PbE3x0QO0p3yU="
}
