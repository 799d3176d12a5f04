// Command version answers with a version string the hot-reload test edits.
package main

import "github.com/aws/aws-lambda-go/lambda"

const version = "v1"

func main() { lambda.Start(func() (string, error) { return version, nil }) }
