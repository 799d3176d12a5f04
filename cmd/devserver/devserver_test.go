package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/amperity/lambda-runner-go/emulator/destination"
	"github.com/amperity/lambda-runner-go/runner"
)

func TestParseConfig_Precedence(t *testing.T) {
	dir := t.TempDir()
	envFile := filepath.Join(dir, ".env")
	os.WriteFile(envFile, []byte("S3_PORT=1111\nDESTINATION_PORT=2222\nS3_BUCKET=from-file\n"), 0o600)
	env := map[string]string{"ENV_FILE": envFile, "DESTINATION_PORT": "3333", "S3_BUCKET": "from-env"}
	cfg, err := parseConfig("t", []string{"--bucket", "from-flag"}, func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.S3Port != 1111 || cfg.DestinationPort != 3333 || cfg.Bucket != "from-flag" || cfg.Addr != "127.0.0.1" || !cfg.envFound {
		t.Fatalf("config %+v", cfg)
	}
}

func TestParseConfig_MalformedEnvFileNamesTheLine(t *testing.T) {
	envFile := filepath.Join(t.TempDir(), ".env")
	os.WriteFile(envFile, []byte("A=1\nthis is wrong\n"), 0o600)
	_, err := parseConfig("t", []string{"--env-file", envFile}, func(string) string { return "" }, io.Discard)
	if err == nil || !strings.Contains(err.Error(), ".env:2:") {
		t.Fatalf("err = %v", err)
	}
}

func TestParseConfig_BadPortValue(t *testing.T) {
	_, err := parseConfig("t", nil, func(k string) string {
		if k == "S3_PORT" {
			return "lots"
		}
		return ""
	}, io.Discard)
	if err == nil || !strings.Contains(err.Error(), `S3_PORT="lots" is not a number`) {
		t.Fatalf("err = %v", err)
	}
}

// testConfig binds every service to an ephemeral port.
func testConfig(t *testing.T) config {
	cfg := defaultConfig()
	cfg.GatewayPort, cfg.S3Port, cfg.DestinationPort = 0, 0, 0
	cfg.Root = filepath.Join("..", "..")
	cfg.FixturesDir = filepath.Join("..", "..", "fixtures")
	cfg.EnvFile = filepath.Join(t.TempDir(), "none")
	return cfg
}

func TestStart_PortInUse(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	cfg := testConfig(t)
	cfg.DestinationPort = busy.Addr().(*net.TCPAddr).Port
	_, err = start(context.Background(), cfg, slog.New(slog.DiscardHandler), io.Discard)
	want := fmt.Sprintf("port %d (destination) is already in use: pick another with --destination-port or DESTINATION_PORT", cfg.DestinationPort)
	if err == nil || err.Error() != want {
		t.Fatalf("err = %v\nwant %s", err, want)
	}
}

// lockedBuffer is a buffer safe to read while another goroutine writes.
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

// serveTest starts a devserver on ephemeral ports for one test, stopped
// when the test ends; out receives handler output.
func serveTest(t *testing.T, cfg config, out io.Writer) *devserver {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	d, err := start(ctx, cfg, slog.New(slog.DiscardHandler), out)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- d.serve(ctx) }()
	t.Cleanup(func() { cancel(); <-served })
	return d
}

func waitFor(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, within)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestServeCommand_ReadyLinesAndGracefulShutdown(t *testing.T) {
	envFile := filepath.Join(t.TempDir(), ".env")
	os.WriteFile(envFile, []byte("DESTINATION_URL=http://x\n"), 0o600)
	ctx, cancel := context.WithCancel(context.Background())
	var out lockedBuffer
	done := make(chan error, 1)
	go func() {
		done <- serveCommand(ctx, []string{"--gateway-port", "0", "--s3-port", "0", "--destination-port", "0", "--fixtures", "../../fixtures", "--env-file", envFile, "--root", "../.."}, &out, io.Discard)
	}()
	waitFor(t, 10*time.Second, "ready line", func() bool { return strings.Contains(out.String(), "ready.") })
	text := out.String()
	for _, want := range []string{"read " + envFile + " (1 variables: DESTINATION_URL)", "gateway      http://127.0.0.1:", "capture, connect_profiles, dataverse, demo, redshift, rudderstack, sms, template", "s3           http://127.0.0.1:",
		"bucket test-bucket", "destination  http://127.0.0.1:", "/lambda/template", "/test-bucket/sample.ndjson"} {
		if !strings.Contains(text, want) {
			t.Errorf("output lacks %q:\n%s", want, text)
		}
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no shutdown within 5 s")
	}
}

