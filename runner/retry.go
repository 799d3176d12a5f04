package runner

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Backoff says how often and how patiently an HTTP call is retried. Delays
// grow exponentially from Initial to Max, each drawn with jitter from the
// upper half of its range so that many Lambdas retrying at once spread out.
// A Retry-After header from the server replaces the computed delay, capped
// at MaxRetryAfter.
type Backoff struct {
	Attempts      int           // total attempts including the first; default 5
	Initial       time.Duration // first delay; default 250ms
	Max           time.Duration // longest computed delay; default 20s
	MaxRetryAfter time.Duration // longest Retry-After honoured; default 2m
}

func (b Backoff) withDefaults() Backoff {
	if b.Attempts <= 0 {
		b.Attempts = 5
	}
	if b.Initial <= 0 {
		b.Initial = 250 * time.Millisecond
	}
	if b.Max <= 0 {
		b.Max = 20 * time.Second
	}
	if b.MaxRetryAfter <= 0 {
		b.MaxRetryAfter = 2 * time.Minute
	}
	return b
}

// delay is the wait before attempt n+1, after n failed attempts (n >= 1).
// jitter is a number in [0,1).
func (b Backoff) delay(n int, jitter float64) time.Duration {
	d := b.Initial
	for i := 1; i < n && d < b.Max; i++ {
		d *= 2
	}
	d = min(d, b.Max)
	return d/2 + time.Duration(jitter*float64(d/2))
}

// HTTPError is a response with a status the caller did not accept.
type HTTPError struct {
	Method     string
	URL        string // without query string: pre-signed URLs carry credentials
	StatusCode int
	Body       string // excerpt, trimmed
	Header     http.Header
}

func (e *HTTPError) Error() string {
	msg := fmt.Sprintf("%s %s: %s", e.Method, e.URL, statusText(e.StatusCode))
	if e.Body != "" {
		msg += ": " + e.Body
	}
	return msg
}

func statusText(code int) string {
	if t := http.StatusText(code); t != "" {
		return fmt.Sprintf("%d %s", code, t)
	}
	return strconv.Itoa(code)
}

// newHTTPError reads an excerpt of resp's body (at most limit bytes shown)
// and builds the error. The caller still closes the body.
func newHTTPError(req *http.Request, resp *http.Response, body []byte) *HTTPError {
	return &HTTPError{
		Method:     req.Method,
		URL:        redactURL(req.URL),
		StatusCode: resp.StatusCode,
		Body:       excerpt(body, 300),
		Header:     resp.Header,
	}
}

// excerpt trims b to at most n bytes of single-line text.
func excerpt(b []byte, n int) string {
	s := strings.Join(strings.Fields(string(b)), " ")
	if len(s) > n {
		s = s[:n] + "…"
	}
	return s
}

// redactURL drops the query string and user info: on a pre-signed S3 URL
// the query holds the signature and credential scope.
func redactURL(u *url.URL) string {
	if u == nil {
		return ""
	}
	c := *u
	c.User = nil
	c.RawQuery = ""
	c.ForceQuery = false
	c.Fragment = ""
	return c.String()
}

// retryAfter parses a Retry-After header: delay-seconds or an HTTP date.
func retryAfter(h http.Header, now time.Time) (time.Duration, bool) {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.Atoi(v); err == nil && secs >= 0 {
		return time.Duration(secs) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}

// retrier runs an operation with a Backoff, a Clock and jitter.
type retrier struct {
	backoff Backoff
	clock   Clock
	jitter  func() float64
}

func newRetrier(b Backoff, c Clock, jitter func() float64) retrier {
	if c == nil {
		c = SystemClock{}
	}
	if jitter == nil {
		jitter = rand.Float64
	}
	return retrier{backoff: b.withDefaults(), clock: c, jitter: jitter}
}

// permanentError marks an error that must not be retried.
type permanentError struct{ err error }

func (e permanentError) Error() string { return e.err.Error() }
func (e permanentError) Unwrap() error { return e.err }

// permanent wraps err so do returns it at once.
func permanent(err error) error { return permanentError{err} }

// do calls op until it succeeds, returns a permanent error, or attempts run
// out. op returns the delay the server asked for (Retry-After), if any.
func (r retrier) do(ctx context.Context, op func(attempt int) (time.Duration, error)) error {
	var err error
	for attempt := 1; ; attempt++ {
		var wait time.Duration
		wait, err = op(attempt)
		if err == nil {
			return nil
		}
		var perm permanentError
		if errors.As(err, &perm) {
			return perm.err
		}
		if ctx.Err() != nil {
			return fmt.Errorf("%w (%v)", err, context.Cause(ctx))
		}
		if attempt >= r.backoff.Attempts {
			return fmt.Errorf("%w (gave up after %d attempts)", err, attempt)
		}
		if wait > 0 {
			wait = min(wait, r.backoff.MaxRetryAfter)
		} else {
			wait = r.backoff.delay(attempt, r.jitter())
		}
		if serr := r.clock.Sleep(ctx, wait); serr != nil {
			return fmt.Errorf("%w (%v)", err, context.Cause(ctx))
		}
	}
}

// retryableStatus reports whether a response status is one of codes.
func retryableStatus(code int, codes []int) bool {
	for _, c := range codes {
		if c == code {
			return true
		}
	}
	return false
}

// isStatusCallbackRetryable: status callbacks are retried on any 5xx and 429.
func isStatusCallbackRetryable(code int) bool { return code == 429 || code >= 500 }

// sinkRetryCodes are retried for destination requests. A plain 500 is not:
// it usually means the request itself is wrong, and resending a batch to a
// non-idempotent API could duplicate it.
var sinkRetryCodes = []int{429, 502, 503, 504}

// unwrapURLError strips net/http's *url.Error wrapper, whose message repeats
// the full URL, query string (and so any pre-signed credentials) included.
func unwrapURLError(err error) error {
	var uerr *url.Error
	if errors.As(err, &uerr) {
		return uerr.Err
	}
	return err
}
