# Each service's state on a different storage server, all served by one
# local `acquire host`: registry on a local folder, identity and storage on
# S3 (two buckets), accounting and compute on Google Cloud Storage (two
# buckets), access on Azure Blob.
#
# Runnable here against the emulators the tests use (versitygw, fake-gcs-server,
# Azurite: see README.md); point the variables at real buckets for real clouds.
# Store credentials come from the host's environment, never from this file.

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
  type    = string
  default = "http://127.0.0.1:8080"
}

variable "local_store_path" {
  description = "Absolute folder for the registry's state."
  type        = string
}

variable "s3_bucket" {
  type    = string
  default = "acquire-identity"
}

variable "s3_endpoint" {
  description = "S3-compatible endpoint (versitygw here); null for AWS itself."
  type        = string
  default     = "http://127.0.0.1:7070"
}

variable "s3_storage_bucket" {
  type    = string
  default = "acquire-storage"
}

variable "gcs_bucket" {
  type    = string
  default = "acquire-accounting"
}

variable "gcs_endpoint" {
  description = "GCS JSON API endpoint (fake-gcs-server here); null for Google itself."
  type        = string
  default     = "http://127.0.0.1:4443/storage/v1/"
}

variable "gcs_compute_bucket" {
  type    = string
  default = "acquire-compute"
}

variable "azure_container" {
  type    = string
  default = "acquire-access"
}

variable "azure_account" {
  type    = string
  default = "devstoreaccount1"
}

variable "azure_endpoint" {
  description = "Blob endpoint (Azurite here); null for Azure itself."
  type        = string
  default     = "http://127.0.0.1:10000/devstoreaccount1"
}

variable "admin_username" {
  type    = string
  default = "root"
}

provider "acquire" {
  host_url = var.host_url
}

resource "acquire_service" "registry" {
  name  = "registry"
  kind  = "registry"
  store = { local = { path = var.local_store_path } }
}

resource "acquire_service" "identity" {
  name                   = "identity"
  kind                   = "identity"
  registry               = acquire_service.registry.url
  admin_username         = var.admin_username
  admin_enrolment_file   = coalesce(var.admin_enrolment_file, "${abspath(path.root)}/admin-enrolment.json")
  admin_password_version = "1" # password from ACQUIRE_ADMIN_PASSWORD
  store = {
    s3 = { bucket = var.s3_bucket, region = "us-east-1", endpoint = var.s3_endpoint, path_style = var.s3_endpoint != null }
  }
}

resource "acquire_service" "accounting" {
  name               = "accounting"
  kind               = "accounting"
  registry           = acquire_service.registry.url
  admin_identity_url = acquire_service.identity.url
  admin_user_uid     = acquire_service.identity.admin_user_uid
  store = {
    gcs = { bucket = var.gcs_bucket, endpoint = var.gcs_endpoint, anonymous = var.gcs_endpoint != null }
  }
}

resource "acquire_service" "access" {
  name               = "access"
  kind               = "access"
  registry           = acquire_service.registry.url
  admin_identity_url = acquire_service.identity.url
  admin_user_uid     = acquire_service.identity.admin_user_uid
  settings           = { accounting_url = acquire_service.accounting.url }
  store = {
    azure = { container = var.azure_container, account = var.azure_account, endpoint = var.azure_endpoint }
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
  store = {
    s3 = { bucket = var.s3_storage_bucket, region = "us-east-1", endpoint = var.s3_endpoint, path_style = var.s3_endpoint != null }
  }
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
  store = {
    gcs = { bucket = var.gcs_compute_bucket, endpoint = var.gcs_endpoint, anonymous = var.gcs_endpoint != null }
  }
}

resource "acquire_trust" "accounting_trusts_access" {
  service = acquire_service.accounting.url
  trusted = acquire_service.access.url
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

output "store_urls" {
  description = "Where each service's state lives."
  value = {
    registry   = acquire_service.registry.store_url
    identity   = acquire_service.identity.store_url
    accounting = acquire_service.accounting.store_url
    access     = acquire_service.access.store_url
    storage    = acquire_service.storage.store_url
    compute    = acquire_service.compute.store_url
  }
}

output "cli_env" {
  value = <<-EOT
    export ACQUIRE_IDENTITY_URL=${acquire_service.identity.url}
    export ACQUIRE_ACCOUNTING_URL=${acquire_service.accounting.url}
    export ACQUIRE_ACCESS_URL=${acquire_service.access.url}
    export ACQUIRE_STORAGE_URL=${acquire_service.storage.url}
    export ACQUIRE_COMPUTE_URL=${acquire_service.compute.url}
  EOT
}
