# A registry, and an identity service registered with it, on the provider's
# local host. The admin's password is read from ACQUIRE_ADMIN_PASSWORD at
# apply (or give the write-only admin_password_wo with Terraform >= 1.11);
# it never reaches state.
resource "acquire_service" "registry" {
  name = "registry"
  kind = "registry"
}

resource "acquire_service" "identity" {
  name                   = "identity"
  kind                   = "identity"
  registry               = acquire_service.registry.url
  admin_username         = "root"
  admin_password_version = "1" # bump (with a new password) to rotate it
}

# Accounting keeps its state on S3; its first admin is the identity admin.
resource "acquire_service" "accounting" {
  name               = "accounting"
  kind               = "accounting"
  registry           = acquire_service.registry.url
  admin_identity_url = acquire_service.identity.url
  admin_user_uid     = acquire_service.identity.admin_user_uid
  store = {
    s3 = { bucket = "acquire-accounting", region = "eu-west-1" }
  }
}

# Access cashes cheques at the accounting service above.
resource "acquire_service" "access" {
  name     = "access"
  kind     = "access"
  registry = acquire_service.registry.url
  settings = { accounting_url = acquire_service.accounting.url }
}

# Accounting on Google Cloud Run, its state on GCS. Every required value is
# checked at plan, naming the attribute; the artifact comes from make dist.
data "acquire_function_package" "gcp" {
  platform = "gcp"
}

resource "acquire_service" "accounting_gcp" {
  name               = "accounting-gcp"
  kind               = "accounting"
  registry           = acquire_service.registry.url
  admin_identity_url = acquire_service.identity.url
  admin_user_uid     = acquire_service.identity.admin_user_uid
  trusted_identities = [acquire_service.identity.url]
  trusted_services   = ["https://access.example.org/access"]
  store              = { gcs = { bucket = "acquire-accounting-gcp" } }
  platform {
    gcp {
      project         = "my-project"
      region          = "europe-west2"
      repository      = "acquire"
      service_account = "acquire-run@my-project.iam.gserviceaccount.com"
      artifact        = data.acquire_function_package.gcp.artifact
      artifact_sha256 = data.acquire_function_package.gcp.sha256
      max_instances   = 10
      tags            = { team = "ledger" }
    }
  }
}
