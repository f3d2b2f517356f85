// Command bootstrap is the AWS Lambda entry point (provided.al2023, arm64
// or amd64): it serves the Acquire services named in its environment
// through the function URL. State lives in S3 (or any store URL the
// runtime knows); see runtime/host.ConfigFromEnv for the environment.
package main

import (
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/openacquire/acquire/adapters/aws/lambdafn"
	"github.com/openacquire/acquire/adapters/aws/s3store"
	"github.com/openacquire/acquire/runtime/host"
)

func main() {
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	cfg, err := host.ConfigFromEnv(os.Getenv)
	if err != nil {
		log.Error("bad function configuration", "err", err)
		os.Exit(2)
	}
	s3store.Register()
	fn := &host.Lazy{Config: cfg, Logger: log}
	lambda.Start(lambdafn.Handler(fn))
}
