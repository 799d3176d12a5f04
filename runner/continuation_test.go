package runner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// selfInvoker records the asynchronous invocations a runner makes.
type selfInvoker struct {
	mu       sync.Mutex
	payloads [][]byte
	fail     error
}

func (s *selfInvoker) InvokeAsync(ctx context.Context, function string, payload []byte) error {
	if s.fail != nil {
		return s.fail
	}
	if function != "long-job" {
		return fmt.Errorf("invoked %q", function)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.payloads = append(s.payloads, append([]byte(nil), payload...))
	return nil
}

func (s *selfInvoker) take() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.payloads) == 0 {
		return nil
	}
	p := s.payloads[0]
	s.payloads = s.payloads[1:]
	return p
}

// longJob sets up a job whose sink takes two (fake) minutes a batch, run
// in invocations of 15 minutes with a 90 s margin: seven batches a hop.
func longJob(t *testing.T, records int) (*setup, *selfInvoker) {
	var file strings.Builder
	for i := 1; i <= records; i++ {
		fmt.Fprintf(&file, "{\"id\":%d}\n", i)
	}
	s := newSetup(t, file.String())
	inv := &selfInvoker{}
	s.cfg.BatchSize = 5
	s.cfg.Invoker = inv
	s.cfg.Continuation = Continuation{FunctionName: "long-job", Margin: 90 * time.Second}
	sink, err := NewHTTPSink(s.http)
	if err != nil {
		t.Fatal(err)
	}
	s.cfg.Sink = SinkFunc(func(ctx context.Context, b *Batch) error {
		s.mu.Lock()
		if s.reportsAtFirstSend < 0 {
			s.reportsAtFirstSend = len(s.amp.got())
		}
		s.mu.Unlock()
		s.clock.advance(2 * time.Minute)
		return sink.Send(ctx, b)
	})
	return s, inv
}

// invocation runs one invocation with a 15-minute deadline on the fake
// clock's time line.
func (s *setup) invocation(event []byte) (Response, responseBody) {
	s.t.Helper()
	ctx, cancel := context.WithDeadline(context.Background(), s.clock.Now().Add(15*time.Minute))
	defer cancel()
	resp, err := s.runner().Handle(ctx, event)
	if err != nil {
		s.t.Fatal(err)
	}
	var rb responseBody
	json.Unmarshal([]byte(resp.Body), &rb)
	return resp, rb
}

func TestContinuation_ManyHopsLoseAndRepeatNothing(t *testing.T) {
	s, inv := longJob(t, 100)
	resp, rb := s.invocation(mustJSON(s.body()))
	hops := 1
	for rb.Status == "continued" {
		if resp.StatusCode != 200 {
			t.Fatalf("hop %d answered %d", hops, resp.StatusCode)
		}
		payload := inv.take()
		if payload == nil {
			t.Fatalf("hop %d continued without invoking the function", hops)
		}
		var ev continuationEvent
		json.Unmarshal(payload, &ev)
		if ev.Handoff.Hop != hops+1 || ev.Handoff.Request.WebhookID != "wh-abcd12345" || ev.Handoff.Cursor.Offset == 0 {
			t.Fatalf("handoff %d: %+v", hops, ev.Handoff)
		}
		hops++
		before := len(s.amp.got())
		s.reportsAtFirstSend = -1
		resp, rb = s.invocation(payload)
		// A resumed invocation sends nothing to Amperity before it works:
		// no new "running" report from zero.
		if s.reportsAtFirstSend != before {
			t.Fatalf("hop %d reported %d times before its first batch", hops, s.reportsAtFirstSend-before)
		}
	}
	if hops < 3 {
		t.Fatalf("only %d invocations: the test should need at least 3", hops)
	}
	recs := s.dest.records(t, "data")
	for i, r := range recs {
		if r["id"] != float64(i+1) {
			t.Fatalf("record %d has id %v: lost or repeated", i+1, r["id"])
		}
	}
	if len(recs) != 100 || rb.Status != "succeeded" || rb.Summary.Sent != 100 || rb.Summary.Batches != 20 {
		t.Fatalf("%d records delivered, final %+v", len(recs), rb)
	}
	final := s.final() // checks one terminal report, last, and progress never decreasing
	if final.State != Succeeded {
		t.Fatalf("final %+v", final)
	}
	if reports := s.amp.got(); reports[0].Progress != 0 || reports[0].State != Running {
		t.Fatalf("first report %+v", reports[0])
	}
}