// TestDevserver_RunnerEndToEnd runs the real runner against the devserver's
// S3 and destination: the fixture's records arrive and the run is valid.
func TestDevserver_RunnerEndToEnd(t *testing.T) {
	d := serveTest(t, testConfig(t), io.Discard)

	s3URL, destURL := d.service("s3").url(), d.service("destination").url()
	for _, tc := range []struct {
		fixture          string
		records, invalid int
	}{{"sample.ndjson", 100, 0}, {"edge-cases.ndjson", 6, 1}} {
		t.Run(tc.fixture, func(t *testing.T) {
			sink, err := runner.NewHTTPSink(runner.HTTPConfig{URL: destURL + "/mock/destination", DataKey: "data"})
			if err != nil {
				t.Fatal(err)
			}
			r, err := runner.New(runner.Config{Sink: sink, BatchSize: 30, TenantID: "acme", Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				t.Fatal(err)
			}
			_, before := d.destination.Requests()
			id := "wh-e2e-" + strings.TrimSuffix(tc.fixture, ".ndjson")
			event, _ := json.Marshal(map[string]string{"data_url": s3URL + "/test-bucket/" + tc.fixture,
				"callback_url": destURL + "/mock/poll/", "webhook_id": id, "access_token": "2:e2e:token"})
			resp, _ := r.Handle(context.Background(), event)
			if resp.StatusCode != 200 {
				t.Fatalf("response %d %s", resp.StatusCode, resp.Body)
			}
			var run destination.Run
			getJSON(t, destURL+"/api/runs/"+id, &run)
			if run.State != "succeeded" || run.Progress != 1 || run.ViolationCount != 0 || run.ErrorCount != tc.invalid {
				t.Fatalf("run %+v", run)
			}
			_, after := d.destination.Requests()
			if got := after["/mock/destination"].Records - before["/mock/destination"].Records; got != int64(tc.records) {
				t.Fatalf("destination received %d records, want %d", got, tc.records)
			}
		})
	}
}

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
}

