package runner

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/aws/aws-lambda-go/events"
)

// Response is what the function answers: an API Gateway proxy response,
// which HTTP APIs and Function URLs accept too.
type Response = events.APIGatewayProxyResponse

// responseBody is the JSON inside Response.Body.
type responseBody struct {
	Status  string   `json:"status"`
	Message string   `json:"message"`
	Summary *Summary `json:"summary,omitempty"`
}

// Handle is the Lambda handler: pass it to lambda.Start. It parses the
// event, runs the job and answers with a proxy response: 200 when the job
// succeeded, 400 for a request it cannot act on, 500 when the job failed.
// It never returns an error, so Lambda never retries a job that already
// reported its outcome.
func (r *Runner) Handle(ctx context.Context, event json.RawMessage) (Response, error) {
	req, src, err := ParseEvent(event)
	if err != nil {
		r.log.Warn("request rejected", "source", src, "error", err, "request", req)
		if req.CallbackURL != "" && req.WebhookID != "" {
			// Tell Amperity at once rather than leave the job waiting.
			rep := r.newReporter(req)
			rep.finish(context.WithoutCancel(ctx), Failed, err.Error())
		}
		return respond(http.StatusBadRequest, "error", err.Error(), nil), nil
	}
	r.log.Info("request received", "source", src, "request", req)
	sum, err := r.Run(ctx, req)
	if err != nil {
		code := http.StatusInternalServerError
		var reqErr *RequestError
		if errors.As(err, &reqErr) {
			code = http.StatusBadRequest
		}
		return respond(code, string(Failed), err.Error(), &sum), nil
	}
	return respond(http.StatusOK, string(sum.State), sum.String(), &sum), nil
}

func respond(code int, status, msg string, sum *Summary) Response {
	body, _ := json.Marshal(responseBody{Status: status, Message: msg, Summary: sum})
	return Response{
		StatusCode: code,
		Headers:    map[string]string{"Content-Type": "application/json"},
		Body:       string(body),
	}
}