func TestContinuation_ResumesByRangeOrBySkipping(t *testing.T) {
	for _, honour := range []bool{true, false} {
		t.Run(fmt.Sprintf("range=%v", honour), func(t *testing.T) {
			s, inv := longJob(t, 60)
			file := ""
			for i := 1; i <= 60; i++ {
				file += fmt.Sprintf("{\"id\":%d}\n", i)
			}
			var mu sync.Mutex
			var ranges []string
			s.data.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				ranges = append(ranges, r.Header.Get("Range"))
				mu.Unlock()
				if honour {
					http.ServeContent(w, r, "f", zeroTime, strings.NewReader(file))
					return
				}
				w.Write([]byte(file))
			})
			_, rb := s.invocation(mustJSON(s.body()))
			for rb.Status == "continued" {
				_, rb = s.invocation(inv.take())
			}
			if recs := s.dest.records(t, "data"); len(recs) != 60 || rb.Status != "succeeded" {
				t.Fatalf("%d records, %+v", len(recs), rb)
			}
			if len(ranges) < 2 || ranges[0] != "" || !strings.HasPrefix(ranges[1], "bytes=") {
				t.Fatalf("Range headers %q", ranges)
			}
		})
	}
}

func TestContinuation_SelfInvokeFailureFailsTheJob(t *testing.T) {
	s, inv := longJob(t, 100)
	inv.fail = errors.New("AccessDeniedException: not authorized to perform lambda:InvokeFunction")
	resp, _ := s.invocation(mustJSON(s.body()))
	final := s.final()
	if resp.StatusCode != 500 || final.State != Failed || !strings.Contains(final.Reason, "could not continue past the Lambda timeout") ||
		!strings.Contains(final.Reason, "lambda:InvokeFunction") {
		t.Fatalf("%d %+v", resp.StatusCode, final)
	}
}

func TestContinuation_ExpiredURLOnLaterHop(t *testing.T) {
	s, inv := longJob(t, 100)
	file := numberedRecords(100)
	s.data.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Range") != "" {
			http.Error(w, "<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>", http.StatusForbidden)
			return
		}
		http.ServeContent(w, r, "f", zeroTime, strings.NewReader(file))
	})
	_, rb := s.invocation(mustJSON(s.body()))
	if rb.Status != "continued" {
		t.Fatalf("first hop %+v", rb)
	}
	resp, _ := s.invocation(inv.take())
	final := s.final()
	if resp.StatusCode != 500 || !strings.Contains(final.Reason, "403 Forbidden") || !strings.Contains(final.Reason, "may have expired") {
		t.Fatalf("%d %+v", resp.StatusCode, final)
	}
}

func TestContinuation_HopLimit(t *testing.T) {
	s, inv := longJob(t, 100)
	s.cfg.Continuation.MaxHops = 2
	_, rb := s.invocation(mustJSON(s.body()))
	_, rb = s.invocation(inv.take())
	final := s.final()
	if rb.Status != "failed" || !strings.Contains(final.Reason, "stopped after 2 invocations") {
		t.Fatalf("%+v %+v", rb, final)
	}
}

