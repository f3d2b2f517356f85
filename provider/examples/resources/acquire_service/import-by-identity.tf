# By resource identity (Terraform >= 1.12, OpenTofu >= 1.12): the same
# service as its import ID names, attribute by attribute. platform defaults
# to local (the provider's host); a cloud takes its import keys: aws region;
# gcp project and region; azure subscription and resource_group.
import {
  to = acquire_service.identity
  identity = {
    name = "identity"
  }
}

import {
  to = acquire_service.accounting_gcp
  identity = {
    platform = "gcp"
    project  = "my-project"
    region   = "europe-west2"
    name     = "accounting-gcp"
  }
}