// TestDevserver_TemplateHandlerEndToEnd is the README's first curl: the
// devserver's S3 serves a fixture, /lambda/template runs the real template
// handler as a Lambda process against the mock destination and mock
// Amperity, and the inspection API shows every record and a valid run.
func TestDevserver_TemplateHandlerEndToEnd(t *testing.T) {
	var out lockedBuffer
	d := serveTest(t, testConfig(t), &out)

	gw, s3URL, destURL := d.service("gateway").url(), d.service("s3").url(), d.service("destination").url()
	body := requestJSON(s3URL+"/test-bucket/sample.ndjson", destURL+"/mock/poll/", "wh-template-e2e")
	resp, err := http.Post(gw+"/lambda/template", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	answer, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	// The template's front door answers at once and runs the job in the
	// background.
	if resp.StatusCode != 202 || !strings.Contains(string(answer), `"status":"accepted"`) {
		t.Fatalf("response %d %s\nhandler output:\n%s", resp.StatusCode, answer, out.String())
	}
	run := waitForRun(t, destURL, "wh-template-e2e")
	if run.State != "succeeded" || run.Progress != 1 || run.ViolationCount != 0 || run.Tenant != "local" {
		t.Fatalf("run %+v", run)
	}
	var reqs struct {
		Counters map[string]destination.Counter `json:"counters"`
	}
	getJSON(t, destURL+"/api/requests", &reqs)
	if c := reqs.Counters["/mock/destination"]; c.Records != 100 {
		t.Fatalf("destination received %+v, want 100 records", c)
	}
	if strings.Contains(out.String(), "local-token") {
		t.Errorf("handler output shows the access token:\n%s", out.String())
	}
}

func TestInvokeCommand_RunsAFixtureInProcess(t *testing.T) {
	var out lockedBuffer
	err := run(context.Background(), []string{"invoke", "template", "--fixture", "edge-cases.ndjson", "--in-process",
		"--root", "../..", "--fixtures", "../../fixtures", "--env-file", filepath.Join(t.TempDir(), "none"), "--webhook-id", "wh-cmd"}, &out, io.Discard)
	text := out.String()
	if err != nil {
		t.Fatalf("%v\n%s", err, text)
	}
	for _, want := range []string{"started one in this process", "POST http://127.0.0.1:", "(webhook wh-cmd)", "running",
		"accepted (202)", "succeeded 100.0%", "error: line 6: invalid JSON", "response 202:", "the mock destination received 6 records in 1 requests"} {
		if !strings.Contains(text, want) {
			t.Errorf("output lacks %q:\n%s", want, text)
		}
	}
}

// waitForRun polls the inspection API until the run has ended.
func waitForRun(t *testing.T, destURL, id string) destination.Run {
	t.Helper()
	var run destination.Run
	waitFor(t, 60*time.Second, "run "+id+" ended", func() bool {
		run = destination.Run{}
		resp, err := http.Get(destURL + "/api/runs/" + id)
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		json.NewDecoder(resp.Body).Decode(&run)
		return run.State == "succeeded" || run.State == "failed"
	})
	return run
}

// TestDevserver_LongJobContinuesAcrossInvocations: the template with a 4 s
// timeout moves a fixture that needs several invocations (the mock
// destination is slowed with its fault injection); every record arrives
// exactly once, progress never decreases, and the run ends succeeded once.
func TestDevserver_LongJobContinuesAcrossInvocations(t *testing.T) {
	cfg := testConfig(t)
	var out lockedBuffer
	d := serveTest(t, cfg, &out)
	gw, s3URL, destURL := d.service("gateway").url(), d.service("s3").url(), d.service("destination").url()
	// The .env is read at each process start.
	os.WriteFile(cfg.EnvFile, []byte(fmt.Sprintf("LAMBDA_TIMEOUT=4000\nCONTINUATION_MARGIN=2000ms\nBATCH_SIZE=5\nDESTINATION_URL=%s/mock/destination?latency=300ms\n", destURL)), 0o600)

	body := requestJSON(s3URL+"/test-bucket/sample.ndjson", destURL+"/mock/poll/", "wh-long")
	start := time.Now()
	resp, err := http.Post(gw+"/lambda/template", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	accepted := time.Since(start)
	resp.Body.Close()
	if resp.StatusCode != 202 {
		t.Fatalf("front door answered %d", resp.StatusCode)
	}
	t.Logf("front door answered 202 in %v", accepted)

	run := waitForRun(t, destURL, "wh-long")
	if run.State != "succeeded" || run.ViolationCount != 0 || run.Progress != 1 {
		t.Fatalf("run %+v\n%s", run, out.String())
	}
	// Every record exactly once: read the ids back from the bodies kept.
	var reqs struct {
		Requests []destination.Request `json:"requests"`
	}
	getJSON(t, destURL+"/api/requests", &reqs)
	seen := map[string]int{}
	for _, r := range reqs.Requests {
		if !strings.HasPrefix(r.Path, "/mock/destination") || r.Status != 200 {
			continue
		}
		var batch struct {
			Data []struct {
				ID string `json:"amperity_id"`
			} `json:"data"`
		}
		if err := json.Unmarshal([]byte(r.Body), &batch); err != nil {
			t.Fatalf("kept body: %v", err)
		}
		for _, rec := range batch.Data {
			seen[rec.ID]++
		}
	}
	if len(seen) != 100 {
		t.Fatalf("%d distinct records arrived, want 100", len(seen))
	}
	for id, n := range seen {
		if n != 1 {
			t.Fatalf("record %s arrived %d times", id, n)
		}
	}
	invocations := 0
	for _, inv := range d.gateway.Invocations() {
		if inv.Function == "template" {
			invocations++
		}
	}
	// The front door's own invocation, then at least three working ones.
	if invocations < 4 {
		t.Fatalf("%d invocations: the job should have needed at least 3 hops", invocations)
	}
	t.Logf("%d invocations, %d status reports", invocations, run.Reports)
}

// TestDevserver_RudderstackConnector runs the rudderstack connector on its
// fixture against the devserver's RudderStack mock, which validates every
// request as the real batch API does.
func TestDevserver_RudderstackConnector(t *testing.T) {
	d := serveTest(t, testConfig(t), io.Discard)
	gw, s3URL, destURL := d.service("gateway").url(), d.service("s3").url(), d.service("destination").url()
	body := requestJSON(s3URL+"/test-bucket/rudderstack.ndjson", destURL+"/mock/poll/", "wh-rudder")
	resp, err := http.Post(gw+"/lambda/rudderstack", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	run := waitForRun(t, destURL, "wh-rudder")
	if run.State != "succeeded" || run.ErrorCount != 1 || !strings.Contains(run.Errors[0], "line 8: no amperity_id") || run.Records != 19 {
		t.Fatalf("run %+v", run)
	}
	var reqs struct {
		Counters map[string]destination.Counter `json:"counters"`
	}
	getJSON(t, destURL+"/api/requests", &reqs)
	if c := reqs.Counters["/mock/rudderstack"]; c.Records != 19 || c.Requests != 1 {
		t.Fatalf("mock rudderstack saw %+v", c)
	}
}
