package webui

import (
	"bufio"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/amperity/lambda-runner-go/emulator/destination"
)

type world struct {
	dest *httptest.Server // the mock destination
	page *httptest.Server // the web page
	ui   *Server
}

func newWorld(t testing.TB, maxRuns int) *world {
	t.Helper()
	var ui *Server
	d := destination.New(destination.Config{Logger: slog.New(slog.DiscardHandler), MaxRuns: maxRuns, MaxRequests: maxRuns,
		OnChange: func(kind, id string) {
			if ui != nil {
				ui.Notify(kind+"s", id)
			}
		}})
	dest := httptest.NewServer(d)
	t.Cleanup(dest.Close)
	var err error
	ui, err = New(Sources{Destination: d, DestinationURL: dest.URL, GatewayURL: "http://gw", S3URL: "http://s3"})
	if err != nil {
		t.Fatal(err)
	}
	page := httptest.NewServer(ui)
	t.Cleanup(page.Close)
	return &world{dest: dest, page: page, ui: ui}
}

func (w *world) report(t testing.TB, id, token, body string) {
	t.Helper()
	req, _ := http.NewRequest("PUT", w.dest.URL+"/mock/poll/"+id, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("X-Amperity-Tenant", "acme")
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
}

func (w *world) records(t testing.TB, id, body string) {
	t.Helper()
	req, _ := http.NewRequest("POST", w.dest.URL+"/mock/destination", strings.NewReader(body))
	req.Header.Set(destination.WebhookHeader, id)
	req.Header.Set("Authorization", "Basic c2VjcmV0LWtleTo=") // "secret-key:"
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
}

func get(t testing.TB, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

const hostile = `{"data":[{"id":"x1","note":"<script>alert(1)</script><img src=x onerror=alert(2)>","token_echo":"2:s3cret-token:zz"}]}`

func populate(t testing.TB, w *world) {
	w.report(t, "wh-1", "2:s3cret-token:zz", `{"state":"running","progress":0,"errors":[],"reason":""}`)
	w.records(t, "wh-1", hostile)
	w.report(t, "wh-1", "2:s3cret-token:zz", `{"state":"running","progress":0.5,"errors":["line 2: <b>bad</b>"],"reason":""}`)
	w.report(t, "wh-1", "2:s3cret-token:zz", `{"state":"succeeded","progress":0.9,"errors":[],"reason":"done"}`)
}

func TestPages_ShowRunsRequestsAndViolations(t *testing.T) {
	w := newWorld(t, 100)
	populate(t, w)
	pages := map[string][]string{
		"/": {"1 run.", `href="/runs/wh-1"`, `state-succeeded`, `value="90"`, "1 violation", `<td class="num">1</td>`},
		"/runs/wh-1": {"<title>Run wh-1 · devserver</title>", "must have progress 1", "Report 3", "line 2: &lt;b&gt;bad&lt;/b&gt;",
			"Destination requests for this run", "/mock/destination"},
		"/requests":    {"/mock/poll/{webhook_id}", "Authorization", "Basic ****", "Bearer ****", "1 records"},
		"/invocations": {"No invocation yet"},
		"/s3":          {"The bucket is empty"},
	}
	for path, wants := range pages {
		code, body := get(t, w.page.URL+path)
		if code != 200 {
			t.Errorf("%s: %d", path, code)
		}
		for _, want := range wants {
			if !strings.Contains(body, want) {
				t.Errorf("%s lacks %q", path, want)
			}
		}
		for _, secret := range []string{"s3cret-token", "c2VjcmV0LWtleTo", "secret-key", "<script>alert", "<img src=x"} {
			if strings.Contains(body, secret) {
				t.Errorf("%s shows %q", path, secret)
			}
		}
	}
	if code, _ := get(t, w.page.URL+"/runs/nope"); code != 404 {
		t.Errorf("unknown run: %d", code)
	}
	// Fragments hold the same escaped content.
	_, frag := get(t, w.page.URL+"/fragment/runs/wh-1")
	if !strings.Contains(frag, "&lt;script&gt;alert(1)&lt;/script&gt;") || strings.Contains(frag, "<html") {
		t.Errorf("run fragment: %.300s", frag)
	}
	_, css := get(t, w.page.URL+"/static/style.css")
	if !strings.Contains(css, "prefers-color-scheme: dark") {
		t.Error("stylesheet not served")
	}
}

func TestEvents_StreamANewReport(t *testing.T) {
	w := newWorld(t, 100)
	resp, err := http.Get(w.page.URL + "/events")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("content type %q", ct)
	}
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	// The stream is subscribed once its first comment arrives.
	if l := <-lines; !strings.HasPrefix(l, "retry:") {
		t.Fatalf("first line %q", l)
	}
	w.report(t, "wh-live", "tok", `{"state":"running","progress":0,"errors":[],"reason":""}`)
	deadline := time.After(10 * time.Second)
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatal("stream closed")
			}
			if l == "event: runs" {
				if data := <-lines; !strings.Contains(data, `"id":"wh-live"`) {
					t.Fatalf("data %q", data)
				}
				return
			}
		case <-deadline:
			t.Fatal("no runs event within 10 s")
		}
	}
}

func TestPages_StayBoundedWithTenThousandRuns(t *testing.T) {
	w := newWorld(t, 10000)
	for i := range 10000 {
		w.report(t, fmt.Sprintf("wh-%05d", i), "tok", `{"state":"running","progress":0,"errors":[],"reason":""}`)
	}
	_, body := get(t, w.page.URL+"/")
	if !strings.Contains(body, "Showing the newest 200 of 10000 runs") || strings.Count(body, "<tr data-run=") != 200 {
		t.Fatalf("rows: %d", strings.Count(body, "<tr data-run="))
	}
}

// BenchmarkRunsPage renders the home page with 10,000 runs held.
//
//	go test -run '^$' -bench RunsPage ./emulator/webui
func BenchmarkRunsPage(b *testing.B) {
	w := newWorld(b, 10000)
	for i := range 10000 {
		w.report(b, fmt.Sprintf("wh-%05d", i), "tok", `{"state":"running","progress":0.5,"errors":[],"reason":""}`)
	}
	for b.Loop() {
		if code, _ := get(b, w.page.URL+"/"); code != 200 {
			b.Fatal(code)
		}
	}
}
