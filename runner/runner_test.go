package runner

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

const twoRecords = "{\"id\":1,\"email\":\"a@example.com\"}\n{\"id\":2,\"email\":\"b@example.com\"}\n"

func TestRunner_HappyPath(t *testing.T) {
	s := newSetup(t, twoRecords)
	resp, rb := s.run(s.body())

	if resp.StatusCode != 200 || rb.Status != "succeeded" {
		t.Fatalf("response %d %+v", resp.StatusCode, rb)
	}
	if got := s.dest.got(); len(got) != 1 || got[0] != `{"data":[{"id":1,"email":"a@example.com"},{"id":2,"email":"b@example.com"}]}` {
		t.Fatalf("destination got %q", got)
	}
	reports := s.amp.got()
	want := []Status{
		{State: Running, Progress: 0, Errors: []string{}},
		{State: Succeeded, Progress: 1, Errors: []string{}, Reason: "2 records sent, 0 failed"},
	}
	if fmt.Sprint(reports) != fmt.Sprint(want) {
		t.Fatalf("reports = %+v, want %+v", reports, want)
	}
	for i, h := range s.amp.headers {
		if h.Get("Authorization") != "Bearer 2:tok3n-s3cret:value" || h.Get("X-Amperity-Tenant") != "acme" || h.Get("Content-Type") != "application/json" {
			t.Errorf("report %d headers %v", i, h)
		}
		if s.amp.paths[i] != "/webhook/v1/wh-abcd12345" {
			t.Errorf("report %d path %s", i, s.amp.paths[i])
		}
	}
	if rb.Summary == nil || rb.Summary.Sent != 2 || rb.Summary.Batches != 1 {
		t.Errorf("summary %+v", rb.Summary)
	}
}

func TestRunner_DownloadForbiddenReportsFailed(t *testing.T) {
	s := newSetup(t, twoRecords)
	s.data.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>", http.StatusForbidden)
	})
	resp, rb := s.run(s.body())
	if resp.StatusCode != 500 {
		t.Fatalf("status %d, want 500", resp.StatusCode)
	}
	final := s.final()
	if final.State != Failed || !strings.Contains(final.Reason, "403 Forbidden") || !strings.Contains(final.Reason, "Request has expired") {
		t.Fatalf("final %+v", final)
	}
	if strings.Contains(final.Reason, "sig123secret") || strings.Contains(rb.Message, "sig123secret") {
		t.Fatalf("pre-signed signature leaked: %q", final.Reason)
	}
	if len(s.dest.got()) != 0 {
		t.Fatal("destination was called")
	}
}

func TestRunner_StatusCallbackDownSendsNothing(t *testing.T) {
	s := newSetup(t, twoRecords)
	s.amp.fail = func(int) int { return http.StatusBadGateway }
	s.cfg.StatusRetry = Backoff{Attempts: 4}
	resp, rb := s.run(s.body())
	if resp.StatusCode != 500 || !strings.Contains(rb.Message, "502") {
		t.Fatalf("response %d %+v", resp.StatusCode, rb)
	}
	if s.amp.hits != 4 {
		t.Errorf("callback attempts = %d, want 4", s.amp.hits)
	}
	if len(s.dest.got()) != 0 {
		t.Fatal("destination was called")
	}
}

func TestRunner_StatusCallbackRecoversAfterRetries(t *testing.T) {
	s := newSetup(t, twoRecords)
	s.amp.fail = func(n int) int {
		if n < 2 {
			return http.StatusServiceUnavailable
		}
		return 0
	}
	resp, _ := s.run(s.body())
	if resp.StatusCode != 200 || s.final().State != Succeeded {
		t.Fatalf("response %d, reports %+v", resp.StatusCode, s.amp.got())
	}
	// Two backoff sleeps: 250ms and 500ms with jitter 0.5 -> 187.5ms, 375ms.
	if got := s.clock.sleeps(); len(got) != 2 || got[0] != 187500*time.Microsecond || got[1] != 375*time.Millisecond {
		t.Errorf("sleeps = %v", got)
	}
}

