// Command greenlight-aws-hook is the AWS Lambda function behind CodeDeploy lifecycle hooks and
// Amazon ECS blue/green lifecycle hooks: it starts the analysis on a greenlight daemon and
// answers each service as it expects (see package awshook and docs/integrations/aws.md).
//
// It is a binary of its own, not a greenlight subcommand, so that the function carries only
// what it needs — the Lambda runtime client, an HTTP client and the CodeDeploy API — and not
// the engine, the store and every source: a smaller package to upload and a faster cold start.
// Build it for the provided.al2023 runtime as "bootstrap":
//
//	GOOS=linux GOARCH=arm64 CGO_ENABLED=0 go build -tags lambda.norpc -o bootstrap ./cmd/greenlight-aws-hook
package main

import (
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/greenlight/greenlight/awshook"
	"github.com/greenlight/greenlight/verdict/emit/codedeploy"
)

func main() {
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	// The function's own role reports Failed when the daemon cannot start an analysis; region
	// and credentials come from the Lambda environment.
	cd, err := codedeploy.New(codedeploy.Config{Name: "lambda"}, codedeploy.Options{})
	if err != nil {
		log.Error("codedeploy client", "error", err)
		os.Exit(1)
	}
	o := awshook.Options{CodeDeploy: cd, Logger: log}
	var hook *awshook.Hook
	if cfg, err := awshook.FromEnv(os.Getenv); err != nil {
		// Keep running: every hook is then failed at once, saying why, instead of waiting out
		// CodeDeploy's hour or ECS's timeout.
		log.Error("invalid configuration: every deployment will fail", "error", err)
		hook = awshook.Refuse(err, o)
	} else {
		hook = awshook.New(cfg, o)
	}
	lambda.Start(hook.Invoke)
}
