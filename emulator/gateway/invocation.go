package gateway

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"
)

// FunctionError is a function's failure in the shape Lambda reports it:
// the body of an Invoke response with X-Amz-Function-Error set.
type FunctionError struct {
	Message    string          `json:"errorMessage"`
	Type       string          `json:"errorType"`
	StackTrace json.RawMessage `json:"stackTrace,omitempty"`
}

func (e *FunctionError) Error() string { return e.Type + ": " + e.Message }

// Outcomes of an invocation, as shown on /api/invocations.
const (
	OutcomeSuccess    = "success"
	OutcomeError      = "error"       // the function returned an error or panicked
	OutcomeTimeout    = "timeout"     // killed at its deadline
	OutcomeCrash      = "crash"       // the process died mid-invocation
	OutcomeInitError  = "init_error"  // the process died or failed before its first event
	OutcomeBuildError = "build_error" // the handler did not compile
	OutcomeDropped    = "dropped"     // stopped as a recursive loop
)

// Result is what one invocation produced.
type Result struct {
	RequestID string
	Payload   []byte         // the function's response, when Err is nil
	Err       *FunctionError // the function's error, when it failed
	Outcome   string
	Logs      string // the invocation's log, START to REPORT
	Duration  time.Duration
}

// invocation is one event on its way through an instance.
type invocation struct {
	id            string
	function      string
	payload       []byte
	deadline      time.Time
	traceID       string
	clientContext string
	result        chan invokeReply // buffered: the Runtime API never blocks on it

	logMu sync.Mutex
	logs  strings.Builder
}

// invokeReply is what the Runtime API received for an invocation.
type invokeReply struct {
	payload []byte
	err     *FunctionError
}

// maxInvocationLog bounds the log kept per invocation.
const maxInvocationLog = 256 << 10

func (inv *invocation) logLine(line string) {
	inv.logMu.Lock()
	defer inv.logMu.Unlock()
	if inv.logs.Len()+len(line) < maxInvocationLog {
		inv.logs.WriteString(line)
		inv.logs.WriteByte('\n')
	}
}

func (inv *invocation) logText() string {
	inv.logMu.Lock()
	defer inv.logMu.Unlock()
	return inv.logs.String()
}

// Invocation is a finished invocation as kept for inspection.
type Invocation struct {
	Function  string    `json:"function"`
	RequestID string    `json:"request_id"`
	Start     time.Time `json:"start"`
	Duration  float64   `json:"duration_ms"`
	Outcome   string    `json:"outcome"`
	Error     string    `json:"error,omitempty"`
	Async     bool      `json:"async"`
	Cold      bool      `json:"cold_start"`
	LogTail   string    `json:"log_tail"`
}

// logTailBytes is how much of an invocation's log is kept for display.
const logTailBytes = 8 << 10

// tail returns the last n bytes of s, starting at a line boundary.
func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[len(s)-n:]
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	return s
}

// history keeps the most recent invocations.
type history struct {
	mu   sync.Mutex
	max  int
	list []Invocation // oldest first
}

func (h *history) add(inv Invocation) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.list = append(h.list, inv)
	if len(h.list) > h.max {
		h.list = append(h.list[:0:0], h.list[len(h.list)-h.max:]...)
	}
}

// recent returns the invocations newest first.
func (h *history) recent() []Invocation {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]Invocation, len(h.list))
	for i, inv := range h.list {
		out[len(h.list)-1-i] = inv
	}
	return out
}

// timeoutError is Lambda's error for an invocation killed at its deadline.
func timeoutError(timeout time.Duration) *FunctionError {
	return &FunctionError{Type: "Sandbox.Timedout", Message: fmt.Sprintf("Task timed out after %.2f seconds", timeout.Seconds())}
}