func TestRunner_CatchUpToOffset(t *testing.T) {
	var file strings.Builder
	for i := 1; i <= 5; i++ {
		fmt.Fprintf(&file, "{\"id\":%d}\n", i)
	}
	s := newSetup(t, file.String())
	s.cfg.BatchOffset = 2
	s.cfg.BatchSize = 2
	s.run(s.body())
	if got := s.dest.got(); fmt.Sprint(got) != `[{"data":[{"id":3},{"id":4}]} {"data":[{"id":5}]}]` {
		t.Fatalf("destination got %q", got)
	}
}

func TestRunner_CustomMapping(t *testing.T) {
	s := newSetup(t, twoRecords)
	type in struct {
		ID    int    `json:"id"`
		Email string `json:"email"`
	}
	type out struct {
		UserID string `json:"userId"`
		Mail   string `json:"mail"`
	}
	s.http.Map = MapJSON(func(r in) (out, error) { return out{UserID: fmt.Sprint("u", r.ID), Mail: r.Email}, nil })
	s.run(s.body())
	if got := s.dest.got(); len(got) != 1 || got[0] != `{"data":[{"userId":"u1","mail":"a@example.com"},{"userId":"u2","mail":"b@example.com"}]}` {
		t.Fatalf("destination got %q", got)
	}
}

func TestRunner_DataKey(t *testing.T) {
	for key, want := range map[string]string{
		"records": `{"records":[{"id":1,"email":"a@example.com"},{"id":2,"email":"b@example.com"}]}`,
		"":        `[{"id":1,"email":"a@example.com"},{"id":2,"email":"b@example.com"}]`,
	} {
		t.Run(fmt.Sprintf("%q", key), func(t *testing.T) {
			s := newSetup(t, twoRecords)
			s.http.DataKey = key
			s.run(s.body())
			if got := s.dest.got(); len(got) != 1 || got[0] != want {
				t.Fatalf("destination got %q", got)
			}
		})
	}
}

func TestRunner_DestinationErrorTextReported(t *testing.T) {
	s := newSetup(t, twoRecords+"{\"id\":3}\n")
	s.cfg.BatchSize = 2
	s.dest.respond = func(n int, w http.ResponseWriter) bool {
		if n == 0 {
			http.Error(w, `{"error": "field 'email' is required"}`, http.StatusBadRequest)
			return true
		}
		return false
	}
	resp, rb := s.run(s.body())
	final := s.final()
	if resp.StatusCode != 200 || final.State != Succeeded {
		t.Fatalf("response %d, final %+v", resp.StatusCode, final)
	}
	errs := allErrors(s.amp.got())
	if !strings.Contains(errs, "batch 1 (lines 1-2)") || !strings.Contains(errs, "400 Bad Request") || !strings.Contains(errs, "field 'email' is required") {
		t.Fatalf("errors = %q", errs)
	}
	if rb.Summary.Sent != 1 || rb.Summary.Failed != 2 || rb.Summary.FailedBatches != 1 {
		t.Errorf("summary %+v", rb.Summary)
	}
}

func TestRunner_EveryBatchFailingFailsTheJob(t *testing.T) {
	s := newSetup(t, twoRecords)
	s.dest.respond = func(int, http.ResponseWriter) bool { return false }
	s.dest.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "unknown API key", http.StatusUnauthorized)
	})
	resp, _ := s.run(s.body())
	final := s.final()
	if resp.StatusCode != 500 || final.State != Failed || !strings.Contains(final.Reason, "unknown API key") {
		t.Fatalf("response %d, final %+v", resp.StatusCode, final)
	}
}

func TestRunner_RecordsWithOddEndings(t *testing.T) {
	big := `{"blob":"` + strings.Repeat("z", 10<<20) + `"}`
	file := "\xEF\xBB\xBF{\"id\":1}\r\n\r\n" + big + "\n  \n{\"id\":3}"
	s := newSetup(t, file)
	_, rb := s.run(s.body())
	recs := s.dest.records(t, "data")
	if len(recs) != 3 || recs[0]["id"] != 1.0 || len(recs[1]["blob"].(string)) != 10<<20 || recs[2]["id"] != 3.0 {
		t.Fatalf("got %d records, summary %+v", len(recs), rb.Summary)
	}
	if s.final().State != Succeeded {
		t.Fatal("not succeeded")
	}
}

