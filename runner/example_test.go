package runner_test

import (
	"log"
	"os"

	"github.com/amperity/lambda-runner-go/runner"
	"github.com/aws/aws-lambda-go/lambda"
)

// A complete handler: post every record to an API, 500 per request, in
// the {"data": [...]} shape.
func Example() {
	sink, err := runner.NewHTTPSink(runner.HTTPConfig{
		URL:     os.Getenv("DESTINATION_URL"),
		DataKey: "data",
	})
	if err != nil {
		log.Fatal(err)
	}
	r, err := runner.New(runner.Config{Sink: sink, BatchSize: 500})
	if err != nil {
		log.Fatal(err)
	}
	if os.Getenv("AWS_LAMBDA_RUNTIME_API") != "" {
		lambda.Start(r.Handle)
	}
}

// A mapping decodes each record into a struct and sends what it returns.
func ExampleMapJSON() {
	type customer struct {
		ID    string `json:"amperity_id"`
		Email string `json:"email"`
	}
	type contact struct {
		UserID string `json:"userId"`
		Email  string `json:"email"`
	}
	_, _ = runner.NewHTTPSink(runner.HTTPConfig{
		URL: "https://api.example.com/contacts",
		Map: runner.MapJSON(func(c customer) (contact, error) {
			return contact{UserID: c.ID, Email: c.Email}, nil
		}),
	})
}
