package main

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/amperity/lambda-runner-go/emulator/destination"
	"github.com/amperity/lambda-runner-go/runner"
)

func batch(label string, lines ...string) *runner.Batch {
	req := &runner.Request{WebhookID: "wh-r", LabelName: label}
	b := &runner.Batch{Seq: 1, Request: req}
	for i, l := range lines {
		b.Records = append(b.Records, runner.Record{Line: int64(i + 1), Raw: []byte(l), Request: req})
	}
	return b
}

// The devserver's /mock/rudderstack checks requests the way RudderStack's
// batch API does (Basic auth, a batch array, a userId on every event).
func TestRudderstack_AgainstTheMock(t *testing.T) {
	mock := destination.New(destination.Config{Logger: slog.New(slog.DiscardHandler)})
	srv := httptest.NewServer(mock)
	defer srv.Close()
	sink, err := newSink(config{URL: srv.URL + "/mock/rudderstack", WriteKey: "wk", UserIDField: "amperity_id", Event: "Amperity Audience"})
	if err != nil {
		t.Fatal(err)
	}
	err = sink.Send(context.Background(), batch("VIP list",
		`{"amperity_id":"a1","email":"a@example.com"}`,
		`{"email":"no-id@example.com"}`,
		`{"amperity_id":42,"email":"b@example.com"}`))
	var recErrs runner.RecordErrors
	if !errors.As(err, &recErrs) || len(recErrs) != 1 || recErrs[0].Line != 2 || !strings.Contains(recErrs[0].Error(), "no amperity_id") {
		t.Fatalf("err = %v", err)
	}
	reqs, counters := mock.Requests()
	if c := counters["/mock/rudderstack"]; c.Requests != 1 || c.Records != 2 || reqs[0].Status != 200 {
		t.Fatalf("mock saw %+v, %+v", c, reqs)
	}
	var body struct {
		Batch []event `json:"batch"`
	}
	json.Unmarshal([]byte(reqs[0].Body), &body)
	ev := body.Batch[1]
	if ev.Type != "track" || ev.Event != "Amperity Audience" || ev.UserID != "42" || ev.Properties["label_name"] != "VIP list" || ev.Properties["email"] != "b@example.com" {
		t.Fatalf("event %+v", ev)
	}
	if reqs[0].Headers["Authorization"] != "Basic ****" {
		t.Errorf("auth header %q", reqs[0].Headers["Authorization"])
	}
}

func TestRudderstack_ConfigNamesWhatIsMissing(t *testing.T) {
	env := &runner.Env{Lookup: func(string) (string, bool) { return "", false }}
	_, err := loadConfig(env)
	if err == nil || !strings.Contains(err.Error(), "RUDDERSTACK_URL is required") || !strings.Contains(err.Error(), "RUDDERSTACK_WRITE_KEY is required") {
		t.Fatalf("err = %v", err)
	}
}
