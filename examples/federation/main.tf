# Two regions, each a registry and the services registered with it, on its
# own `acquire host` and its own store server, peered, with cross-region
# trust:
#
#   region "eu": registry, identity, accounting, access, storage, all on S3
#                (versitygw here)
#   region "us": registry, identity, accounting, access, storage, compute,
#                all on Azure Blob (Azurite here)
#
# A user of eu's identity logs in once and uses us's storage and compute;
# us's access service cashes the user's cheques at eu's accounting, which
# trusts it to. Each region's own users use its own accounting; money moves
# between the two ledgers by cross-region settlement between the two
# accounting services, each naming the other (settings.settlement_peers).
#
# Applied, used and destroyed by acctest (TestExampleFederation). Store
# credentials come from each host's environment, never from this file.

terraform {
  required_providers {
    acquire = { source = "openacquire/acquire" }
  }
}

variable "eu_host_url" {
  type    = string
  default = "http://127.0.0.1:8080"
}

variable "eu_host_token" {
  type      = string
  sensitive = true
}

variable "us_host_url" {
  type    = string
  default = "http://127.0.0.1:8081"
}

variable "us_host_token" {
  type      = string
  sensitive = true
}

variable "s3_bucket" {
  type    = string
  default = "acquire-eu"
}

variable "s3_endpoint" {
  description = "S3-compatible endpoint (versitygw here); null for AWS itself."
  type        = string
  default     = "http://127.0.0.1:7070"
}

