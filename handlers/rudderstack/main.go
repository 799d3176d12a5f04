// Command rudderstack sends every record to RudderStack's HTTP batch API
// as a track event: userId from a configurable field, a configurable event
// name, the record's fields as properties, and the run's label_name.
//
// Environment: RUDDERSTACK_URL (required: the data plane's /v1/batch URL),
// RUDDERSTACK_WRITE_KEY (required), USER_ID_FIELD (default amperity_id),
// EVENT_NAME (default "Amperity Audience"), BATCH_SIZE (default 100),
// REQUESTS_PER_MINUTE (default 0, no limit), TENANT_ID, LOG_LEVEL.
package main

import (
	"os"

	"github.com/amperity/lambda-runner-go/runner"
	"github.com/aws/aws-lambda-go/lambda"
)

func main() {
	log := runner.DefaultLogger()
	cfg, err := loadConfig(&runner.Env{})
	if err != nil {
		log.Error("handler not configured", "error", err)
		os.Exit(1)
	}
	sink, err := newSink(cfg)
	if err != nil {
		log.Error("handler not configured", "error", err)
		os.Exit(1)
	}
	r, err := runner.New(runner.Config{Sink: sink, BatchSize: cfg.BatchSize, TenantID: cfg.Tenant, FrontDoor: true, Logger: log})
	if err != nil {
		log.Error("handler not configured", "error", err)
		os.Exit(1)
	}
	lambda.Start(r.Handle)
}
