// Command echo answers with what it received and where it runs.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
)

func handle(ctx context.Context, event json.RawMessage) (any, error) {
	fmt.Println("echo got", len(event), "bytes")
	var probe struct {
		HTTPMethod string `json:"httpMethod"`
		Body       string `json:"body"`
		Barrier    string `json:"barrier"`
	}
	json.Unmarshal(event, &probe)
	if probe.HTTPMethod == "" && probe.Body == "" {
		json.Unmarshal(event, &probe)
	} else {
		json.Unmarshal([]byte(probe.Body), &probe)
	}
	if probe.Barrier != "" {
		// Block until the test releases every concurrent invocation.
		resp, err := http.Get(probe.Barrier)
		if err != nil {
			return nil, err
		}
		resp.Body.Close()
	}
	lc, _ := lambdacontext.FromContext(ctx)
	deadline, _ := ctx.Deadline()
	out := map[string]any{
		"event":      event,
		"pid":        os.Getpid(),
		"request_id": lc.AwsRequestID,
		"arn":        lc.InvokedFunctionArn,
		"client":     lc.ClientContext.Custom,
		"deadline_s": time.Until(deadline).Seconds(),
		"env": map[string]string{
			"AWS_LAMBDA_FUNCTION_NAME":    os.Getenv("AWS_LAMBDA_FUNCTION_NAME"),
			"AWS_LAMBDA_FUNCTION_TIMEOUT": os.Getenv("AWS_LAMBDA_FUNCTION_TIMEOUT"),
			"AWS_ENDPOINT_URL_LAMBDA":     os.Getenv("AWS_ENDPOINT_URL_LAMBDA"),
			"AWS_ENDPOINT_URL_S3":         os.Getenv("AWS_ENDPOINT_URL_S3"),
			"AWS_REGION":                  os.Getenv("AWS_REGION"),
			"AWS_ACCESS_KEY_ID":           os.Getenv("AWS_ACCESS_KEY_ID"),
			"FROM_ROOT_ENV":               os.Getenv("FROM_ROOT_ENV"),
			"OVERRIDDEN":                  os.Getenv("OVERRIDDEN"),
			"FROM_DEVSERVER":              os.Getenv("FROM_DEVSERVER"),
		},
	}
	if probe.HTTPMethod != "" {
		body, _ := json.Marshal(out)
		return map[string]any{"statusCode": 201, "headers": map[string]string{"X-Echo": "yes"}, "body": string(body)}, nil
	}
	return out, nil
}

func main() { lambda.Start(handle) }
