# Three clouds, one deployment: identity (and its registry) on AWS Lambda + S3,
# accounting on Google Cloud Run + GCS, storage on Azure Functions + Blob.
#
# For real accounts: the provider deploys each function with the cloud's own
# credentials chain (AWS_PROFILE / gcloud application-default / az login) and
# never puts a secret in this file or in state. The tests run `tofu validate`
# on it; it is not applied against live clouds here.

terraform {
  required_providers {
    acquire = { source = "openacquire/acquire" }
  }
}

provider "acquire" {}

variable "prefix" {
  description = "Prefix of every cloud resource name (buckets must be globally unique)."
  type        = string
  default     = "acquire-demo"
}

variable "aws_region" {
  type    = string
  default = "eu-west-2"
}

variable "gcp_project" {
  type = string
}

variable "gcp_region" {
  type    = string
  default = "europe-west2"
}

variable "azure_subscription" {
  type = string
}

variable "azure_resource_group" {
  type = string
}

variable "azure_location" {
  type    = string
  default = "uksouth"
}

variable "azure_storage_account" {
  description = "Storage account that holds the storage service's container."
  type        = string
}

variable "admin_username" {
  type    = string
  default = "root"
}

# The function packages, built from this checkout (same bytes as `make dist`).
data "acquire_function_package" "aws" {
  platform = "aws"
  arch     = "arm64"
}

data "acquire_function_package" "gcp" {
  platform = "gcp"
}

data "acquire_function_package" "azure" {
  platform = "azure"
}

locals {
  aws = { region = var.aws_region, artifact = data.acquire_function_package.aws.path }
}

resource "acquire_service" "registry" {
  name     = "${var.prefix}-registry"
  kind     = "registry"
  store    = { s3 = { bucket = "${var.prefix}-registry", region = var.aws_region } }
  platform = { aws = local.aws }
}

resource "acquire_service" "identity" {
  name                   = "${var.prefix}-identity"
  kind                   = "identity"
  registry               = acquire_service.registry.url
  admin_username         = var.admin_username
  admin_password_version = "1" # the password is read from ACQUIRE_ADMIN_PASSWORD, never stored
  store                  = { s3 = { bucket = "${var.prefix}-identity", region = var.aws_region } }
  platform               = { aws = local.aws }
}

resource "acquire_service" "accounting" {
  name               = "${var.prefix}-accounting"
  kind               = "accounting"
  registry           = acquire_service.registry.url
  admin_identity_url = acquire_service.identity.url
  admin_user_uid     = acquire_service.identity.admin_user_uid
  store              = { gcs = { bucket = "${var.prefix}-accounting" } }
  platform = {
    gcp = {
      project  = var.gcp_project
      region   = var.gcp_region
      artifact = data.acquire_function_package.gcp.path
    }
  }
}

resource "acquire_service" "storage" {
  name               = "${var.prefix}-storage"
  kind               = "storage"
  registry           = acquire_service.registry.url
  admin_identity_url = acquire_service.identity.url
  admin_user_uid     = acquire_service.identity.admin_user_uid
  store              = { azure = { container = "${var.prefix}-storage", account = var.azure_storage_account } }
  platform = {
    azure = {
      subscription   = var.azure_subscription
      resource_group = var.azure_resource_group
      location       = var.azure_location
      artifact       = data.acquire_function_package.azure.path
    }
  }
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

output "storage_url" {
  value = acquire_service.storage.url
}

output "admin_username" {
  value = var.admin_username
}

output "admin_otp_uri" {
  description = "Add it to an authenticator app (tofu output -raw admin_otp_uri | qrencode -t ansiutf8)."
  value       = acquire_service.identity.admin_otp_uri
  sensitive   = true
}

output "cli_env" {
  description = "eval \"$(tofu output -raw cli_env)\" points the acquire CLI at this deployment."
  value       = <<-EOT
    export ACQUIRE_IDENTITY_URL=${acquire_service.identity.url}
    export ACQUIRE_ACCOUNTING_URL=${acquire_service.accounting.url}
  EOT
}
