// Command recurse invokes itself asynchronously, passing a counter on,
// until the counter reaches its limit: a loop for the gateway to stop.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	awslambda "github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

type event struct {
	N     int `json:"n"`
	Limit int `json:"limit"`
}

func handle(ctx context.Context, ev event) (int, error) {
	fmt.Println("recurse", ev.N)
	if ev.N >= ev.Limit {
		return ev.N, nil
	}
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return 0, err
	}
	payload, _ := json.Marshal(event{N: ev.N + 1, Limit: ev.Limit})
	_, err = awslambda.NewFromConfig(cfg).Invoke(ctx, &awslambda.InvokeInput{
		FunctionName: aws.String(os.Getenv("AWS_LAMBDA_FUNCTION_NAME")), InvocationType: types.InvocationTypeEvent, Payload: payload})
	return ev.N, err
}

func main() { lambda.Start(handle) }