func TestRunner_BadLineReportedAndSkipped(t *testing.T) {
	s := newSetup(t, "{\"id\":1}\n{not json\n[1,2]\n{\"id\":4}\n")
	resp, rb := s.run(s.body())
	final := s.final()
	if resp.StatusCode != 200 || final.State != Succeeded {
		t.Fatalf("response %d final %+v", resp.StatusCode, final)
	}
	errs := allErrors(s.amp.got())
	if !strings.Contains(errs, "line 2: invalid JSON: invalid character 'n'") || !strings.Contains(errs, "line 3: not a JSON object (found a JSON array)") {
		t.Fatalf("errors = %q", errs)
	}
	if recs := s.dest.records(t, "data"); len(recs) != 2 {
		t.Fatalf("records delivered = %d", len(recs))
	}
	if rb.Summary.Failed != 2 || rb.Summary.Sent != 2 || rb.Summary.Records != 4 {
		t.Errorf("summary %+v", rb.Summary)
	}
}

func TestRunner_BadLineFatalWhenConfigured(t *testing.T) {
	s := newSetup(t, "{\"id\":1}\n{not json\n{\"id\":3}\n")
	s.cfg.FailOnInvalidRecord = true
	resp, _ := s.run(s.body())
	if final := s.final(); resp.StatusCode != 500 || final.State != Failed || !strings.Contains(final.Reason, "line 2") {
		t.Fatalf("response %d final %+v", resp.StatusCode, final)
	}
	if len(s.dest.got()) != 0 {
		t.Errorf("destination got %q", s.dest.got())
	}
}

func TestRunner_GzipBodies(t *testing.T) {
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte(twoRecords))
	zw.Close()
	for _, header := range []bool{false, true} {
		t.Run(fmt.Sprintf("content-encoding=%v", header), func(t *testing.T) {
			s := newSetup(t, "")
			s.data.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if header {
					w.Header().Set("Content-Encoding", "gzip")
				}
				w.Write(gz.Bytes())
			})
			s.run(s.body())
			if recs := s.dest.records(t, "data"); len(recs) != 2 || s.final().State != Succeeded {
				t.Fatalf("records %v, reports %+v", recs, s.amp.got())
			}
		})
	}
}

func TestRunner_PanicInMappingReportedAsFailed(t *testing.T) {
	s := newSetup(t, twoRecords)
	s.http.Map = func(Record) (any, error) { panic("mapping bug") }
	resp, _ := s.run(s.body())
	final := s.final()
	if resp.StatusCode != 500 || final.State != Failed || !strings.Contains(final.Reason, "panic in sink: mapping bug") {
		t.Fatalf("response %d final %+v", resp.StatusCode, final)
	}
}

func TestRunner_CancelledContextReportedAsFailed(t *testing.T) {
	s := newSetup(t, twoRecords+twoRecords)
	s.cfg.BatchSize = 1
	ctx, cancel := context.WithCancel(context.Background())
	s.cfg.Sink = SinkFunc(func(ctx context.Context, b *Batch) error {
		cancel()
		return nil
	})
	event, _ := json.Marshal(s.body())
	resp, _ := s.runner().Handle(ctx, event)
	final := s.final()
	if resp.StatusCode != 500 || final.State != Failed || !strings.Contains(final.Reason, "stopped before the end of the file") {
		t.Fatalf("response %d final %+v", resp.StatusCode, final)
	}
}

func TestRunner_FatalSinkErrorStopsJob(t *testing.T) {
	s := newSetup(t, twoRecords+twoRecords)
	s.cfg.BatchSize = 1
	calls := 0
	s.cfg.Sink = SinkFunc(func(ctx context.Context, b *Batch) error {
		calls++
		return Fatal(fmt.Errorf("table does not exist"))
	})
	resp, _ := s.run(s.body())
	if final := s.final(); resp.StatusCode != 500 || final.Reason != "batch 1 (line 1): table does not exist" || calls > 2 {
		t.Fatalf("response %d final %+v calls %d", resp.StatusCode, final, calls)
	}
}

func TestRunner_RecordErrorsFromSink(t *testing.T) {
	s := newSetup(t, twoRecords)
	s.cfg.Sink = SinkFunc(func(ctx context.Context, b *Batch) error {
		return RecordErrors{{Line: b.Records[1].Line, Err: fmt.Errorf("invalid phone number")}}
	})
	_, rb := s.run(s.body())
	if rb.Summary.Sent != 1 || rb.Summary.Failed != 1 || !strings.Contains(allErrors(s.amp.got()), "line 2: invalid phone number") {
		t.Fatalf("summary %+v reports %+v", rb.Summary, s.amp.got())
	}
}

