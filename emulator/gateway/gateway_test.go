package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// lockedBuffer collects terminal output from many goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func copyFile(t testing.TB, from, to string) {
	t.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Dir(to), 0o755)
	if err := os.WriteFile(to, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// testRoot makes a module root holding the test handlers, with the
// repository's go.mod so they build against the same dependencies.
func testRoot(t testing.TB) string {
	t.Helper()
	root := t.TempDir()
	copyFile(t, "../../go.mod", filepath.Join(root, "go.mod"))
	copyFile(t, "../../go.sum", filepath.Join(root, "go.sum"))
	filepath.WalkDir("testdata/handlers", func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel("testdata", path)
			copyFile(t, path, filepath.Join(root, rel))
		}
		return nil
	})
	os.WriteFile(filepath.Join(root, ".env"), []byte("FROM_ROOT_ENV=yes\nOVERRIDDEN=from-root-env\n"), 0o644)
	return root
}

type testGateway struct {
	*Gateway
	srv  *httptest.Server
	out  *lockedBuffer
	root string
}

func newTestGateway(t testing.TB, mutate func(*Config)) *testGateway {
	t.Helper()
	root := testRoot(t)
	out := &lockedBuffer{}
	cfg := Config{Root: root, Output: out, Logger: slog.New(slog.DiscardHandler), S3URL: "http://127.0.0.1:4566",
		Environ: append(os.Environ(), "FROM_DEVSERVER=yes", "AWS_ACCESS_KEY_ID=", "AWS_PROFILE=")}
	if mutate != nil {
		mutate(&cfg)
	}
	g, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(g)
	g.cfg.URL = srv.URL
	t.Cleanup(func() { srv.Close(); g.Close() })
	return &testGateway{Gateway: g, srv: srv, out: out, root: root}
}

// post sends a request and returns status, headers and body.
func post(t testing.TB, url, body string) (int, http.Header, []byte) {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b
}

func TestGateway_ProxyRunsHandlerAsProcess(t *testing.T) {
	g := newTestGateway(t, nil)
	code, h, body := post(t, g.srv.URL+"/lambda/echo/sub/path?x=1&x=2&y=3", `{"hello":"world"}`)
	if code != 201 || h.Get("X-Echo") != "yes" {
		t.Fatalf("%d %v %s", code, h, body)
	}
	var out struct {
		Event struct {
			HTTPMethod                      string              `json:"httpMethod"`
			Path                            string              `json:"path"`
			Resource                        string              `json:"resource"`
			Body                            string              `json:"body"`
			MultiValueQueryStringParameters map[string][]string `json:"multiValueQueryStringParameters"`
			Headers                         map[string]string   `json:"headers"`
			RequestContext                  struct {
				RequestID string `json:"requestId"`
				Stage     string `json:"stage"`
				Identity  struct {
					SourceIP string `json:"sourceIp"`
				} `json:"identity"`
			} `json:"requestContext"`
		} `json:"event"`
		Env       map[string]string `json:"env"`
		RequestID string            `json:"request_id"`
		ARN       string            `json:"arn"`
		Deadline  float64           `json:"deadline_s"`
	}
	if err := json.Unmarshal(body, &out); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
	ev := out.Event
	if ev.HTTPMethod != "POST" || ev.Path != "/lambda/echo/sub/path" || ev.Resource != "/lambda/echo/{proxy+}" || ev.Body != `{"hello":"world"}` ||
		fmt.Sprint(ev.MultiValueQueryStringParameters["x"]) != "[1 2]" || ev.Headers["Content-Type"] != "application/json" ||
		ev.RequestContext.RequestID == "" || ev.RequestContext.Stage != "local" || ev.RequestContext.Identity.SourceIP != "127.0.0.1" {
		t.Errorf("event = %+v", ev)
	}
	want := map[string]string{
		"AWS_LAMBDA_FUNCTION_NAME": "echo", "AWS_LAMBDA_FUNCTION_TIMEOUT": "900", "AWS_ENDPOINT_URL_LAMBDA": g.srv.URL,
		"AWS_ENDPOINT_URL_S3": "http://127.0.0.1:4566", "AWS_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "devserver",
		"FROM_ROOT_ENV": "yes", "OVERRIDDEN": "from-handler-env", "FROM_DEVSERVER": "yes",
	}
	for k, v := range want {
		if out.Env[k] != v {
			t.Errorf("env %s = %q, want %q", k, out.Env[k], v)
		}
	}
	if out.RequestID == "" || !strings.HasSuffix(out.ARN, ":function:echo") || out.Deadline < 890 {
		t.Errorf("context: request %q arn %q deadline %v", out.RequestID, out.ARN, out.Deadline)
	}
	logs := g.out.String()
	for _, want := range []string{"echo " + out.RequestID[:8] + " | START RequestId: " + out.RequestID, "echo got", "END RequestId: " + out.RequestID, "REPORT RequestId: " + out.RequestID, "Init Duration:"} {
		if !strings.Contains(logs, want) {
			t.Errorf("terminal lacks %q:\n%s", want, logs)
		}
	}
	invs := g.Invocations()
	if len(invs) != 1 || invs[0].Outcome != OutcomeSuccess || !invs[0].Cold || !strings.Contains(invs[0].LogTail, "echo got") {
		t.Errorf("invocations %+v", invs)
	}
}

