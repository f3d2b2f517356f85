# By resource identity (Terraform >= 1.12, OpenTofu >= 1.12).
import {
  to = acquire_resource.gpu_hour
  identity = {
    name      = "gpu-hour"
    store_url = "file:///srv/acquire/data/access"
  }
}
