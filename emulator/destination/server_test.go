package destination

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
)

func newTestServer(t testing.TB, cfg Config) (*Server, *httptest.Server) {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	s := New(cfg)
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return s, srv
}

// do sends a request and decodes the JSON answer.
func do(t testing.TB, method, url string, body string, header map[string]string) (int, map[string]any, http.Header) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	json.Unmarshal(raw, &out)
	return resp.StatusCode, out, resp.Header
}

func TestDestination_CountsRecords(t *testing.T) {
	s, srv := newTestServer(t, Config{})
	for body, want := range map[string]float64{
		`[{"a":1},{"a":2},{"a":3}]`:      3,
		`{"data":[{"a":1},{"a":2}]}`:     2,
		`{"records":[{"a":1}],"meta":1}`: 1,
	} {
		code, out, _ := do(t, "POST", srv.URL+"/mock/destination", body, nil)
		if code != 200 || out["received"] != want {
			t.Errorf("POST %s: %d %v, want %v records", body, code, out, want)
		}
	}
	code, out, _ := do(t, "POST", srv.URL+"/mock/destination", `{"data":[1,}`, nil)
	if code != 400 || !strings.Contains(fmt.Sprint(out["error"]), "invalid JSON: invalid character '}'") {
		t.Errorf("invalid JSON: %d %v", code, out)
	}
	_, counters := s.Requests()
	if c := counters["/mock/destination"]; c.Requests != 4 || c.Records != 6 {
		t.Errorf("counters = %+v", c)
	}
}

func TestDestination_FaultInjection(t *testing.T) {
	rolls := []float64{0.1, 0.9}
	s, srv := newTestServer(t, Config{Rand: func() float64 { r := rolls[0]; rolls = rolls[1:]; return r }})
	code, _, h := do(t, "POST", srv.URL+"/mock/destination?status=503&retry_after=2", `[1]`, nil)
	if code != 503 || h.Get("Retry-After") != "2" {
		t.Errorf("status=503: %d Retry-After %q", code, h.Get("Retry-After"))
	}
	code, _, _ = do(t, "POST", srv.URL+"/mock/destination", `[1]`, map[string]string{"X-Mock-Status": "429"})
	if code != 429 {
		t.Errorf("X-Mock-Status: %d", code)
	}
	// fail_rate 0.5: the first roll (0.1) fails, the second (0.9) passes.
	if code, _, _ = do(t, "POST", srv.URL+"/mock/destination?fail_rate=0.5&fail_status=502", `[1]`, nil); code != 502 {
		t.Errorf("first fail_rate request: %d", code)
	}
	if code, _, _ = do(t, "POST", srv.URL+"/mock/destination?fail_rate=0.5&fail_status=502", `[1]`, nil); code != 200 {
		t.Errorf("second fail_rate request: %d", code)
	}
	if code, out, _ := do(t, "POST", srv.URL+"/mock/destination?latency=1ms", `[1,2]`, nil); code != 200 || out["received"] != 2.0 {
		t.Errorf("latency: %d %v", code, out)
	}
	if code, out, _ := do(t, "POST", srv.URL+"/mock/destination?fail_rate=2", `[1]`, nil); code != 400 || !strings.Contains(fmt.Sprint(out["error"]), "fail_rate") {
		t.Errorf("bad fault: %d %v", code, out)
	}
	reqs, _ := s.Requests()
	if reqs[len(reqs)-1].Status != 503 || reqs[len(reqs)-1].Message != "injected failure: 503" {
		t.Errorf("oldest kept request %+v", reqs[len(reqs)-1])
	}
}

func TestDestination_Rudderstack(t *testing.T) {
	_, srv := newTestServer(t, Config{})
	auth := map[string]string{"Authorization": "Basic d3JpdGUta2V5Og=="} // "write-key:"
	tests := []struct {
		name   string
		body   string
		header map[string]string
		code   int
		msg    string
	}{
		{"ok", `{"batch":[{"userId":"u1","type":"track","event":"E"},{"anonymousId":"a2"}]}`, auth, 200, ""},
		{"no auth", `{"batch":[]}`, nil, 401, "Basic auth"},
		{"no batch", `{"events":[]}`, auth, 400, `missing "batch" array`},
		{"no userId", `{"batch":[{"userId":"u1"},{"type":"track"}]}`, auth, 400, "batch[1]: userId or anonymousId is required"},
		{"bad json", `{"batch":`, auth, 400, "invalid JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, _ := do(t, "POST", srv.URL+"/mock/rudderstack", tt.body, tt.header)
			if code != tt.code || !strings.Contains(fmt.Sprint(out["error"]), tt.msg) {
				t.Errorf("%d %v, want %d %q", code, out, tt.code, tt.msg)
			}
		})
	}
}