func TestGateway_UnknownAndInvalidNames(t *testing.T) {
	g := newTestGateway(t, nil)
	code, _, body := post(t, g.srv.URL+"/lambda/nope", `{}`)
	var out struct {
		Handlers []string `json:"handlers"`
	}
	json.Unmarshal(body, &out)
	if code != 404 || fmt.Sprint(out.Handlers) != "[echo initfail misbehave recurse version]" {
		t.Fatalf("%d %s", code, body)
	}
	for _, name := range []string{"bad.name", "a%2F..%2Fb", "%2e%2e"} {
		if code, _, _ := post(t, g.srv.URL+"/lambda/"+name, `{}`); code != 404 {
			t.Errorf("name %q: %d", name, code)
		}
	}
	if g.function("../echo") != nil || g.function("echo/..") != nil {
		t.Error("a path-like name reached the file system")
	}
}

func TestGateway_TimeoutKillsProcessAndNextRequestColdStarts(t *testing.T) {
	g := newTestGateway(t, nil)
	code, _, body := post(t, g.srv.URL+"/lambda/misbehave", `{"do":"sleep"}`)
	if code != 502 || !strings.Contains(string(body), "Task timed out after 1.00 seconds") {
		t.Fatalf("%d %s", code, body)
	}
	if n := g.function("misbehave").live(); n != 0 {
		t.Errorf("%d processes still alive after the timeout", n)
	}
	code, _, body = post(t, g.srv.URL+"/lambda/misbehave", `{"do":"notproxy"}`)
	if code != 502 || !strings.Contains(string(body), "Malformed Lambda proxy response") {
		t.Fatalf("after timeout: %d %s", code, body)
	}
	invs := g.Invocations()
	if invs[1].Outcome != OutcomeTimeout || !invs[0].Cold {
		t.Errorf("invocations %+v", invs)
	}
}

func TestGateway_CrashesAreReportedAndServingGoesOn(t *testing.T) {
	g := newTestGateway(t, nil)
	tests := []struct {
		do, want, outcome string
	}{
		{"panic", "deliberate panic", OutcomeError},
		{"exit", "Runtime.ExitError", OutcomeCrash},
		{"error", "deliberate error", OutcomeError},
	}
	for _, tt := range tests {
		t.Run(tt.do, func(t *testing.T) {
			code, _, body := post(t, g.srv.URL+"/lambda/misbehave", fmt.Sprintf(`{"do":%q}`, tt.do))
			if code != 502 || !strings.Contains(string(body), tt.want) {
				t.Fatalf("%d %s", code, body)
			}
			if tt.do == "exit" && !strings.Contains(string(body), "about to exit with status 2") {
				t.Errorf("ExitError lacks the output tail: %s", body)
			}
			if got := g.Invocations()[0].Outcome; got != tt.outcome {
				t.Errorf("outcome %s, want %s", got, tt.outcome)
			}
			// The gateway still serves the function.
			if code, _, body := post(t, g.srv.URL+"/2015-03-31/functions/misbehave/invocations", `{"do":"ok"}`); code != 200 || string(body) != `{"did":"ok"}` {
				t.Fatalf("after %s: %d %s", tt.do, code, body)
			}
		})
	}
}

func TestGateway_InitErrorCarriesOutput(t *testing.T) {
	g := newTestGateway(t, nil)
	code, _, body := post(t, g.srv.URL+"/lambda/initfail", `{}`)
	if code != 502 || !strings.Contains(string(body), "Runtime exited before its first invocation") || !strings.Contains(string(body), "DESTINATION_URL is required") {
		t.Fatalf("%d %s", code, body)
	}
	inv := g.Invocations()[0]
	if inv.Outcome != OutcomeInitError || !strings.Contains(inv.LogTail, "DESTINATION_URL is required") {
		t.Fatalf("invocation %+v", inv)
	}
}

