# By resource identity (Terraform >= 1.12, OpenTofu >= 1.12).
import {
  to = acquire_cluster.lab
  identity = {
    name      = "lab"
    store_url = "file:///srv/acquire/data/compute"
  }
}
