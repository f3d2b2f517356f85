# The admin's enrolment, written once by acquire_service to its
# admin_enrolment_file, handed to a secret manager without a trace in plan or
# state (Terraform >= 1.10, OpenTofu >= 1.11; with OpenTofu 1.10 read the 0600 file itself).
ephemeral "acquire_admin_enrolment" "root" {
  file = acquire_service.identity.admin_enrolment_file
}

resource "aws_secretsmanager_secret_version" "root_otp" {
  secret_id                = aws_secretsmanager_secret.root_otp.id # defined elsewhere
  secret_string_wo         = ephemeral.acquire_admin_enrolment.root.otp_uri
  secret_string_wo_version = 1
}