func TestGateway_ConcurrentRequestsRunInParallelProcesses(t *testing.T) {
	const n = 5
	g := newTestGateway(t, nil)
	// A barrier every invocation calls: it answers only once all n are
	// inside their handler, so a gateway that serialised them would hang.
	var mu sync.Mutex
	arrived := 0
	release := make(chan struct{})
	barrier := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		arrived++
		if arrived == n {
			close(release)
		}
		mu.Unlock()
		select {
		case <-release:
		case <-time.After(30 * time.Second):
			http.Error(w, "barrier not reached", 500)
		}
	}))
	defer barrier.Close()

	var wg sync.WaitGroup
	pids := make([]float64, n)
	for i := range n {
		wg.Go(func() {
			code, _, body := post(t, g.srv.URL+"/2015-03-31/functions/echo/invocations", fmt.Sprintf(`{"barrier":%q}`, barrier.URL))
			var out struct {
				Pid float64 `json:"pid"`
			}
			json.Unmarshal(body, &out)
			if code != 200 {
				t.Errorf("request %d: %d %s", i, code, body)
			}
			pids[i] = out.Pid
		})
	}
	wg.Wait()
	seen := map[float64]bool{}
	for _, p := range pids {
		seen[p] = true
	}
	if len(seen) != n || g.function("echo").live() != n {
		t.Fatalf("pids %v, live %d", pids, g.function("echo").live())
	}
}

func TestGateway_ConcurrencyLimitQueues(t *testing.T) {
	g := newTestGateway(t, func(c *Config) { c.MaxConcurrency = 2 })
	var wg sync.WaitGroup
	for range 6 {
		wg.Go(func() {
			if code, _, body := post(t, g.srv.URL+"/2015-03-31/functions/echo/invocations", `{}`); code != 200 {
				t.Errorf("%d %s", code, body)
			}
		})
	}
	wg.Wait()
	if n := g.function("echo").live(); n > 2 {
		t.Fatalf("%d processes for a limit of 2", n)
	}
}

func TestGateway_HotReload(t *testing.T) {
	g := newTestGateway(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := g.Watch(ctx); err != nil {
		t.Fatal(err)
	}
	invoke := func() (int, string) {
		code, _, body := post(t, g.srv.URL+"/lambda/version", `{}`)
		return code, string(body)
	}
	eventually := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("%s: not within 60 s", what)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	callVersion := func() string {
		_, _, body := post(t, g.srv.URL+"/2015-03-31/functions/version/invocations", `{}`)
		return string(body)
	}
	if got := callVersion(); got != `"v1"` {
		t.Fatalf("first version %s", got)
	}
	src := filepath.Join(g.root, "handlers", "version", "main.go")
	orig, _ := os.ReadFile(src)
	write := func(s string) { os.WriteFile(src, []byte(s), 0o644) }

	write(strings.Replace(string(orig), `"v1"`, `"v2"`, 1))
	eventually("new code live", func() bool { return callVersion() == `"v2"` })

	write(strings.Replace(string(orig), `const version = "v1"`, `const version = v1 +`, 1))
	eventually("build error returned", func() bool {
		code, body := invoke()
		return code == 502 && strings.Contains(body, "does not compile") && strings.Contains(body, "main.go")
	})
	if n := strings.Count(g.out.String(), "version | build failed"); n != 1 {
		t.Errorf("build error printed %d times, want once:\n%s", n, g.out.String())
	}
	if len(g.BuildErrors()) != 1 {
		t.Errorf("build errors %v", g.BuildErrors())
	}

	write(strings.Replace(string(orig), `"v1"`, `"v3"`, 1))
	eventually("recovered after the fix", func() bool { return callVersion() == `"v3"` })
	if len(g.BuildErrors()) != 0 {
		t.Errorf("build error still listed after the fix")
	}
}

func TestGateway_ProxyLimits(t *testing.T) {
	g := newTestGateway(t, nil)
	code, _, _ := post(t, g.srv.URL+"/lambda/echo", strings.Repeat("x", maxProxyBody+1))
	if code != 413 {
		t.Fatalf("oversized body: %d", code)
	}
	code, _, body := post(t, g.srv.URL+"/lambda/misbehave", `{"do":"big"}`)
	if code != 502 || !strings.Contains(string(body), "Function.ResponseSizeTooLarge") {
		t.Fatalf("oversized response: %d %.300s", code, body)
	}
}

func TestGateway_HealthAndInvocationsAPI(t *testing.T) {
	g := newTestGateway(t, nil)
	post(t, g.srv.URL+"/lambda/echo", `{}`)
	resp, err := http.Get(g.srv.URL + "/api/invocations")
	if err != nil {
		t.Fatal(err)
	}
	var out struct {
		Invocations []Invocation `json:"invocations"`
	}
	json.NewDecoder(resp.Body).Decode(&out)
	resp.Body.Close()
	if len(out.Invocations) != 1 || out.Invocations[0].Function != "echo" || out.Invocations[0].RequestID == "" || out.Invocations[0].Duration <= 0 {
		t.Fatalf("%+v", out)
	}
	resp, _ = http.Get(g.srv.URL + "/health")
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(b), `"ok"`) {
		t.Fatalf("health %d %s", resp.StatusCode, b)
	}
}

