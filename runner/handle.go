package runner

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"time"

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
	if h, ok, err := parseHandoff(event); ok {
		if err != nil {
			r.log.Error("continuation event rejected", "error", err)
			return respond(http.StatusBadRequest, "error", err.Error(), nil), nil
		}
		return r.answer(r.Resume(ctx, h))
	}
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
	if src.FromGateway() && r.cfg.FrontDoor {
		if resp, ok := r.frontDoor(ctx, req); ok {
			return resp, nil
		}
	}
	return r.answer(r.Run(ctx, req))
}

// answer turns a job's outcome into the response.
func (r *Runner) answer(sum Summary, err error) (Response, error) {
	if err != nil {
		code := http.StatusInternalServerError
		var reqErr *RequestError
		if errors.As(err, &reqErr) {
			code = http.StatusBadRequest
		}
		return respond(code, string(Failed), err.Error(), &sum), nil
	}
	if sum.State == Running {
		return respond(http.StatusOK, "continued", sum.Reason, &sum), nil
	}
	return respond(http.StatusOK, string(sum.State), sum.String(), &sum), nil
}

// frontDoor hands a validated request to an asynchronous invocation of
// the function and answers 202. When that invocation cannot be started
// (no permission, no endpoint: AWS's Runtime Interface Emulator, sam local)
// it says why, once, and returns false: the caller then does the work
// itself, so a job is never lost because the shortcut was unavailable.
func (r *Runner) frontDoor(ctx context.Context, req Request) (Response, bool) {
	payload, err := json.Marshal(req)
	if err == nil {
		ictx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err = r.cfg.Invoker.InvokeAsync(ictx, r.cfg.Continuation.FunctionName, payload)
		cancel()
	}
	if err != nil {
		r.frontDoorDown.Do(func() {
			r.log.Warn("front door unavailable: running jobs in the invocation that received them", "error", err)
		})
		return Response{}, false
	}
	r.log.Info("job accepted; running in a background invocation", "webhook_id", req.WebhookID)
	body, _ := json.Marshal(map[string]string{"status": "accepted", "webhook_id": req.WebhookID,
		"message": "job " + req.WebhookID + " accepted: it runs in the background and reports to the status callback"})
	return Response{StatusCode: http.StatusAccepted, Headers: map[string]string{"Content-Type": "application/json"}, Body: string(body)}, true
}

func respond(code int, status, msg string, sum *Summary) Response {
	body, _ := json.Marshal(responseBody{Status: status, Message: msg, Summary: sum})
	return Response{
		StatusCode: code,
		Headers:    map[string]string{"Content-Type": "application/json"},
		Body:       string(body),
	}
}

// Report sends one status report for req outside a job: a handler that
// does its own work (or none, like the capture handler) still owes
// Amperity a final state. Retries as the job's reports do.
func (r *Runner) Report(ctx context.Context, req Request, state State, reason string) error {
	rep := r.newReporter(req)
	if state == Running {
		return rep.start(ctx)
	}
	return rep.finish(ctx, state, reason)
}

// JSONResponse builds a proxy response with v as its JSON body, for
// handlers that answer on their own.
func JSONResponse(code int, v any) Response {
	body, _ := json.Marshal(v)
	return Response{StatusCode: code, Headers: map[string]string{"Content-Type": "application/json"}, Body: string(body)}
}