func TestContinuation_AgeLimit(t *testing.T) {
	s, inv := longJob(t, 100)
	_, rb := s.invocation(mustJSON(s.body()))
	if rb.Status != "continued" {
		t.Fatal(rb)
	}
	s.clock.advance(3 * time.Hour)
	_, rb = s.invocation(inv.take())
	final := s.final()
	if rb.Status != "failed" || !strings.Contains(final.Reason, "past the 3h0m0s limit") {
		t.Fatalf("%+v %+v", rb, final)
	}
}

func TestContinuation_Margin(t *testing.T) {
	tests := []struct {
		cfg       Continuation
		remaining time.Duration
		want      time.Duration
	}{
		{Continuation{}, 15 * time.Minute, 90 * time.Second},
		{Continuation{}, 3 * time.Minute, 30 * time.Second},
		{Continuation{}, 10 * time.Second, 5 * time.Second},
		{Continuation{Margin: time.Second}, 3 * time.Second, time.Second},
		{Continuation{Margin: time.Minute}, time.Minute, 30 * time.Second},
	}
	for _, tt := range tests {
		if got := tt.cfg.margin(tt.remaining); got != tt.want {
			t.Errorf("margin(%v) with %+v = %v, want %v", tt.remaining, tt.cfg, got, tt.want)
		}
	}
}

func TestContinuation_CarriesCountersAndErrors(t *testing.T) {
	s, inv := longJob(t, 80)
	file := "{\"id\":1}\nnot json\n" + numberedRecords(78)
	s.data.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.ServeContent(w, r, "f", zeroTime, strings.NewReader(file))
	})
	_, rb := s.invocation(mustJSON(s.body()))
	var ev continuationEvent
	json.Unmarshal(inv.take(), &ev)
	h := ev.Handoff
	// Where exactly the handoff falls depends on how the reader and the
	// sender interleave; what it carries must be consistent either way.
	if rb.Status != "continued" || h == nil {
		t.Fatalf("no handoff: %+v", rb)
	}
	if h.Records < 30 || h.Sent != int64(h.Batches*5) || h.Sent+h.Failed != h.Records || h.Errors != 1 || h.Failed != 1 ||
		h.Cursor.Line != h.Records || !strings.Contains(h.FirstError, "line 2") || h.Progress <= 0 || h.Started.IsZero() {
		t.Fatalf("handoff %+v", h)
	}
	// The error was reported before handing off, not carried twice.
	if !strings.Contains(allErrors(s.amp.got()), "line 2: invalid JSON") || len(h.PendingErrors) != 0 {
		t.Fatalf("errors reported %q, pending %q", allErrors(s.amp.got()), h.PendingErrors)
	}
}

func TestHandle_InvalidContinuationEvent(t *testing.T) {
	s := newSetup(t, twoRecords)
	resp, _ := s.runner().Handle(context.Background(), []byte(`{"amperity_continuation":{"hop":2}}`))
	if resp.StatusCode != 400 || len(s.dest.got()) != 0 {
		t.Fatalf("%d %s", resp.StatusCode, resp.Body)
	}
}

func TestFrontDoor_AnswersAcceptedAndInvokesItself(t *testing.T) {
	s := newSetup(t, twoRecords)
	inv := &selfInvoker{}
	s.cfg.Invoker, s.cfg.FrontDoor = inv, true
	s.cfg.Continuation.FunctionName = "long-job"
	quoted, _ := json.Marshal(string(mustJSON(s.body())))
	gatewayEvent := []byte(`{"httpMethod":"POST","path":"/run","requestContext":{"stage":"prod"},"body":` + string(quoted) + `}`)

	resp, err := s.runner().Handle(context.Background(), gatewayEvent)
	if err != nil || resp.StatusCode != 202 || !strings.Contains(resp.Body, `"status":"accepted"`) {
		t.Fatalf("%v %d %s", err, resp.StatusCode, resp.Body)
	}
	if len(s.dest.got()) != 0 || len(s.amp.got()) != 0 {
		t.Fatal("the front door did work itself")
	}
	// The background invocation gets the request itself and does the job.
	payload := inv.take()
	resp, _ = s.runner().Handle(context.Background(), payload)
	if resp.StatusCode != 200 || len(s.dest.records(t, "data")) != 2 || s.final().State != Succeeded {
		t.Fatalf("background invocation: %d %s", resp.StatusCode, resp.Body)
	}
	if inv.take() != nil {
		t.Fatal("a direct invoke went through the front door again")
	}
}