func TestRunner_BatchBytesCap(t *testing.T) {
	s := newSetup(t, "{\"a\":\"xxxx\"}\n{\"a\":\"yyyy\"}\n{\"a\":\"zzzz\"}\n")
	s.cfg.BatchBytes = 30 // each record is 12 bytes: two fit, three do not
	s.run(s.body())
	if got := s.dest.got(); len(got) != 2 {
		t.Fatalf("destination got %q", got)
	}
}

func TestRunner_ConcurrentSendsDeliverEverything(t *testing.T) {
	var file strings.Builder
	for i := range 1000 {
		fmt.Fprintf(&file, "{\"id\":%d}\n", i)
	}
	s := newSetup(t, file.String())
	s.cfg.BatchSize = 7
	s.cfg.MaxInFlight = 4
	_, rb := s.run(s.body())
	recs := s.dest.records(t, "data")
	seen := map[float64]bool{}
	for _, r := range recs {
		seen[r["id"].(float64)] = true
	}
	if len(recs) != 1000 || len(seen) != 1000 || rb.Summary.Batches != 143 {
		t.Fatalf("records %d unique %d summary %+v", len(recs), len(seen), rb.Summary)
	}
}

func TestRunner_SecretsNeverLogged(t *testing.T) {
	s := newSetup(t, twoRecords+"{bad\n")
	s.http.Header = http.Header{"Authorization": {"Basic c2VjcmV0LXdyaXRlLWtleTo="}}
	s.dest.respond = func(n int, w http.ResponseWriter) bool {
		// A destination that echoes the token in its error text.
		http.Error(w, "rejected token 2:tok3n-s3cret:value", http.StatusBadRequest)
		return true
	}
	s.run(s.body())
	// And an invalid request, logged as rejected.
	bad := s.body()
	delete(bad, "data_url")
	s.run(bad)

	logs := s.logs.String()
	if !strings.Contains(logs, "wh-abcd12345") {
		t.Fatalf("logs do not mention the job: %s", logs)
	}
	for _, secret := range []string{"tok3n-s3cret", "sig123secret", "c2VjcmV0LXdyaXRlLWtleTo"} {
		if strings.Contains(logs, secret) {
			t.Errorf("logs contain %q:\n%s", secret, logs)
		}
		for _, r := range s.amp.got() {
			if strings.Contains(fmt.Sprint(r), secret) {
				t.Errorf("status report contains %q: %+v", secret, r)
			}
		}
	}
}

func TestRunner_RunFromCursorUsesRange(t *testing.T) {
	file := "{\"id\":1}\n{\"id\":2}\n{\"id\":3}\nbad\n{\"id\":5}\n"
	var ranges []string
	s := newSetup(t, "")
	s.data.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ranges = append(ranges, r.Header.Get("Range"))
		http.ServeContent(w, r, "f", zeroTime, strings.NewReader(file))
	})
	req, _, err := ParseEvent(mustJSON(s.body()))
	if err != nil {
		t.Fatal(err)
	}
	sum, err := s.runner().RunFrom(context.Background(), req, Cursor{Offset: 18, Line: 2})
	if err != nil {
		t.Fatal(err)
	}
	if got := s.dest.got(); fmt.Sprint(got) != `[{"data":[{"id":3},{"id":5}]}]` || fmt.Sprint(ranges) != "[bytes=18-]" {
		t.Fatalf("destination %q, ranges %q", got, ranges)
	}
	if errs := allErrors(s.amp.got()); !strings.Contains(errs, "line 4: invalid JSON") || sum.Sent != 2 {
		t.Fatalf("errors %q, summary %+v", errs, sum)
	}
}

func TestRunner_RunFromCursorInGzipFile(t *testing.T) {
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte("{\"id\":1}\n{\"id\":2}\n{\"id\":3}\n"))
	zw.Close()
	s := newSetup(t, gz.String())
	req, _, _ := ParseEvent(mustJSON(s.body()))
	if _, err := s.runner().RunFrom(context.Background(), req, Cursor{Offset: 9, Line: 1, Gzip: true}); err != nil {
		t.Fatal(err)
	}
	if got := s.dest.got(); fmt.Sprint(got) != `[{"data":[{"id":2},{"id":3}]}]` {
		t.Fatalf("destination %q", got)
	}
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}
