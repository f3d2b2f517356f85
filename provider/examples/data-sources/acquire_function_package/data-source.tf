# The Lambda package `make dist` wrote into dist/ (nothing is built at plan),
# deployed with the AWS provider's own resources.
data "acquire_function_package" "lambda" {
  platform = "aws"
  arch     = "arm64"
  dist_dir = "${path.root}/dist"
}

resource "aws_lambda_function" "identity" {
  function_name    = "acquire-identity"
  filename         = data.acquire_function_package.lambda.path
  source_code_hash = data.acquire_function_package.lambda.base64sha256
  runtime          = data.acquire_function_package.lambda.runtime
  handler          = data.acquire_function_package.lambda.handler
  architectures    = ["arm64"]
  role             = aws_iam_role.identity.arn # defined elsewhere
}

# Or a release asset by URL and checksum: acquire_service downloads and
# checks it at apply.
data "acquire_function_package" "release" {
  platform = "gcp"
  url      = "https://github.com/openacquire/acquire/releases/download/v1.0.0/gcp-run-amd64.tar"
  sha256   = "0000000000000000000000000000000000000000000000000000000000000000" # from the release's checksums
}
