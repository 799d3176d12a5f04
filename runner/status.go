package runner

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"
)

// State is a job state as Amperity's status API knows it.
type State string

// The three states a job moves through. A job always ends in Succeeded or
// Failed: Amperity otherwise waits hours for a report that never comes.
const (
	Running   State = "running"
	Succeeded State = "succeeded"
	Failed    State = "failed"
)

// Status is the body of a status report, exactly as Amperity expects it.
type Status struct {
	State    State    `json:"state"`
	Progress float64  `json:"progress"`
	Errors   []string `json:"errors"`
	Reason   string   `json:"reason"`
}

// maxReportErrors is how many errors one report carries.
const maxReportErrors = 10

// reporter sends a job's status reports. It keeps progress monotonic,
// carries the errors raised since the previous report (at most ten, the
// tenth summarising any overflow so nothing vanishes unmentioned), throttles
// progress reports by time, and sends exactly one final report.
type reporter struct {
	client   *http.Client
	url      string
	tenant   string
	token    string
	interval time.Duration
	retry    retrier
	log      *slog.Logger

	mu       sync.Mutex // guards the fields below
	progress float64
	pending  []string
	overflow int // errors beyond the ones kept in pending, counted only
	lastSent time.Time
	final    bool

	sendMu sync.Mutex // serialises PUTs so reports arrive in order
}

// errorf queues an error for the next report.
func (r *reporter) errorf(format string, args ...any) {
	msg := r.scrub(fmt.Sprintf(format, args...))
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.pending) < maxReportErrors {
		r.pending = append(r.pending, msg)
	} else {
		r.overflow++
	}
}

// takeErrors returns the queued errors and empties the queue. Callers hold
// r.mu.
func (r *reporter) takeErrors() []string {
	errs := r.pending
	if r.overflow > 0 {
		hidden := r.overflow + len(errs) - (maxReportErrors - 1)
		errs = append(errs[:maxReportErrors-1], fmt.Sprintf("%d more errors not shown", hidden))
	}
	r.pending, r.overflow = nil, 0
	if errs == nil {
		errs = []string{}
	}
	return errs
}

// scrub masks the access token should a message quote it (a destination
// that echoes its request, say): status reports are shown in Amperity's UI.
func (r *reporter) scrub(msg string) string {
	if len(r.token) < 4 {
		return msg
	}
	return strings.ReplaceAll(msg, r.token, "[REDACTED]")
}

// setProgress raises progress to p (never lowering it).
func (r *reporter) setProgress(p float64) {
	r.mu.Lock()
	r.progress = max(r.progress, min(p, 1))
	r.mu.Unlock()
}

// start sends the first `running` report. Its failure is returned: a job
// Amperity cannot hear about must not send anything to the destination.
func (r *reporter) start(ctx context.Context) error {
	r.mu.Lock()
	st := Status{State: Running, Progress: r.progress, Errors: r.takeErrors()}
	r.lastSent = r.retry.clock.Now()
	r.mu.Unlock()
	return r.send(ctx, st)
}

// report sends a `running` report with the current progress if the
// throttle interval has passed since the previous one. Delivery failures
// are logged, not returned: a missed progress report must not stop a job.
func (r *reporter) report(ctx context.Context, force bool) {
	r.mu.Lock()
	now := r.retry.clock.Now()
	if r.final || (!force && now.Sub(r.lastSent) < r.interval) {
		r.mu.Unlock()
		return
	}
	r.lastSent = now
	st := Status{State: Running, Progress: r.progress, Errors: r.takeErrors()}
	r.mu.Unlock()
	if err := r.send(ctx, st); err != nil {
		r.log.Warn("progress report not delivered", "error", err)
	}
}

// finish sends the final report. Only the first call sends anything.
func (r *reporter) finish(ctx context.Context, state State, reason string) error {
	r.mu.Lock()
	if r.final {
		r.mu.Unlock()
		return nil
	}
	r.final = true
	if state == Succeeded {
		r.progress = 1
	}
	st := Status{State: state, Progress: r.progress, Errors: r.takeErrors(), Reason: r.scrub(reason)}
	r.mu.Unlock()
	err := r.send(ctx, st)
	if err != nil {
		r.log.Error("final status report not delivered", "state", state, "error", err)
	}
	return err
}

// send PUTs one report, retrying network errors, 429 and 5xx.
func (r *reporter) send(ctx context.Context, st Status) error {
	body, err := json.Marshal(st)
	if err != nil {
		return fmt.Errorf("status: encode: %w", err)
	}
	r.sendMu.Lock()
	defer r.sendMu.Unlock()
	err = r.retry.do(ctx, func(int) (time.Duration, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodPut, r.url, bytes.NewReader(body))
		if err != nil {
			return 0, permanent(err)
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Amperity-Tenant", r.tenant)
		req.Header.Set("Authorization", "Bearer "+r.token)
		resp, err := r.client.Do(req)
		if err != nil {
			return 0, fmt.Errorf("PUT %s: %w", redactURL(req.URL), unwrapURLError(err))
		}
		defer resp.Body.Close()
		excerptBody, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
		io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
		if resp.StatusCode/100 == 2 {
			return 0, nil
		}
		herr := newHTTPError(req, resp, excerptBody)
		if !isStatusCallbackRetryable(resp.StatusCode) {
			return 0, permanent(herr)
		}
		wait, _ := retryAfter(resp.Header, r.retry.clock.Now())
		return wait, herr
	})
	if err != nil {
		return fmt.Errorf("status: %w", err)
	}
	r.log.Debug("status reported", "state", st.State, "progress", st.Progress, "errors", len(st.Errors))
	return nil
}
