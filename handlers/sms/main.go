// Command sms texts every record's phone number through AWS End User
// Messaging SMS (the pinpointsmsvoicev2 API; Amazon Pinpoint itself
// reached end of support on 30 October 2026). Numbers are checked as
// E.164 locally and, when VALIDATE_NUMBERS is true, with the phone number
// validate API; an invalid number is a record error.
//
// Environment: ORIGINATION_IDENTITY (required: phone number, sender id or
// pool), MESSAGE_TEMPLATE (a Go text/template over the record's fields,
// e.g. "Hi {{.given_name}}, your order shipped") or MESSAGE_FIELD (the
// record field holding the text): one is required. PHONE_FIELD (default
// phone), MESSAGE_TYPE (TRANSACTIONAL or PROMOTIONAL, default
// TRANSACTIONAL), CONFIGURATION_SET, SENDS_PER_SECOND (default 1),
// VALIDATE_NUMBERS (default false), BATCH_SIZE (default 50), TENANT_ID,
// LOG_LEVEL; AWS credentials and region from the standard chain.
package main

import (
	"context"
	"os"

	"github.com/amperity/lambda-runner-go/runner"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/pinpoint"
	"github.com/aws/aws-sdk-go-v2/service/pinpointsmsvoicev2"
)

func main() {
	log := runner.DefaultLogger()
	fail := func(err error) {
		log.Error("handler not configured", "error", err)
		os.Exit(1)
	}
	var env runner.Env
	cfg, err := loadConfig(&env)
	if err != nil {
		fail(err)
	}
	batchSize, tenant := env.Int("BATCH_SIZE", 50), env.String("TENANT_ID", "")
	awsCfg, err := config.LoadDefaultConfig(context.Background())
	if err != nil {
		fail(err)
	}
	var validator validateAPI
	if cfg.Validate {
		validator = pinpoint.NewFromConfig(awsCfg)
	}
	s, err := newSink(pinpointsmsvoicev2.NewFromConfig(awsCfg), validator, cfg)
	if err != nil {
		fail(err)
	}
	r, err := runner.New(runner.Config{Sink: s, BatchSize: batchSize, TenantID: tenant, FrontDoor: true, Logger: log})
	if err != nil {
		fail(err)
	}
	lambda.Start(r.Handle)
}
