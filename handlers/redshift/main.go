// Command redshift loads the records into an Amazon Redshift table: each
// batch is written to S3 as NDJSON, then loaded with a COPY through the
// Redshift Data API, and the table's row count is checked before and
// after so a load that dropped rows is an error, not a surprise.
//
// Environment: STAGING_BUCKET (required), STAGING_PREFIX (default
// amperity/), REDSHIFT_TABLE (required), REDSHIFT_DATABASE (required),
// REDSHIFT_WORKGROUP (Redshift Serverless) or REDSHIFT_CLUSTER
// (provisioned; then REDSHIFT_DB_USER or REDSHIFT_SECRET_ARN), COPY_IAM_ROLE
// (required: the role Redshift assumes to read the staging bucket),
// KEEP_STAGED_FILES (default false), BATCH_SIZE (default 10000), TENANT_ID,
// LOG_LEVEL; AWS credentials and region from the standard chain (the
// devserver's AWS_ENDPOINT_URL_S3 keeps the staging uploads local).
package main

import (
	"context"
	"os"

	"github.com/amperity/lambda-runner-go/runner"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/redshiftdata"
	"github.com/aws/aws-sdk-go-v2/service/s3"
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
	batchSize, tenant := env.Int("BATCH_SIZE", 10000), env.String("TENANT_ID", "")
	awsCfg, err := config.LoadDefaultConfig(context.Background())
	if err != nil {
		fail(err)
	}
	s3Client := s3.NewFromConfig(awsCfg, func(o *s3.Options) { o.UsePathStyle = os.Getenv("AWS_ENDPOINT_URL_S3") != "" })
	sink := newSink(s3Client, redshiftdata.NewFromConfig(awsCfg), cfg)
	r, err := runner.New(runner.Config{Sink: sink, BatchSize: batchSize, TenantID: tenant, FrontDoor: true, Logger: log})
	if err != nil {
		fail(err)
	}
	lambda.Start(r.Handle)
}
