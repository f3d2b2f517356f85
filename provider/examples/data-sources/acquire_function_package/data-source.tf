# The Lambda package, deployed with the AWS provider's own resources.
data "acquire_function_package" "lambda" {
  platform = "aws"
  arch     = "arm64"
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
