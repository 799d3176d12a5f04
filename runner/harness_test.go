package runner

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeClock advances only when slept on, so backoff, rate limits and
// throttling are tested exactly and without waiting.
type fakeClock struct {
	mu    sync.Mutex
	now   time.Time
	slept []time.Duration
}

// newFakeClock starts at the real time, so contexts with real deadlines
// can be set relative to it; it then moves only when told to.
func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Now()}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if d > 0 {
		c.now = c.now.Add(d)
		c.slept = append(c.slept, d)
	}
	return nil
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func (c *fakeClock) sleeps() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Duration(nil), c.slept...)
}

// amperity is a status callback endpoint that records every report.
type amperity struct {
	*httptest.Server
	mu      sync.Mutex
	reports []Status
	paths   []string
	headers []http.Header
	// fail, when set, gives the status to answer for the nth request
	// (0-based); 0 means accept.
	fail func(n int) int
	hits int
}

func newAmperity(t *testing.T) *amperity {
	a := &amperity{}
	a.Server = httptest.NewServer(http.HandlerFunc(a.serve))
	t.Cleanup(a.Close)
	return a
}

func (a *amperity) serve(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	n := a.hits
	a.hits++
	fail := a.fail
	a.mu.Unlock()
	if fail != nil {
		if code := fail(n); code != 0 {
			http.Error(w, "callback unavailable", code)
			return
		}
	}
	var st Status
	body, _ := io.ReadAll(r.Body)
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if r.Method != http.MethodPut || dec.Decode(&st) != nil {
		http.Error(w, "bad report: "+string(body), http.StatusBadRequest)
		return
	}
	a.mu.Lock()
	a.reports = append(a.reports, st)
	a.paths = append(a.paths, r.URL.Path)
	a.headers = append(a.headers, r.Header.Clone())
	a.mu.Unlock()
}

func (a *amperity) got() []Status {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]Status(nil), a.reports...)
}

func (a *amperity) callbackURL() string { return a.URL + "/webhook/v1/" }

// destination records every request body.
type destination struct {
	*httptest.Server
	mu      sync.Mutex
	bodies  []string
	headers []http.Header
	// respond, when set, answers the nth request (0-based) instead of 200.
	respond  func(n int, w http.ResponseWriter) bool
	refusedN int // requests answered by respond
}

func newDestination(t *testing.T) *destination {
	d := &destination{}
	d.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		d.mu.Lock()
		n := len(d.bodies) + d.refused()
		respond := d.respond
		d.mu.Unlock()
		if respond != nil && respond(n, w) {
			d.mu.Lock()
			d.refusedN++
			d.mu.Unlock()
			return
		}
		d.mu.Lock()
		d.bodies = append(d.bodies, string(body))
		d.headers = append(d.headers, r.Header.Clone())
		d.mu.Unlock()
		w.Write([]byte(`{"ok":true}`))
	}))
	t.Cleanup(d.Close)
	return d
}

func (d *destination) refused() int { return d.refusedN }

func (d *destination) got() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string(nil), d.bodies...)
}

// records decodes every delivered body ({"data":[...]}) into records.
func (d *destination) records(t *testing.T, key string) []map[string]any {
	t.Helper()
	var all []map[string]any
	for _, b := range d.got() {
		var recs []map[string]any
		if key == "" {
			if err := json.Unmarshal([]byte(b), &recs); err != nil {
				t.Fatalf("destination body %.100q: %v", b, err)
			}
		} else {
			var m map[string][]map[string]any
			if err := json.Unmarshal([]byte(b), &m); err != nil {
				t.Fatalf("destination body %.100q: %v", b, err)
			}
			recs = m[key]
		}
		all = append(all, recs...)
	}
	return all
}

// serveFile serves content with http.ServeContent, which honours Range.
func serveFile(t *testing.T, content []byte) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.ServeContent(w, r, "data.ndjson", time.Time{}, bytes.NewReader(content))
	}))
	t.Cleanup(srv.Close)
	return srv
}

// setup is one job's world: file, Amperity, destination and a runner.
type setup struct {
	t     *testing.T
	data  *httptest.Server
	amp   *amperity
	dest  *destination
	clock *fakeClock
	logs  *bytes.Buffer
	cfg   Config
	http  HTTPConfig

	mu                 sync.Mutex
	reportsAtFirstSend int // reports Amperity had when the sink was first called (-1: not yet)
}

func newSetup(t *testing.T, file string) *setup {
	s := &setup{t: t, amp: newAmperity(t), dest: newDestination(t), clock: newFakeClock(), logs: new(bytes.Buffer)}
	s.data = serveFile(t, []byte(file))
	s.http = HTTPConfig{URL: s.dest.URL + "/ingest", DataKey: "data", Clock: s.clock, Jitter: func() float64 { return 0.5 }}
	s.cfg = Config{TenantID: "acme", Clock: s.clock, Jitter: func() float64 { return 0.5 },
		Logger: NewLogger(&syncWriter{w: s.logs}, "debug")}
	return s
}

// syncWriter serialises writes from concurrent goroutines to a buffer.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

func (s *setup) runner() *Runner {
	s.t.Helper()
	cfg := s.cfg
	if cfg.Sink == nil {
		sink, err := NewHTTPSink(s.http)
		if err != nil {
			s.t.Fatal(err)
		}
		cfg.Sink = sink
	}
	r, err := New(cfg)
	if err != nil {
		s.t.Fatal(err)
	}
	return r
}

func (s *setup) body() map[string]any {
	return map[string]any{
		"data_url":     s.data.URL + "/test-bucket/sample.ndjson?X-Amz-Signature=sig123secret",
		"callback_url": s.amp.callbackURL(),
		"webhook_id":   "wh-abcd12345",
		"access_token": "2:tok3n-s3cret:value",
		"settings":     map[string]any{"some": "setting"},
		"label_name":   "test label",
	}
}

// run invokes Handle with a direct-invoke event built from body.
func (s *setup) run(body map[string]any) (Response, responseBody) {
	s.t.Helper()
	event, _ := json.Marshal(body)
	resp, err := s.runner().Handle(context.Background(), event)
	if err != nil {
		s.t.Fatalf("Handle returned error %v", err)
	}
	var rb responseBody
	if err := json.Unmarshal([]byte(resp.Body), &rb); err != nil {
		s.t.Fatalf("response body %q: %v", resp.Body, err)
	}
	return resp, rb
}

// final returns the last report and checks there is exactly one terminal
// report and it is last, and that progress never decreased.
func (s *setup) final() Status {
	s.t.Helper()
	reports := s.amp.got()
	if len(reports) == 0 {
		s.t.Fatal("no status report")
	}
	prev := 0.0
	for i, r := range reports {
		if r.Progress < prev {
			s.t.Errorf("report %d: progress %v after %v", i, r.Progress, prev)
		}
		prev = r.Progress
		if terminal := r.State != Running; terminal != (i == len(reports)-1) {
			s.t.Errorf("report %d of %d has state %s", i+1, len(reports), r.State)
		}
		if len(r.Errors) > maxReportErrors {
			s.t.Errorf("report %d carries %d errors", i, len(r.Errors))
		}
	}
	return reports[len(reports)-1]
}

func allErrors(reports []Status) string {
	var all []string
	for _, r := range reports {
		all = append(all, r.Errors...)
	}
	return strings.Join(all, "\n")
}

// zeroTime makes http.ServeContent skip Last-Modified handling.
var zeroTime time.Time

// discardLogger is for tests that do not look at logs.
var discardLogger = slog.New(slog.DiscardHandler)
