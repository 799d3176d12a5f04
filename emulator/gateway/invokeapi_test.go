package gateway

import (
	"context"
	"encoding/base64"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

func lambdaClient(t *testing.T, url string) *lambda.Client {
	t.Helper()
	t.Setenv("AWS_CA_BUNDLE", "")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	cfg, err := config.LoadDefaultConfig(context.Background(), config.WithRegion("us-east-1"),
		config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("test", "test", "")))
	if err != nil {
		t.Fatal(err)
	}
	return lambda.NewFromConfig(cfg, func(o *lambda.Options) { o.BaseEndpoint = aws.String(url) })
}

func TestInvokeAPI_WithTheAWSSDK(t *testing.T) {
	g := newTestGateway(t, nil)
	c := lambdaClient(t, g.srv.URL)
	ctx := context.Background()

	out, err := c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("echo"), Payload: []byte(`{"k":"v"}`),
		LogType: types.LogTypeTail, ClientContext: aws.String(base64.StdEncoding.EncodeToString([]byte(`{"custom":{"who":"sdk"}}`)))})
	if err != nil {
		t.Fatal(err)
	}
	logs, _ := base64.StdEncoding.DecodeString(aws.ToString(out.LogResult))
	if out.StatusCode != 200 || aws.ToString(out.ExecutedVersion) != "$LATEST" || out.FunctionError != nil ||
		!strings.Contains(string(out.Payload), `"event":{"k":"v"}`) || !strings.Contains(string(out.Payload), `"client":{"who":"sdk"}`) {
		t.Fatalf("invoke: %d %v %s", out.StatusCode, out.FunctionError, out.Payload)
	}
	if !strings.Contains(string(logs), "START RequestId:") || !strings.Contains(string(logs), "REPORT RequestId:") {
		t.Errorf("log tail %q", logs)
	}

	// By ARN and with a qualifier, as the SDKs allow.
	if _, err := c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("arn:aws:lambda:us-east-1:000000000000:function:echo:$LATEST")}); err != nil {
		t.Fatalf("invoke by ARN: %v", err)
	}

	out, err = c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("misbehave"), Payload: []byte(`{"do":"error"}`)})
	if err != nil || aws.ToString(out.FunctionError) != "Unhandled" || !strings.Contains(string(out.Payload), "deliberate error") {
		t.Fatalf("function error: %v %v %s", err, out.FunctionError, out.Payload)
	}

	out, err = c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("echo"), InvocationType: types.InvocationTypeEvent, Payload: []byte(`{"async":true}`)})
	if err != nil || out.StatusCode != 202 {
		t.Fatalf("Event: %v %d", err, out.StatusCode)
	}
	waitFor(t, "async invocation recorded", func() bool {
		for _, inv := range g.Invocations() {
			if inv.Async && inv.Outcome == OutcomeSuccess {
				return true
			}
		}
		return false
	})

	out, err = c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("echo"), InvocationType: types.InvocationTypeDryRun})
	if err != nil || out.StatusCode != 204 {
		t.Fatalf("DryRun: %v %d", err, out.StatusCode)
	}

	_, err = c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("nope")})
	var notFound *types.ResourceNotFoundException
	if !errors.As(err, &notFound) {
		t.Fatalf("unknown function: %v", err)
	}

	_, err = c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("echo"), Payload: []byte(`"` + strings.Repeat("x", 7<<20) + `"`)})
	var tooLarge *types.RequestTooLargeException
	if !errors.As(err, &tooLarge) {
		t.Fatalf("7 MB sync payload: %v", err)
	}
	_, err = c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("echo"), InvocationType: types.InvocationTypeEvent, Payload: []byte(`"` + strings.Repeat("x", 2<<20) + `"`)})
	if !errors.As(err, &tooLarge) {
		t.Fatalf("2 MB async payload: %v", err)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for range 3000 {
		if cond() {
			return
		}
		sleepBriefly()
	}
	t.Fatalf("%s: not within 30 s", what)
}
