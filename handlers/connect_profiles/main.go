// Command connect_profiles creates an Amazon Connect Customer Profiles
// profile for every record, with the address fields folded into the
// profile's Address and empty values dropped.
//
// Environment: PROFILES_DOMAIN (required: the Customer Profiles domain),
// CONCURRENCY (default 4 requests at once), REQUESTS_PER_SECOND (default
// 0, no limit), BATCH_SIZE (default 100), TENANT_ID, LOG_LEVEL; AWS
// credentials and region from the standard chain.
package main

import (
	"context"
	"os"

	"github.com/amperity/lambda-runner-go/runner"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/customerprofiles"
)

func main() {
	log := runner.DefaultLogger()
	fail := func(err error) {
		log.Error("handler not configured", "error", err)
		os.Exit(1)
	}
	var env runner.Env
	cfg := sinkConfig{
		Domain:      env.Required("PROFILES_DOMAIN"),
		Concurrency: env.Int("CONCURRENCY", 4),
		PerSecond:   env.Float("REQUESTS_PER_SECOND", 0),
	}
	batchSize, tenant := env.Int("BATCH_SIZE", 100), env.String("TENANT_ID", "")
	if err := env.Err(); err != nil {
		fail(err)
	}
	awsCfg, err := config.LoadDefaultConfig(context.Background())
	if err != nil {
		fail(err)
	}
	sink := newSink(customerprofiles.NewFromConfig(awsCfg), cfg)
	r, err := runner.New(runner.Config{Sink: sink, BatchSize: batchSize, TenantID: tenant, FrontDoor: true, Logger: log})
	if err != nil {
		fail(err)
	}
	lambda.Start(r.Handle)
}
