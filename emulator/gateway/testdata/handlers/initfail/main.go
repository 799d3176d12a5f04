// Command initfail exits before asking for its first event, as a handler
// with missing configuration does.
package main

import (
	"fmt"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
)

func main() {
	fmt.Fprintln(os.Stderr, "configuration: DESTINATION_URL is required but not set")
	os.Exit(1)
	lambda.Start(func() error { return nil })
}
