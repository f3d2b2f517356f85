// Command bootstrap is the AWS Lambda entry point (provided.al2023, arm64
// or amd64): it serves the Acquire services named in its environment
// through the function URL. State lives in S3 (or any store URL the
// runtime knows); see runtime/host.ConfigFromEnv for the environment. The
// service secret comes from ACQUIRE_SERVICE_SECRET or, as the AWS deployer
// sets it, from the Secrets Manager secret named by
// ACQUIRE_SERVICE_SECRET_ARN, read on the first request.
package main

import (
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/openacquire/acquire/adapters/aws/lambdafn"
	"github.com/openacquire/acquire/adapters/aws/s3store"
)

func main() {
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	if err := lambdafn.CheckEnv(os.Getenv); err != nil {
		log.Error("bad function configuration", "err", err)
		os.Exit(2)
	}
	s3store.Register()
	fn := &lambdafn.Deferred{Getenv: os.Getenv, Secrets: &lambdafn.SecretsManager{}, Logger: log}
	lambda.Start(lambdafn.Handler(fn))
}
