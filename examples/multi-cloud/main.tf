# Three clouds, one deployment: the registry, identity and access on AWS
# Lambda + S3; accounting and compute on Google Cloud Run + GCS; storage on
# Azure Functions + Blob. Accounting trusts access (which
# cashes users' cheques in its own name); compute runs jobs paid through
# access.
#
# Everything each cloud needs that this file does not create is listed in
# README.md ("What must exist first"); every value below is checked at plan.
# The provider deploys with each cloud's own credentials chain (AWS_PROFILE,
# gcloud application-default, az login) and never puts a secret in this file
# or in state. The artifacts come from `make dist` (or a release): a plan
# builds nothing.

terraform {
  required_providers {
    acquire = { source = "openacquire/acquire" }
  }
}

provider "acquire" {
  default_tags = { project = "acquire", managed-by = "opentofu" }
}

variable "prefix" {
  description = "Prefix of every cloud resource name (buckets must be globally unique)."
  type        = string
  default     = "acquire-demo"
}

variable "dist_dir" {
  description = "Folder holding `make dist`'s output (or an unpacked release). Default: dist/ of the checkout this folder is in."
  type        = string
  default     = null
}

variable "access_public_url" {
  description = "The access service's own URL (a custom domain routed to its function, see README.md). Accounting trusts it by this URL, known before apply, so the two services can name each other."
  type        = string
  default     = "https://access.acquire.example.org"
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

variable "gcp_repository" {
  description = "Artifact Registry docker repository in gcp_project and gcp_region."
  type        = string
  default     = "acquire"
}

variable "gcp_service_account" {
  description = "Email of the service account the Cloud Run services run as."
  type        = string
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
  description = "Storage account (in azure_resource_group) holding the storage service's container, its Flex deployment container and the Functions host's containers."
  type        = string
}

variable "azure_key_vault" {
  description = "Key Vault (in azure_resource_group, Azure RBAC permission model) the storage service's secret is kept in."
  type        = string
}

variable "admin_enrolment_file" {
  description = "Where the provider writes the admin's authenticator URI and recovery codes (0600) when it creates the admin; state keeps only this path. Default: admin-enrolment.json in this folder."
  type        = string
  default     = null
}

variable "admin_username" {
  type    = string
  default = "root"
}

# The function packages from `make dist`, checked (nothing is built here).
data "acquire_function_package" "aws" {
  platform = "aws"
  arch     = "arm64"
  dist_dir = var.dist_dir
}

data "acquire_function_package" "gcp" {
  platform = "gcp"
  dist_dir = var.dist_dir
}

data "acquire_function_package" "azure" {
  platform = "azure"
  dist_dir = var.dist_dir
}

resource "acquire_service" "registry" {
  name  = "${var.prefix}-registry"
  kind  = "registry"
  store = { s3 = { bucket = "${var.prefix}-registry", region = var.aws_region } }
  platform {
    aws {
      region             = var.aws_region
      arch               = "arm64"
      artifact           = data.acquire_function_package.aws.artifact
      artifact_sha256    = data.acquire_function_package.aws.sha256
      log_retention_days = 30
    }
  }
}

resource "acquire_service" "identity" {
  name                   = "${var.prefix}-identity"
  kind                   = "identity"
  registry               = acquire_service.registry.url
  admin_username         = var.admin_username
  admin_enrolment_file   = coalesce(var.admin_enrolment_file, "${abspath(path.root)}/admin-enrolment.json")
  admin_password_version = "1" # the password is read from ACQUIRE_ADMIN_PASSWORD, never stored
  store                  = { s3 = { bucket = "${var.prefix}-identity", region = var.aws_region } }
  platform {
    aws {
      region             = var.aws_region
      arch               = "arm64"
      artifact           = data.acquire_function_package.aws.artifact
      artifact_sha256    = data.acquire_function_package.aws.sha256
      memory_mb          = 1024 # password hashing
      log_retention_days = 30
    }
  }
}

resource "acquire_service" "accounting" {
  name               = "${var.prefix}-accounting"
  kind               = "accounting"
  registry           = acquire_service.registry.url
  admin_identity_url = acquire_service.identity.url
  admin_user_uid     = acquire_service.identity.admin_user_uid
  trusted_identities = [acquire_service.identity.url]
  trusted_services   = ["${var.access_public_url}/access"] # access cashes cheques in its own name
  store              = { gcs = { bucket = "${var.prefix}-accounting" } }
  platform {
    gcp {
      project            = var.gcp_project
      region             = var.gcp_region
      repository         = var.gcp_repository
      service_account    = var.gcp_service_account
      artifact           = data.acquire_function_package.gcp.artifact
      artifact_sha256    = data.acquire_function_package.gcp.sha256
      max_instances      = 10
      log_retention_days = 30 # its own log bucket, sink and _Default exclusion
      tags               = { service = "accounting" }
    }
  }
}

resource "acquire_service" "access" {
  name               = "${var.prefix}-access"
  kind               = "access"
  registry           = acquire_service.registry.url
  admin_identity_url = acquire_service.identity.url
  admin_user_uid     = acquire_service.identity.admin_user_uid
  settings           = { accounting_url = acquire_service.accounting.url }
  trusted_identities = [acquire_service.identity.url]
  store              = { s3 = { bucket = "${var.prefix}-access", region = var.aws_region } }
  platform {
    aws {
      region             = var.aws_region
      arch               = "arm64"
      artifact           = data.acquire_function_package.aws.artifact
      artifact_sha256    = data.acquire_function_package.aws.sha256
      public_url         = var.access_public_url
      log_retention_days = 30
    }
  }
}

resource "acquire_service" "storage" {
  name               = "${var.prefix}-storage"
  kind               = "storage"
  registry           = acquire_service.registry.url
  admin_identity_url = acquire_service.identity.url
  admin_user_uid     = acquire_service.identity.admin_user_uid
  trusted_identities = [acquire_service.identity.url]
  store              = { azure = { container = "${var.prefix}-storage", account = var.azure_storage_account } }
  platform {
    azure {
      subscription    = var.azure_subscription
      resource_group  = var.azure_resource_group
      location        = var.azure_location
      storage_account = var.azure_storage_account
      key_vault       = var.azure_key_vault
      artifact        = data.acquire_function_package.azure.artifact
      artifact_sha256 = data.acquire_function_package.azure.sha256
      # Flex Consumption: an instance size (512, 2048 or 4096 MB), at most
      # 40 instances of at most 32 concurrent calls each; logs kept 30 days
      # in the service's Log Analytics workspace.
      memory_mb          = 2048
      max_instances      = 40
      http_concurrency   = 32
      timeout_s          = 120
      log_retention_days = 30
    }
  }
}

resource "acquire_service" "compute" {
  name               = "${var.prefix}-compute"
  kind               = "compute"
  registry           = acquire_service.registry.url
  admin_identity_url = acquire_service.identity.url
  admin_user_uid     = acquire_service.identity.admin_user_uid
  settings           = { access_url = acquire_service.access.url }
  trusted_identities = [acquire_service.identity.url]
  store              = { gcs = { bucket = "${var.prefix}-compute" } }
  platform {
    gcp {
      project         = var.gcp_project
      region          = var.gcp_region
      repository      = var.gcp_repository
      service_account = var.gcp_service_account
      artifact        = data.acquire_function_package.gcp.artifact
      artifact_sha256 = data.acquire_function_package.gcp.sha256
      timeout_s       = 300
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
  description = "eval \"$(tofu output -raw cli_env)\" points the acquire CLI at this deployment."
  value       = <<-EOT
    export ACQUIRE_IDENTITY_URL=${acquire_service.identity.url}
    export ACQUIRE_ACCOUNTING_URL=${acquire_service.accounting.url}
    export ACQUIRE_ACCESS_URL=${acquire_service.access.url}
    export ACQUIRE_STORAGE_URL=${acquire_service.storage.url}
    export ACQUIRE_COMPUTE_URL=${acquire_service.compute.url}
  EOT
}
