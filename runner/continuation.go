package runner

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

// Continuation configures how a job outlives one Lambda invocation. Near
// the deadline the runner stops taking batches, lets those in flight
// finish, and invokes its own function asynchronously with a Handoff that
// the next invocation resumes from. Zero values mean the defaults given.
type Continuation struct {
	// Disabled turns continuation off: a job that reaches its deadline
	// then ends failed.
	Disabled bool
	// Margin is the time before the deadline at which the runner hands
	// off. Default: the larger of 30 s and 10% of the invocation's time,
	// and never more than half of it.
	Margin time.Duration
	// MaxHops is the most invocations one job may use; default 50.
	MaxHops int
	// MaxAge ends a job failed once it has run this long: Amperity stops
	// waiting for a job after about 3 hours. Default 3 h.
	MaxAge time.Duration
	// FunctionName is the function to invoke; default
	// $AWS_LAMBDA_FUNCTION_NAME.
	FunctionName string
}

func (c Continuation) withDefaults() Continuation {
	if c.MaxHops <= 0 {
		c.MaxHops = 50
	}
	if c.MaxAge <= 0 {
		c.MaxAge = 3 * time.Hour
	}
	if c.FunctionName == "" {
		c.FunctionName = os.Getenv("AWS_LAMBDA_FUNCTION_NAME")
	}
	return c
}

// margin is when, before a deadline remaining away, to hand off.
func (c Continuation) margin(remaining time.Duration) time.Duration {
	m := c.Margin
	if m <= 0 {
		m = max(30*time.Second, remaining/10)
	}
	return min(m, remaining/2)
}

// Invoker starts an invocation of a function without waiting for it:
// Lambda's Invoke API with InvocationType Event.
type Invoker interface {
	InvokeAsync(ctx context.Context, function string, payload []byte) error
}

// InvokerFunc adapts a function to the Invoker interface.
type InvokerFunc func(ctx context.Context, function string, payload []byte) error

// InvokeAsync calls f.
func (f InvokerFunc) InvokeAsync(ctx context.Context, function string, payload []byte) error {
	return f(ctx, function, payload)
}

// sdkInvoker invokes through the AWS SDK v2 with the standard
// configuration chain, so AWS_ENDPOINT_URL_LAMBDA (set by the devserver)
// keeps calls local. The client is made once, on first use.
type sdkInvoker struct {
	once   sync.Once
	client *lambda.Client
	err    error
}

func (s *sdkInvoker) InvokeAsync(ctx context.Context, function string, payload []byte) error {
	s.once.Do(func() {
		cfg, err := config.LoadDefaultConfig(ctx)
		if err != nil {
			s.err = fmt.Errorf("load AWS configuration: %w", err)
			return
		}
		s.client = lambda.NewFromConfig(cfg)
	})
	if s.err != nil {
		return s.err
	}
	_, err := s.client.Invoke(ctx, &lambda.InvokeInput{
		FunctionName:   aws.String(function),
		InvocationType: types.InvocationTypeEvent,
		Payload:        payload,
	})
	return explainInvokeError(function, err)
}

// explainInvokeError adds what to do to the failures users meet.
func explainInvokeError(function string, err error) error {
	if err == nil {
		return nil
	}
	var denied interface{ ErrorCode() string }
	if errors.As(err, &denied) && strings.Contains(denied.ErrorCode(), "AccessDenied") {
		return fmt.Errorf("%w: the function's role needs lambda:InvokeFunction on its own ARN (see README, Long jobs)", err)
	}
	if function == "" {
		return fmt.Errorf("%w: AWS_LAMBDA_FUNCTION_NAME is not set, so the function cannot invoke itself", err)
	}
	return err
}

// continuationKey marks a continuation event.
const continuationKey = "amperity_continuation"

// Handoff is what one invocation passes to the next: the request, where
// to resume, and the job's counters so far. It travels as the payload of
// an asynchronous self-invocation.
type Handoff struct {
	Request       Request   `json:"request"`
	Cursor        Cursor    `json:"cursor"`
	Hop           int       `json:"hop"` // 1 for the first invocation
	Started       time.Time `json:"started"`
	Records       int64     `json:"records"`
	Sent          int64     `json:"records_sent"`
	Failed        int64     `json:"records_failed"`
	Batches       int       `json:"batches"`
	FailedBatches int       `json:"batches_failed"`
	Errors        int64     `json:"errors"`
	FirstError    string    `json:"first_error,omitempty"`
	Progress      float64   `json:"progress"`
	// PendingErrors are errors not yet reported to Amperity.
	PendingErrors []string `json:"pending_errors"`
	// Overflow counts errors beyond PendingErrors, not yet reported.
	Overflow int `json:"overflow,omitempty"`
}

// continuationEvent is the payload of a continuation.
type continuationEvent struct {
	Handoff *Handoff `json:"amperity_continuation"`
}

// parseHandoff recognises a continuation event.
func parseHandoff(event []byte) (*Handoff, bool, error) {
	if !bytes.Contains(event, []byte(continuationKey)) {
		return nil, false, nil
	}
	var ev continuationEvent
	if err := json.Unmarshal(event, &ev); err != nil || ev.Handoff == nil {
		return nil, false, nil
	}
	h := ev.Handoff
	if h.Request.WebhookID == "" || h.Request.CallbackURL == "" || h.Request.DataURL == "" || h.Hop < 2 {
		return h, true, &RequestError{Field: continuationKey, Msg: "is incomplete: request, cursor and hop are required"}
	}
	return h, true, nil
}

// encode builds the continuation event.
func (h *Handoff) encode() ([]byte, error) {
	return json.Marshal(continuationEvent{Handoff: h})
}
