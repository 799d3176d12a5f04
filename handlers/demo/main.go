// Command demo is the smallest useful handler: it posts every record to
// the devserver's mock destination, where the web page shows them arrive.
package main

import (
	"log"

	"github.com/amperity/lambda-runner-go/runner"
	"github.com/aws/aws-lambda-go/lambda"
)

func main() {
	sink, err := runner.NewHTTPSink(runner.HTTPConfig{URL: "http://127.0.0.1:5005/mock/destination", DataKey: "data"})
	if err != nil {
		log.Fatal(err)
	}
	r, err := runner.New(runner.Config{Sink: sink, TenantID: "demo"})
	if err != nil {
		log.Fatal(err)
	}
	lambda.Start(r.Handle)
}