func TestDestination_ErrorRoute(t *testing.T) {
	_, srv := newTestServer(t, Config{})
	for _, m := range []string{"GET", "POST", "PUT", "DELETE"} {
		if code, _, _ := do(t, m, srv.URL+"/mock/error/418", "", nil); code != 418 {
			t.Errorf("%s /mock/error/418 = %d", m, code)
		}
	}
	if code, _, _ := do(t, "GET", srv.URL+"/mock/error/99", "", nil); code != 400 {
		t.Errorf("/mock/error/99 = %d", code)
	}
	if code, out, _ := do(t, "GET", srv.URL+"/health", "", nil); code != 200 || out["status"] != "ok" {
		t.Errorf("/health = %d %v", code, out)
	}
}

var goodHeaders = map[string]string{"Authorization": "Bearer 2:tok:en", "X-Amperity-Tenant": "acme", "Content-Type": "application/json"}

func TestPoll_ValidRunHasNoViolations(t *testing.T) {
	s, srv := newTestServer(t, Config{})
	for _, body := range []string{
		`{"state":"running","progress":0,"errors":[],"reason":""}`,
		`{"state":"running","progress":0.5,"errors":["line 3: invalid JSON"],"reason":""}`,
		`{"state":"succeeded","progress":1,"errors":[],"reason":"99 records sent"}`,
	} {
		if code, out, _ := do(t, "PUT", srv.URL+"/mock/poll/wh-1", body, goodHeaders); code != 200 {
			t.Fatalf("%s: %d %v", body, code, out)
		}
	}
	run, ok := s.RunByID("wh-1")
	if !ok || run.State != "succeeded" || run.Progress != 1 || run.Reports != 3 || len(run.Violations) != 0 ||
		fmt.Sprint(run.Errors) != "[line 3: invalid JSON]" || run.Tenant != "acme" || len(run.Timeline) != 3 {
		t.Fatalf("run = %+v", run)
	}
	code, out, _ := do(t, "GET", srv.URL+"/api/runs/wh-1", "", nil)
	if code != 200 || out["state"] != "succeeded" || len(out["timeline"].([]any)) != 3 {
		t.Fatalf("/api/runs/wh-1 = %d %v", code, out)
	}
	if code, _, _ := do(t, "GET", srv.URL+"/api/runs/nope", "", nil); code != 404 {
		t.Fatalf("unknown run: %d", code)
	}
}

func TestPoll_Violations(t *testing.T) {
	tests := []struct {
		name    string
		method  string
		headers map[string]string
		before  []string // valid reports sent first
		body    string
		want    string
	}{
		{"post", "POST", goodHeaders, nil, `{"state":"running","progress":0,"errors":[],"reason":""}`, "must be a PUT"},
		{"no auth", "PUT", map[string]string{"X-Amperity-Tenant": "a", "Content-Type": "application/json"}, nil, `{"state":"running","progress":0,"errors":[],"reason":""}`, "Authorization header missing"},
		{"basic auth", "PUT", map[string]string{"Authorization": "Basic x", "X-Amperity-Tenant": "a", "Content-Type": "application/json"}, nil, `{"state":"running","progress":0,"errors":[],"reason":""}`, `not "Bearer <access_token>"`},
		{"no tenant", "PUT", map[string]string{"Authorization": "Bearer t", "Content-Type": "application/json"}, nil, `{"state":"running","progress":0,"errors":[],"reason":""}`, "X-Amperity-Tenant header missing"},
		{"content type", "PUT", map[string]string{"Authorization": "Bearer t", "X-Amperity-Tenant": "a", "Content-Type": "text/plain"}, nil, `{"state":"running","progress":0,"errors":[],"reason":""}`, "must be application/json"},
		{"not json", "PUT", goodHeaders, nil, `state=running`, "body is not a JSON object"},
		{"missing field", "PUT", goodHeaders, nil, `{"state":"running","progress":0,"errors":[]}`, `field "reason" missing`},
		{"extra field", "PUT", goodHeaders, nil, `{"state":"running","progress":0,"errors":[],"reason":"","status":"x"}`, `unexpected field "status"`},
		{"bad state", "PUT", goodHeaders, nil, `{"state":"done","progress":1,"errors":[],"reason":""}`, `state "done" is not running, succeeded or failed`},
		{"progress string", "PUT", goodHeaders, nil, `{"state":"running","progress":"0.5","errors":[],"reason":""}`, "must be a number"},
		{"progress range", "PUT", goodHeaders, nil, `{"state":"running","progress":1.5,"errors":[],"reason":""}`, "outside 0..1"},
		{"errors null", "PUT", goodHeaders, nil, `{"state":"running","progress":0,"errors":null,"reason":""}`, "must be an array of strings"},
		{"errors numbers", "PUT", goodHeaders, nil, `{"state":"running","progress":0,"errors":[1],"reason":""}`, "must be an array of strings"},
		{"too many errors", "PUT", goodHeaders, nil, `{"state":"running","progress":0,"errors":["1","2","3","4","5","6","7","8","9","10","11"],"reason":""}`, "errors has 11 entries"},
		{"reason number", "PUT", goodHeaders, nil, `{"state":"failed","progress":0,"errors":[],"reason":5}`, "reason is 5"},
		{"succeeded short", "PUT", goodHeaders, nil, `{"state":"succeeded","progress":0.9,"errors":[],"reason":""}`, "must have progress 1"},
		{"failed no reason", "PUT", goodHeaders, nil, `{"state":"failed","progress":0.2,"errors":[],"reason":""}`, "failed without a reason"},
		{"decreasing", "PUT", goodHeaders, []string{`{"state":"running","progress":0.6,"errors":[],"reason":""}`}, `{"state":"running","progress":0.5,"errors":[],"reason":""}`, "progress 0.5 is lower than the previous report's 0.6"},
		{"after final", "PUT", goodHeaders, []string{`{"state":"succeeded","progress":1,"errors":[],"reason":""}`}, `{"state":"failed","progress":1,"errors":[],"reason":"late"}`, "after the run already ended succeeded"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, srv := newTestServer(t, Config{})
			for _, b := range tt.before {
				if code, out, _ := do(t, "PUT", srv.URL+"/mock/poll/wh-1", b, goodHeaders); code != 200 {
					t.Fatalf("setup report: %d %v", code, out)
				}
			}
			code, out, _ := do(t, tt.method, srv.URL+"/mock/poll/wh-1", tt.body, tt.headers)
			if code != 400 || !strings.Contains(fmt.Sprint(out["violations"]), tt.want) {
				t.Fatalf("got %d %v, want 400 with %q", code, out, tt.want)
			}
			run, _ := s.RunByID("wh-1")
			if len(run.Violations) == 0 || !strings.Contains(run.Violations[0].Message, tt.want) {
				t.Fatalf("violation not kept with the run: %+v", run.Violations)
			}
		})
	}
}

