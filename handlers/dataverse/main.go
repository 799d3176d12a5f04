// Command dataverse writes every record as a row of a Microsoft Dataverse
// table, one OData $batch request with a change set per batch, keeping
// only the columns the table has. It signs in with an app registration's
// client credentials (OAuth2, Microsoft identity platform).
//
// Environment: DATAVERSE_URL (required, e.g. https://yourorg.crm.dynamics.com),
// DATAVERSE_TABLE (required: the table's logical name, e.g. contact),
// AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET (required),
// TOKEN_URL (default: the Microsoft identity platform's token endpoint for
// the tenant), BATCH_SIZE (default 100; Dataverse takes at most 1000
// requests a batch), TENANT_ID, LOG_LEVEL.
package main

import (
	"context"
	"os"

	"github.com/amperity/lambda-runner-go/runner"
	"github.com/aws/aws-lambda-go/lambda"
)

func main() {
	log := runner.DefaultLogger()
	fail := func(err error) {
		log.Error("handler not configured", "error", err)
		os.Exit(1)
	}
	var env runner.Env
	cfg, err := loadSettings(&env)
	if err != nil {
		fail(err)
	}
	batchSize, tenant := env.Int("BATCH_SIZE", 100), env.String("TENANT_ID", "")
	if batchSize > 1000 {
		fail(errDataverseBatchLimit)
	}
	sink := newSink(context.Background(), cfg, log)
	r, err := runner.New(runner.Config{Sink: sink, BatchSize: batchSize, TenantID: tenant, FrontDoor: true, Logger: log})
	if err != nil {
		fail(err)
	}
	lambda.Start(r.Handle)
}
