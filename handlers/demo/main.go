// Command demo is the smallest useful handler: it posts every record to
// the devserver's mock destination (DESTINATION_URL, which the devserver
// sets), where the web page shows them arrive.
package main

import (
	"cmp"
	"log"
	"os"

	"github.com/amperity/lambda-runner-go/runner"
	"github.com/aws/aws-lambda-go/lambda"
)

func main() {
	url := cmp.Or(os.Getenv("DESTINATION_URL"), "http://127.0.0.1:5005/mock/destination")
	sink, err := runner.NewHTTPSink(runner.HTTPConfig{URL: url, DataKey: "data"})
	if err != nil {
		log.Fatal(err)
	}
	r, err := runner.New(runner.Config{Sink: sink, TenantID: "demo"})
	if err != nil {
		log.Fatal(err)
	}
	lambda.Start(r.Handle)
}