func TestRequests_AuthorizationMaskedAndBodyTruncated(t *testing.T) {
	s, srv := newTestServer(t, Config{})
	big := `[` + strings.Repeat(`{"k":"vvvvvvvvvv"},`, 5000) + `{}]`
	do(t, "POST", srv.URL+"/mock/destination", big, map[string]string{"Authorization": "Bearer sup3r-s3cret", "X-Api-Key": "k3y"})
	reqs, _ := s.Requests()
	r := reqs[0]
	if r.Headers["Authorization"] != "Bearer ****" || r.Headers["X-Api-Key"] != "****" {
		t.Errorf("headers %v", r.Headers)
	}
	if !r.BodyTruncated || len(r.Body) != maxBody || r.Bytes != int64(len(big)) || r.Records != 5001 {
		t.Errorf("truncated %v body %d bytes %d records %d", r.BodyTruncated, len(r.Body), r.Bytes, r.Records)
	}
	_, _, _ = do(t, "GET", srv.URL+"/api/requests", "", nil)
	resp, _ := http.Get(srv.URL + "/api/requests")
	raw, _ := io.ReadAll(resp.Body)
	if bytes.Contains(raw, []byte("sup3r-s3cret")) || bytes.Contains(raw, []byte("k3y")) {
		t.Error("/api/requests shows a secret")
	}
}

func TestRequests_MemoryStaysBounded(t *testing.T) {
	s, srv := newTestServer(t, Config{MaxRequests: 100, MaxRuns: 50})
	body := `{"data":[` + strings.Repeat(`{"k":"v"},`, 1000) + `{}]}`
	heap := func() uint64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	send := func(n int, offset int) {
		for i := range n {
			do(t, "POST", srv.URL+"/mock/destination", body, nil)
			do(t, "PUT", srv.URL+fmt.Sprintf("/mock/poll/wh-%d", offset+i), `{"state":"running","progress":0,"errors":[],"reason":""}`, goodHeaders)
		}
	}
	send(300, 0)
	after300 := heap()
	send(1500, 300)
	after1800 := heap()
	reqs, counters := s.Requests()
	if len(reqs) != 100 || len(s.Runs()) != 50 {
		t.Fatalf("kept %d requests, %d runs", len(reqs), len(s.Runs()))
	}
	if c := counters["/mock/destination"]; c.Requests != 1800 || c.Records != 1800*1001 {
		t.Fatalf("counters not exact: %+v", c)
	}
	// Six times the traffic, same retained size (allowing for noise).
	if after1800 > after300+after300/2 {
		t.Fatalf("heap grew from %d to %d KB", after300>>10, after1800>>10)
	}
}

// BenchmarkDestination measures /mock/destination on 500 KB bodies, the
// size of the runner's default batch of 1 KB records.
//
//	go test -run '^$' -bench Destination ./emulator/destination
func BenchmarkDestination(b *testing.B) {
	_, srv := newTestServer(b, Config{})
	rec := `{"id":"` + strings.Repeat("x", 1000) + `"}`
	body := []byte(`{"data":[` + strings.Repeat(rec+",", 499) + rec + `]}`)
	client := srv.Client()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		resp, err := client.Post(srv.URL+"/mock/destination", "application/json", bytes.NewReader(body))
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			b.Fatal(resp.Status)
		}
	}
}
