package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/amperity/lambda-runner-go/runner"
)

func TestCapture_LogsTheRequestAndReportsSucceeded(t *testing.T) {
	var mu sync.Mutex
	var reports []string
	amperity := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		reports = append(reports, r.Method+" "+r.URL.Path+" "+string(b))
		mu.Unlock()
	}))
	defer amperity.Close()
	var logs bytes.Buffer
	log := runner.NewLogger(&logs, "info")
	r, _ := runner.New(runner.Config{Sink: runner.SinkFunc(func(context.Context, *runner.Batch) error { t.Error("sink called"); return nil }), TenantID: "acme", Logger: log})
	c := &capture{r: r, log: log}

	body, _ := json.Marshal(map[string]any{"data_url": "https://bucket.s3.amazonaws.com/export.ndjson?X-Amz-Signature=abc",
		"callback_url": amperity.URL + "/webhook/v1/", "webhook_id": "wh-cap", "access_token": "2:sup3r:s3cret",
		"settings": map[string]any{"api_key": "k3y-value", "region": "eu"}, "label_name": "L"})
	quoted, _ := json.Marshal(string(body))
	resp, err := c.handle(context.Background(), json.RawMessage(`{"httpMethod":"POST","requestContext":{},"body":`+string(quoted)+`}`))
	if err != nil || resp.StatusCode != 200 || !strings.Contains(resp.Body, `"status":"captured"`) {
		t.Fatalf("%v %d %s", err, resp.StatusCode, resp.Body)
	}
	if len(reports) != 1 || !strings.Contains(reports[0], `PUT /webhook/v1/wh-cap {"state":"succeeded","progress":1`) {
		t.Fatalf("reports %q", reports)
	}
	out := logs.String()
	if !strings.Contains(out, "X-Amz-Signature=abc") || !strings.Contains(out, `"region":"eu"`) {
		t.Errorf("log lacks the data_url or settings:\n%s", out)
	}
	for _, secret := range []string{"sup3r", "k3y-value"} {
		if strings.Contains(out, secret) {
			t.Errorf("log shows %q:\n%s", secret, out)
		}
	}
	resp, _ = c.handle(context.Background(), json.RawMessage(`{"webhook_id":"x"}`))
	if resp.StatusCode != 400 {
		t.Errorf("bad request answered %d", resp.StatusCode)
	}
}
