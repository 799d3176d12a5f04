package runner

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func newTestReporter(t *testing.T, url string, client *http.Client, clock *fakeClock) *reporter {
	return &reporter{
		client: client, url: url, tenant: "acme", token: "2:tok:en",
		interval: 5 * time.Second,
		retry:    newRetrier(Backoff{}, clock, func() float64 { return 0.5 }),
		log:      discardLogger,
	}
}

func TestReporter_ThrottlesProgressByTime(t *testing.T) {
	amp := newAmperity(t)
	clock := newFakeClock()
	rep := newTestReporter(t, amp.URL+"/wh-1", amp.Client(), clock)
	ctx := context.Background()

	if err := rep.start(ctx); err != nil {
		t.Fatal(err)
	}
	// 30 updates one second apart: a report every 5 s at most.
	for i := 1; i <= 30; i++ {
		clock.advance(time.Second)
		rep.setProgress(float64(i) / 40)
		rep.report(ctx, false)
	}
	rep.setProgress(0.1) // lower values never lower progress
	rep.finish(ctx, Succeeded, "done")
	rep.finish(ctx, Failed, "second final report must not be sent")

	reports := amp.got()
	// start + reports at t=5,10,...,30 + final.
	if len(reports) != 1+6+1 {
		t.Fatalf("got %d reports: %+v", len(reports), reports)
	}
	want := []float64{0, 5.0 / 40, 10.0 / 40, 15.0 / 40, 20.0 / 40, 25.0 / 40, 30.0 / 40, 1}
	for i, r := range reports {
		if r.Progress != want[i] {
			t.Errorf("report %d progress %v, want %v", i, r.Progress, want[i])
		}
	}
	if last := reports[len(reports)-1]; last.State != Succeeded || last.Reason != "done" {
		t.Errorf("final = %+v", last)
	}
}

func TestReporter_AtMostTenErrorsAReport(t *testing.T) {
	amp := newAmperity(t)
	clock := newFakeClock()
	rep := newTestReporter(t, amp.URL+"/wh-1", amp.Client(), clock)
	ctx := context.Background()
	rep.start(ctx)
	for i := 1; i <= 25; i++ {
		rep.errorf("line %d: bad", i)
	}
	rep.report(ctx, true)
	rep.errorf("line 26: bad")
	rep.finish(ctx, Succeeded, "")

	reports := amp.got()
	if len(reports) != 3 {
		t.Fatalf("reports %+v", reports)
	}
	errs := reports[1].Errors
	if len(errs) != 10 || errs[0] != "line 1: bad" || errs[8] != "line 9: bad" || errs[9] != "16 more errors not shown" {
		t.Errorf("second report errors = %q", errs)
	}
	if fmt.Sprint(reports[2].Errors) != "[line 26: bad]" {
		t.Errorf("final errors = %q (only those since the previous report)", reports[2].Errors)
	}
}

func TestReporter_RetriesOverHTTPSHonouringRetryAfter(t *testing.T) {
	var hits int
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits++
		if hits == 1 {
			w.Header().Set("Retry-After", "7")
			http.Error(w, "slow down", http.StatusTooManyRequests)
			return
		}
		if r.Header.Get("Authorization") != "Bearer 2:tok:en" {
			http.Error(w, "no auth", http.StatusUnauthorized)
		}
	}))
	defer srv.Close()
	clock := newFakeClock()
	rep := newTestReporter(t, srv.URL+"/wh-1", srv.Client(), clock)
	if err := rep.start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := clock.sleeps(); hits != 2 || len(got) != 1 || got[0] != 7*time.Second {
		t.Fatalf("hits %d sleeps %v", hits, got)
	}
}

func TestReporter_ClientErrorIsNotRetried(t *testing.T) {
	amp := newAmperity(t)
	amp.fail = func(int) int { return http.StatusUnauthorized }
	rep := newTestReporter(t, amp.URL+"/wh-1", amp.Client(), newFakeClock())
	err := rep.start(context.Background())
	if err == nil || !strings.Contains(err.Error(), "401 Unauthorized") || amp.hits != 1 {
		t.Fatalf("err %v after %d attempts", err, amp.hits)
	}
}

func TestReporter_NetworkErrorsAreRetried(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close() // nothing listens there any more
	clock := newFakeClock()
	rep := newTestReporter(t, url+"/wh-1", http.DefaultClient, clock)
	err := rep.start(context.Background())
	if err == nil || !strings.Contains(err.Error(), "gave up after 5 attempts") || len(clock.sleeps()) != 4 {
		t.Fatalf("err %v sleeps %v", err, clock.sleeps())
	}
}

func TestBackoff_GrowsAndCaps(t *testing.T) {
	b := Backoff{Initial: time.Second, Max: 4 * time.Second}.withDefaults()
	var got []time.Duration
	for n := 1; n <= 5; n++ {
		got = append(got, b.delay(n, 0.999999))
	}
	want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 4 * time.Second, 4 * time.Second}
	for i := range want {
		if got[i] < want[i]*99/100 || got[i] > want[i] {
			t.Errorf("delay %d = %v, want about %v", i+1, got[i], want[i])
		}
	}
	if d := b.delay(1, 0); d != 500*time.Millisecond {
		t.Errorf("smallest jitter gives %v, want half the delay", d)
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for v, want := range map[string]time.Duration{
		"3":                             3 * time.Second,
		"Thu, 01 Jan 2026 00:00:10 GMT": 10 * time.Second,
		"Wed, 31 Dec 2025 00:00:10 GMT": 0,
	} {
		got, ok := retryAfter(http.Header{"Retry-After": {v}}, now)
		if !ok || got != want {
			t.Errorf("retryAfter(%q) = %v %v, want %v", v, got, ok, want)
		}
	}
	if _, ok := retryAfter(http.Header{"Retry-After": {"soon"}}, now); ok {
		t.Error("garbage accepted")
	}
}