// sleepBriefly is the polling interval of waitFor.
func sleepBriefly() { time.Sleep(10 * time.Millisecond) }

func TestGateway_ProxyBinaryBodiesAreBase64(t *testing.T) {
	g := newTestGateway(t, nil)
	req, _ := http.NewRequest("POST", g.srv.URL+"/lambda/echo", bytes.NewReader([]byte{0xff, 0x00, 0x01}))
	req.Header.Set("Content-Type", "application/octet-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Event struct {
			Body            string `json:"body"`
			IsBase64Encoded bool   `json:"isBase64Encoded"`
		} `json:"event"`
	}
	json.NewDecoder(resp.Body).Decode(&out)
	if !out.Event.IsBase64Encoded || out.Event.Body != "/wAB" {
		t.Fatalf("event body %+v", out.Event)
	}
}

func TestGateway_IdleProcessesAreStopped(t *testing.T) {
	g := newTestGateway(t, func(c *Config) { c.IdleTimeout = time.Minute })
	post(t, g.srv.URL+"/lambda/echo", `{}`)
	f := g.function("echo")
	if f.live() != 1 {
		t.Fatalf("live %d", f.live())
	}
	f.reapIdle(time.Now().Add(30 * time.Second))
	if f.live() != 1 {
		t.Fatal("stopped before its idle timeout")
	}
	f.reapIdle(time.Now().Add(2 * time.Minute))
	waitFor(t, "idle process stopped", func() bool { return f.live() == 0 })
}

func TestGateway_ChangeOutsideHandlersRebuildsAll(t *testing.T) {
	g := newTestGateway(t, nil)
	echo, version := g.function("echo"), g.function("version")
	gen := func(f *function) int {
		f.mu.Lock()
		defer f.mu.Unlock()
		return f.wantGen
	}
	e0, v0 := gen(echo), gen(version)
	g.rebuildFor(map[string]bool{filepath.Join(g.root, "handlers", "echo", "main.go"): true})
	if gen(echo) != e0+1 || gen(version) != v0 {
		t.Fatalf("handler change: echo %d->%d, version %d->%d", e0, gen(echo), v0, gen(version))
	}
	g.rebuildFor(map[string]bool{filepath.Join(g.root, "runner", "runner.go"): true})
	if gen(echo) != e0+2 || gen(version) != v0+1 {
		t.Fatalf("shared change: echo %d->%d, version %d->%d", e0, gen(echo), v0, gen(version))
	}
}

func countInvocations(g *testGateway, name string) (run, dropped int) {
	for _, inv := range g.Invocations() {
		if inv.Function != name {
			continue
		}
		if inv.Outcome == OutcomeDropped {
			dropped++
		} else {
			run++
		}
	}
	return run, dropped
}

func TestGateway_StopsRecursiveLoopsLikeAWS(t *testing.T) {
	g := newTestGateway(t, func(c *Config) { c.Environ = append(c.Environ, "AWS_CA_BUNDLE=") })
	if code, _, body := post(t, g.srv.URL+"/2015-03-31/functions/recurse/invocations", `{"n":0,"limit":1000}`); code != 200 {
		t.Fatalf("%d %s", code, body)
	}
	// The drop is recorded as soon as the 17th invocation asks for an
	// 18th, which may be before the 17th itself has ended: wait for both.
	waitFor(t, "loop dropped after 17 invocations", func() bool {
		run, dropped := countInvocations(g, "recurse")
		if run > maxRecursion+1 || dropped > 1 {
			t.Fatalf("%d invocations ran, %d dropped: the loop was not stopped at %d", run, dropped, maxRecursion+1)
		}
		return run == maxRecursion+1 && dropped == 1
	})
	if !strings.Contains(g.out.String(), "recursive loop detected") || !strings.Contains(g.out.String(), "LAMBDA_RECURSIVE_LOOP=Allow") {
		t.Fatalf("no clear log line:\n%s", g.out.String())
	}
}

func TestGateway_RecursionAllowedByHandlerConfig(t *testing.T) {
	g := newTestGateway(t, func(c *Config) { c.Environ = append(c.Environ, "AWS_CA_BUNDLE=") })
	os.WriteFile(filepath.Join(g.root, "handlers", "recurse", ".env"), []byte("LAMBDA_RECURSIVE_LOOP=Allow\n"), 0o644)
	post(t, g.srv.URL+"/2015-03-31/functions/recurse/invocations", `{"n":0,"limit":20}`)
	waitFor(t, "chain of 21 invocations", func() bool { run, _ := countInvocations(g, "recurse"); return run == 21 })
	if _, dropped := countInvocations(g, "recurse"); dropped != 0 {
		t.Fatalf("%d dropped despite LAMBDA_RECURSIVE_LOOP=Allow", dropped)
	}
}
