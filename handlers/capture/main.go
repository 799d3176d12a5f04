// Command capture is the first Lambda to deploy, as the original README
// advised: it logs what Amperity sends (the access token and secret-looking
// settings redacted) including the data_url, reports succeeded without
// sending anything, and answers 200. Fetch the data_url from the log to
// get a real export to use as a fixture.
//
// Environment: TENANT_ID (optional), LOG_LEVEL.
package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"os"

	"github.com/amperity/lambda-runner-go/runner"
	"github.com/aws/aws-lambda-go/lambda"
)

type capture struct {
	r   *runner.Runner
	log *slog.Logger
}

func main() {
	log := runner.DefaultLogger()
	var env runner.Env
	tenant := env.String("TENANT_ID", "")
	if err := env.Err(); err != nil {
		log.Error("handler not configured", "error", err)
		os.Exit(1)
	}
	// The runner only reports status here; its sink is never called.
	r, err := runner.New(runner.Config{Sink: runner.SinkFunc(func(context.Context, *runner.Batch) error { return nil }), TenantID: tenant, Logger: log})
	if err != nil {
		log.Error("handler not configured", "error", err)
		os.Exit(1)
	}
	lambda.Start((&capture{r: r, log: log}).handle)
}

func (c *capture) handle(ctx context.Context, event json.RawMessage) (runner.Response, error) {
	req, src, err := runner.ParseEvent(event)
	if err != nil {
		c.log.Warn("request rejected", "error", err)
		return runner.JSONResponse(http.StatusBadRequest, map[string]string{"status": "error", "message": err.Error()}), nil
	}
	// The data_url is logged whole: it is what this handler is for. It is
	// pre-signed and expires, so fetch it soon.
	c.log.Info("captured request", "source", src, "webhook_id", req.WebhookID, "data_url", req.DataURL,
		"callback_url", req.CallbackURL, "label_name", req.LabelName, "tenant_id", req.TenantID,
		"settings", redactSettings(req.Settings), "access_token_set", req.AccessToken != "")
	if err := c.r.Report(ctx, req, runner.Succeeded, "captured by the capture handler: nothing was sent"); err != nil {
		c.log.Error("status report not delivered", "error", err)
	}
	return runner.JSONResponse(http.StatusOK, map[string]string{"status": "captured", "webhook_id": req.WebhookID,
		"message": "request logged; fetch data_url (it expires) to use the file as a fixture", "data_url": req.DataURL}), nil
}

// redactSettings masks settings whose names look like credentials:
// settings are free-form and may carry an API key.
func redactSettings(settings map[string]any) map[string]any {
	out := make(map[string]any, len(settings))
	for k, v := range settings {
		if runner.IsSecretKey(k) {
			v = "[REDACTED]"
		}
		out[k] = v
	}
	return out
}
