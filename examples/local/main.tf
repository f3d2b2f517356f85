# Every Acquire service on one local `acquire host`, in one apply.
#
#   acquire host --services none --store file://$PWD/.acquire/data   # or: make up (does all of this)
#   export ACQUIRE_HOST_TOKEN=$(cat .acquire/data/admin.token)
#   export ACQUIRE_ADMIN_PASSWORD='a long admin password'
#   tofu apply
#
# The outputs are what the CLI needs (see README.md).

terraform {
  required_providers {
    acquire = { source = "openacquire/acquire" }
  }
}

variable "admin_enrolment_file" {
  description = "Where the provider writes the admin's authenticator URI and recovery codes (0600) when it creates the admin; state keeps only this path. Default: admin-enrolment.json in this folder."
  type        = string
  default     = null
}

variable "host_url" {
  description = "Base URL of the running `acquire host` (its admin token comes from ACQUIRE_HOST_TOKEN)."
  type        = string
  default     = "http://127.0.0.1:8080"
}

variable "admin_username" {
  description = "The first admin of the identity service (and of accounting and access). Its password comes from ACQUIRE_ADMIN_PASSWORD."
  type        = string
  default     = "root"
}

variable "admin_password_version" {
  description = "Change it (with a new ACQUIRE_ADMIN_PASSWORD) to set the admin's password again."
  type        = string
  default     = "1"
}

provider "acquire" {
  host_url = var.host_url
}

resource "acquire_service" "registry" {
  name = "registry"
  kind = "registry"
}

resource "acquire_service" "identity" {
  name                   = "identity"
  kind                   = "identity"
  registry               = acquire_service.registry.url
  admin_username         = var.admin_username
  admin_enrolment_file   = coalesce(var.admin_enrolment_file, "${abspath(path.root)}/admin-enrolment.json")
  admin_password_version = var.admin_password_version
  # The password is read from ACQUIRE_ADMIN_PASSWORD at apply and never
  # stored. With Terraform >= 1.11 you may use admin_password_wo instead.
}

resource "acquire_service" "accounting" {
  name               = "accounting"
  kind               = "accounting"
  registry           = acquire_service.registry.url
  admin_identity_url = acquire_service.identity.url
  admin_user_uid     = acquire_service.identity.admin_user_uid
}

resource "acquire_service" "access" {
  name               = "access"
  kind               = "access"
  registry           = acquire_service.registry.url
  admin_identity_url = acquire_service.identity.url
  admin_user_uid     = acquire_service.identity.admin_user_uid
  settings = {
    accounting_url = acquire_service.accounting.url
  }
}

# Drives and files; uploads go straight to its store through signed URLs
# (on a local folder: through the host).
resource "acquire_service" "storage" {
  name               = "storage"
  kind               = "storage"
  registry           = acquire_service.registry.url
  admin_identity_url = acquire_service.identity.url
  admin_user_uid     = acquire_service.identity.admin_user_uid
}

# Jobs paid through the access service, run by cluster agents.
resource "acquire_service" "compute" {
  name               = "compute"
  kind               = "compute"
  registry           = acquire_service.registry.url
  admin_identity_url = acquire_service.identity.url
  admin_user_uid     = acquire_service.identity.admin_user_uid
  settings = {
    access_url = acquire_service.access.url
  }
}

# The access service cashes users' cheques at the accounting service in its
# own name: accounting must trust it.
resource "acquire_trust" "accounting_trusts_access" {
  service = acquire_service.accounting.url
  trusted = acquire_service.access.url
}

output "registry_url" {
  value = acquire_service.registry.url
}

output "identity_url" {
  value = acquire_service.identity.url
}

output "accounting_url" {
  value = acquire_service.accounting.url
}

output "access_url" {
  value = acquire_service.access.url
}

output "storage_url" {
  value = acquire_service.storage.url
}

output "compute_url" {
  value = acquire_service.compute.url
}

output "admin_username" {
  value = var.admin_username
}

output "admin_enrolment_file" {
  description = "The admin's enrolment (authenticator URI, recovery codes), written once when the admin was created: jq -r .otp_uri <file>"
  value       = acquire_service.identity.admin_enrolment_file
}

output "cli_env" {
  description = "Paste into a shell to point the acquire CLI at this deployment."
  value       = <<-EOT
    export ACQUIRE_IDENTITY_URL=${acquire_service.identity.url}
    export ACQUIRE_ACCOUNTING_URL=${acquire_service.accounting.url}
    export ACQUIRE_ACCESS_URL=${acquire_service.access.url}
    export ACQUIRE_STORAGE_URL=${acquire_service.storage.url}
    export ACQUIRE_COMPUTE_URL=${acquire_service.compute.url}
  EOT
}
