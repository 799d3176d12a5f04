package runner

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
)

func testBatch(n int) *Batch {
	b := &Batch{Seq: 1}
	for i := range n {
		b.add(fmt.Appendf(nil, `{"id":%d}`, i+1), int64(i*9), int64(i+1))
	}
	b.seal()
	return b
}

func TestHTTPSink_RateLimitCountsRequestsWithInjectedClock(t *testing.T) {
	dest := newDestination(t)
	clock := newFakeClock()
	sink, err := NewHTTPSink(HTTPConfig{URL: dest.URL, RequestsPerMinute: 30, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	for range 4 {
		// Large batches: the limit counts requests, not characters.
		if err := sink.Send(context.Background(), testBatch(200)); err != nil {
			t.Fatal(err)
		}
	}
	// 30 a minute = one every 2 s; the first request goes at once.
	if got := clock.sleeps(); fmt.Sprint(got) != "[2s 2s 2s]" || len(dest.got()) != 4 {
		t.Fatalf("sleeps %v, requests %d", got, len(dest.got()))
	}
}

func TestHTTPSink_RateLimitAppliesToRetries(t *testing.T) {
	dest := newDestination(t)
	dest.respond = func(n int, w http.ResponseWriter) bool {
		if n == 0 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return true
		}
		return false
	}
	clock := newFakeClock()
	sink, _ := NewHTTPSink(HTTPConfig{URL: dest.URL, RequestsPerMinute: 60, Clock: clock, Jitter: func() float64 { return 0 }})
	if err := sink.Send(context.Background(), testBatch(1)); err != nil {
		t.Fatal(err)
	}
	// Backoff 125ms, then the limiter holds the retry to 1 s after the first try.
	if got := clock.sleeps(); fmt.Sprint(got) != "[125ms 875ms]" {
		t.Fatalf("sleeps %v", got)
	}
}

func TestHTTPSink_429RetryAfterHonoured(t *testing.T) {
	dest := newDestination(t)
	dest.respond = func(n int, w http.ResponseWriter) bool {
		if n == 0 {
			w.Header().Set("Retry-After", "3")
			http.Error(w, "rate limited", http.StatusTooManyRequests)
			return true
		}
		return false
	}
	clock := newFakeClock()
	sink, _ := NewHTTPSink(HTTPConfig{URL: dest.URL, DataKey: "data", Clock: clock})
	if err := sink.Send(context.Background(), testBatch(2)); err != nil {
		t.Fatal(err)
	}
	if got := clock.sleeps(); fmt.Sprint(got) != "[3s]" || len(dest.got()) != 1 || dest.got()[0] != `{"data":[{"id":1},{"id":2}]}` {
		t.Fatalf("sleeps %v, bodies %q", got, dest.got())
	}
}

func TestHTTPSink_GivesUpWithResponseText(t *testing.T) {
	dest := newDestination(t)
	dest.respond = func(n int, w http.ResponseWriter) bool {
		http.Error(w, "upstream  down\n  try later", http.StatusBadGateway)
		return true
	}
	clock := newFakeClock()
	sink, _ := NewHTTPSink(HTTPConfig{URL: dest.URL, Clock: clock, Retry: Backoff{Attempts: 3}})
	err := sink.Send(context.Background(), testBatch(1))
	if err == nil || !strings.Contains(err.Error(), "502 Bad Gateway: upstream down try later (gave up after 3 attempts)") {
		t.Fatalf("err = %v", err)
	}
	if dest.refusedN != 3 {
		t.Errorf("attempts = %d", dest.refusedN)
	}
}

func TestHTTPSink_500IsNotRetried(t *testing.T) {
	dest := newDestination(t)
	dest.respond = func(n int, w http.ResponseWriter) bool {
		http.Error(w, "boom", http.StatusInternalServerError)
		return true
	}
	sink, _ := NewHTTPSink(HTTPConfig{URL: dest.URL, Clock: newFakeClock()})
	if err := sink.Send(context.Background(), testBatch(1)); err == nil || dest.refusedN != 1 {
		t.Fatalf("err %v attempts %d", err, dest.refusedN)
	}
}

func TestHTTPSink_MapBatchAndEncoder(t *testing.T) {
	dest := newDestination(t)
	sink, _ := NewHTTPSink(HTTPConfig{URL: dest.URL, Clock: newFakeClock(),
		MapBatch: func(b *Batch, recs []json.RawMessage) (any, error) {
			return map[string]any{"batch": recs, "seq": b.Seq}, nil
		}})
	sink.Send(context.Background(), testBatch(2))
	if got := dest.got(); len(got) != 1 || got[0] != "{\"batch\":[{\"id\":1},{\"id\":2}],\"seq\":1}\n" {
		t.Fatalf("MapBatch body %q", got)
	}

	var ct string
	dest.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ct = r.Header.Get("Content-Type")
		io.Copy(io.Discard, r.Body)
	})
	sink, _ = NewHTTPSink(HTTPConfig{URL: dest.URL, Clock: newFakeClock(),
		Encode: func(w io.Writer, b *Batch, recs []json.RawMessage) (string, error) {
			fmt.Fprintf(w, "%d records", len(recs))
			return "text/plain", nil
		}})
	if err := sink.Send(context.Background(), testBatch(2)); err != nil || ct != "text/plain" {
		t.Fatalf("err %v content type %q", err, ct)
	}
}

func TestHTTPSink_MapErrorsFailOnlyTheirRecords(t *testing.T) {
	dest := newDestination(t)
	sink, _ := NewHTTPSink(HTTPConfig{URL: dest.URL, Clock: newFakeClock(),
		Map: func(r Record) (any, error) {
			switch r.Line {
			case 2:
				return nil, fmt.Errorf("no email")
			case 3:
				return nil, nil // dropped on purpose
			}
			return json.RawMessage(r.Raw), nil
		}})
	err := sink.Send(context.Background(), testBatch(4))
	recErrs, ok := err.(RecordErrors)
	if !ok || len(recErrs) != 1 || recErrs[0].Line != 2 {
		t.Fatalf("err = %v", err)
	}
	if got := dest.got(); len(got) != 1 || got[0] != `[{"id":1},{"id":4}]` {
		t.Fatalf("body %q", got)
	}
}

func TestNewHTTPSink_RejectsBadURL(t *testing.T) {
	for _, u := range []string{"", "ftp://x", "not a url", "http://"} {
		if _, err := NewHTTPSink(HTTPConfig{URL: u}); err == nil {
			t.Errorf("URL %q accepted", u)
		}
	}
}
