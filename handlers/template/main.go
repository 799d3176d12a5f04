// Command template is the handler to copy: it posts every record of the
// Amperity file to DESTINATION_URL as {"<DATA_KEY>": [...]} in batches.
//
// Environment: DESTINATION_URL (required), DATA_KEY (default "data"),
// BARE_ARRAY (default false: true sends [...] without a key), BATCH_SIZE
// (default 500),
// REQUESTS_PER_MINUTE (default 0, no limit), TENANT_ID, LOG_LEVEL,
// FRONT_DOOR (default true: answer API Gateway with 202 at once and run the
// job in a background invocation), CONTINUATION_MARGIN (default: the larger
// of 30 s and 10% of the timeout).
package main

import (
	"os"

	"github.com/amperity/lambda-runner-go/runner"
	"github.com/aws/aws-lambda-go/lambda"
)

func main() {
	log := runner.DefaultLogger()
	fail := func(err error) {
		// Exiting before lambda.Start is reported by Lambda as an init error
		// carrying this log line.
		log.Error("handler not configured", "error", err)
		os.Exit(1)
	}

	var env runner.Env
	http := runner.HTTPConfig{
		URL:               env.Required("DESTINATION_URL"),
		DataKey:           env.String("DATA_KEY", "data"),
		RequestsPerMinute: env.Float("REQUESTS_PER_MINUTE", 0),
		// Map: runner.MapJSON(func(in yourRecord) (yourPayload, error) {...}),
	}
	if env.Bool("BARE_ARRAY", false) {
		http.DataKey = ""
	}
	cfg := runner.Config{
		BatchSize:    env.Int("BATCH_SIZE", 500),
		TenantID:     env.String("TENANT_ID", ""),
		FrontDoor:    env.Bool("FRONT_DOOR", true),
		Continuation: runner.Continuation{Margin: env.Duration("CONTINUATION_MARGIN", 0)},
		Logger:       log,
	}
	if err := env.Err(); err != nil {
		fail(err)
	}
	sink, err := runner.NewHTTPSink(http)
	if err != nil {
		fail(err)
	}
	cfg.Sink = sink
	r, err := runner.New(cfg)
	if err != nil {
		fail(err)
	}
	lambda.Start(r.Handle)
}