func TestFrontDoor_FallsBackToDoingTheWork(t *testing.T) {
	s := newSetup(t, twoRecords)
	s.cfg.Invoker = &selfInvoker{fail: errors.New("no Lambda endpoint here")}
	s.cfg.FrontDoor = true
	s.cfg.Continuation.FunctionName = "long-job"
	r := s.runner()
	quoted, _ := json.Marshal(string(mustJSON(s.body())))
	gatewayEvent := []byte(`{"version":"2.0","rawPath":"/","requestContext":{"domainName":"x.lambda-url.us-east-1.on.aws"},"body":` + string(quoted) + `}`)
	for range 2 {
		resp, _ := r.Handle(context.Background(), gatewayEvent)
		if resp.StatusCode != 200 {
			t.Fatalf("%d %s", resp.StatusCode, resp.Body)
		}
	}
	if n := strings.Count(s.logs.String(), "front door unavailable"); n != 1 {
		t.Fatalf("fallback logged %d times:\n%s", n, s.logs.String())
	}
	if len(s.dest.records(t, "data")) != 4 {
		t.Fatal("jobs not done")
	}
}

func TestSDKInvoker_UsesTheInvokeAPI(t *testing.T) {
	var gotPath, gotType, gotBody string
	deny := false
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotPath, gotType = r.URL.Path, r.Header.Get("X-Amz-Invocation-Type")
		buf := make([]byte, 1024)
		n, _ := r.Body.Read(buf)
		gotBody = string(buf[:n])
		if deny {
			w.Header().Set("X-Amzn-ErrorType", "AccessDeniedException")
			w.WriteHeader(403)
			w.Write([]byte(`{"Message":"User is not authorized to perform: lambda:InvokeFunction"}`))
			return
		}
		w.WriteHeader(202)
	}))
	defer srv.Close()
	t.Setenv("AWS_ENDPOINT_URL_LAMBDA", srv.URL)
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	t.Setenv("AWS_CA_BUNDLE", "")
	t.Setenv("AWS_CONFIG_FILE", t.TempDir()+"/none")
	inv := &sdkInvoker{}
	if err := inv.InvokeAsync(context.Background(), "long-job", []byte(`{"a":1}`)); err != nil {
		t.Fatal(err)
	}
	if gotPath != "/2015-03-31/functions/long-job/invocations" || gotType != "Event" || gotBody != `{"a":1}` {
		t.Fatalf("path %q type %q body %q", gotPath, gotType, gotBody)
	}
	deny = true
	err := inv.InvokeAsync(context.Background(), "long-job", []byte(`{}`))
	if err == nil || !strings.Contains(err.Error(), "needs lambda:InvokeFunction on its own ARN") {
		t.Fatalf("err = %v", err)
	}
}

func TestContinuation_BatchOffsetIsSkippedOnce(t *testing.T) {
	s, inv := longJob(t, 100)
	s.cfg.BatchOffset = 3
	_, rb := s.invocation(mustJSON(s.body()))
	hops := 1
	for rb.Status == "continued" {
		hops++
		_, rb = s.invocation(inv.take())
	}
	recs := s.dest.records(t, "data")
	if hops < 2 || len(recs) != 97 || recs[0]["id"] != 4.0 || recs[96]["id"] != 100.0 {
		t.Fatalf("%d hops, %d records (first %v)", hops, len(recs), recs[0]["id"])
	}
	for i, r := range recs {
		if r["id"] != float64(i+4) {
			t.Fatalf("record %d has id %v", i, r["id"])
		}
	}
}