variable "azure_container" {
  type    = string
  default = "acquire-us"
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

provider "acquire" {
  alias      = "eu"
  host_url   = var.eu_host_url
  host_token = var.eu_host_token
}

provider "acquire" {
  alias      = "us"
  host_url   = var.us_host_url
  host_token = var.us_host_token
}

locals {
  eu_store = { s3 = { bucket = var.s3_bucket, region = "us-east-1", endpoint = var.s3_endpoint, path_style = var.s3_endpoint != null } }
}

# ---- region eu ---------------------------------------------------------

resource "acquire_service" "eu_registry" {
  provider = acquire.eu
  name     = "registry"
  kind     = "registry"
  store    = { s3 = merge(local.eu_store.s3, { prefix = "registry" }) }
}

resource "acquire_service" "eu_identity" {
  provider               = acquire.eu
  name                   = "identity"
  kind                   = "identity"
  registry               = acquire_service.eu_registry.url
  admin_username         = "root"
  admin_enrolment_file   = "${abspath(path.root)}/eu-admin-enrolment.json"
  admin_password_version = "1" # password from ACQUIRE_ADMIN_PASSWORD
  store                  = { s3 = merge(local.eu_store.s3, { prefix = "identity" }) }
}

resource "acquire_service" "eu_accounting" {
  provider           = acquire.eu
  name               = "accounting"
  kind               = "accounting"
  registry           = acquire_service.eu_registry.url
  admin_identity_url = acquire_service.eu_identity.url
  admin_user_uid     = acquire_service.eu_identity.admin_user_uid
  # Cross-region transfers settle with us's accounting service, which names
  # this one too (its URL from the variable: naming the resource would be a
  # cycle).
  settings = { settlement_peers = "${var.us_host_url}/accounting" }
  store    = { s3 = merge(local.eu_store.s3, { prefix = "accounting" }) }
}

resource "acquire_service" "eu_access" {
  provider           = acquire.eu
  name               = "access"
  kind               = "access"
  registry           = acquire_service.eu_registry.url
  admin_identity_url = acquire_service.eu_identity.url
  admin_user_uid     = acquire_service.eu_identity.admin_user_uid
  settings           = { accounting_url = acquire_service.eu_accounting.url }
  store              = { s3 = merge(local.eu_store.s3, { prefix = "access" }) }
}

resource "acquire_service" "eu_storage" {
  provider           = acquire.eu
  name               = "storage"
  kind               = "storage"
  registry           = acquire_service.eu_registry.url
  admin_identity_url = acquire_service.eu_identity.url
  admin_user_uid     = acquire_service.eu_identity.admin_user_uid
  store              = { s3 = merge(local.eu_store.s3, { prefix = "storage" }) }
}

# ---- region us ---------------------------------------------------------

locals {
  us_store = { container = var.azure_container, account = var.azure_account, endpoint = var.azure_endpoint }
}

resource "acquire_service" "us_registry" {
  provider = acquire.us
  name     = "registry"
  kind     = "registry"
  store    = { azure = merge(local.us_store, { prefix = "registry" }) }
}

resource "acquire_service" "us_identity" {
  provider               = acquire.us
  name                   = "identity"
  kind                   = "identity"
  registry               = acquire_service.us_registry.url
  admin_username         = "usroot"
  admin_enrolment_file   = "${abspath(path.root)}/us-admin-enrolment.json"
  admin_password_version = "1"
  store                  = { azure = merge(local.us_store, { prefix = "identity" }) }
}

resource "acquire_service" "us_accounting" {
  provider           = acquire.us
  name               = "accounting"
  kind               = "accounting"
  registry           = acquire_service.us_registry.url
  admin_identity_url = acquire_service.us_identity.url
  admin_user_uid     = acquire_service.us_identity.admin_user_uid
  settings           = { settlement_peers = "${var.eu_host_url}/accounting" }
  store              = { azure = merge(local.us_store, { prefix = "accounting" }) }
}

# us's access service sells us's compute to eu's users, paid from their
# accounts at eu's accounting: it cashes their cheques there.
resource "acquire_service" "us_access" {
  provider           = acquire.us
  name               = "access"
  kind               = "access"
  registry           = acquire_service.us_registry.url
  admin_identity_url = acquire_service.eu_identity.url
  admin_user_uid     = acquire_service.eu_identity.admin_user_uid
  settings           = { accounting_url = acquire_service.eu_accounting.url }
  trusted_identities = [acquire_service.eu_identity.url, acquire_service.us_identity.url]
  store              = { azure = merge(local.us_store, { prefix = "access" }) }
}

resource "acquire_service" "us_storage" {
  provider           = acquire.us
  name               = "storage"
  kind               = "storage"
  registry           = acquire_service.us_registry.url
  admin_identity_url = acquire_service.us_identity.url
  admin_user_uid     = acquire_service.us_identity.admin_user_uid
  trusted_identities = [acquire_service.us_identity.url, acquire_service.eu_identity.url]
  store              = { azure = merge(local.us_store, { prefix = "storage" }) }
}

resource "acquire_service" "us_compute" {
  provider           = acquire.us
  name               = "compute"
  kind               = "compute"
  registry           = acquire_service.us_registry.url
  admin_identity_url = acquire_service.eu_identity.url
  admin_user_uid     = acquire_service.eu_identity.admin_user_uid
  settings           = { access_url = acquire_service.us_access.url }
  trusted_identities = [acquire_service.eu_identity.url, acquire_service.us_identity.url]
  store              = { azure = merge(local.us_store, { prefix = "compute" }) }
}

# ---- federation ----------------------------------------------------------

# Each region's admin declares its half of the peering.
resource "acquire_registry_peering" "eu_to_us" {
  provider = acquire.eu
  registry = acquire_service.eu_registry.url
  peer     = acquire_service.us_registry.url
  label    = "us"
}

resource "acquire_registry_peering" "us_to_eu" {
  provider   = acquire.us
  registry   = acquire_service.us_registry.url
  peer       = acquire_service.eu_registry.url
  label      = "eu"
  depends_on = [acquire_registry_peering.eu_to_us]
}

# eu's accounting trusts us's access service to cash eu users' cheques.
resource "acquire_trust" "eu_accounting_trusts_us_access" {
  provider = acquire.eu
  service  = acquire_service.eu_accounting.url
  trusted  = acquire_service.us_access.url
}


# ---- outputs -------------------------------------------------------------

output "eu" {
  value = {
    registry_url   = acquire_service.eu_registry.url
    identity_url   = acquire_service.eu_identity.url
    accounting_url = acquire_service.eu_accounting.url
    access_url     = acquire_service.eu_access.url
    storage_url    = acquire_service.eu_storage.url
    region         = acquire_registry_peering.eu_to_us.region
  }
}

output "us" {
  value = {
    registry_url   = acquire_service.us_registry.url
    identity_url   = acquire_service.us_identity.url
    accounting_url = acquire_service.us_accounting.url
    access_url     = acquire_service.us_access.url
    storage_url    = acquire_service.us_storage.url
    compute_url    = acquire_service.us_compute.url
    storage_uid    = acquire_service.us_storage.uid
    compute_uid    = acquire_service.us_compute.uid
    region         = acquire_registry_peering.us_to_eu.region
  }
}

# The admins' enrolments (authenticator URI, recovery codes) are written once,
# 0600, to these files, never to state.
output "eu_admin_enrolment_file" {
  value = acquire_service.eu_identity.admin_enrolment_file
}

output "us_admin_enrolment_file" {
  value = acquire_service.us_identity.admin_enrolment_file
}
