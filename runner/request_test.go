package runner

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

const amperityBody = `{"data_url":"https://bucket.s3.amazonaws.com/f.ndjson?X-Amz-Signature=abc","callback_url":"https://app.amperity.com/webhook/v1/","webhook_id":"wh-1","access_token":"2:a:b","settings":{"k":"v"},"label_name":"L","tenant_id":"acme"}`

func TestParseEvent_Kinds(t *testing.T) {
	quoted, _ := json.Marshal(amperityBody)
	b64, _ := json.Marshal(base64.StdEncoding.EncodeToString([]byte(amperityBody)))
	tests := []struct {
		name  string
		event string
		src   Source
	}{
		{"direct", amperityBody, SourceDirect},
		{"rest proxy", `{"resource":"/run","path":"/run","httpMethod":"POST","headers":{},"requestContext":{"stage":"prod"},"body":` + string(quoted) + `,"isBase64Encoded":false}`, SourceAPIGateway},
		{"rest proxy base64", `{"httpMethod":"POST","requestContext":{},"body":` + string(b64) + `,"isBase64Encoded":true}`, SourceAPIGateway},
		{"http api v2", `{"version":"2.0","routeKey":"POST /run","rawPath":"/run","requestContext":{"domainName":"abc.execute-api.us-east-1.amazonaws.com","http":{"method":"POST"}},"body":` + string(quoted) + `,"isBase64Encoded":false}`, SourceHTTPAPI},
		{"function url", `{"version":"2.0","rawPath":"/","requestContext":{"domainName":"abc.lambda-url.us-east-1.on.aws","http":{"method":"POST"}},"body":` + string(b64) + `,"isBase64Encoded":true}`, SourceFunctionURL},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, src, err := ParseEvent([]byte(tt.event))
			if err != nil {
				t.Fatal(err)
			}
			if src != tt.src {
				t.Errorf("source = %s, want %s", src, tt.src)
			}
			if req.WebhookID != "wh-1" || req.AccessToken != "2:a:b" || req.Settings["k"] != "v" || req.LabelName != "L" || req.TenantID != "acme" ||
				req.DataURL != "https://bucket.s3.amazonaws.com/f.ndjson?X-Amz-Signature=abc" || req.CallbackURL != "https://app.amperity.com/webhook/v1/" {
				t.Errorf("request = %+v", req)
			}
		})
	}
}

func TestParseEvent_Errors(t *testing.T) {
	tests := []struct {
		name, event, field, msg string
		usableCallback          bool
	}{
		{"not json", `nope`, "", "event is not a JSON object", false},
		{"array", `[1]`, "", "event is not a JSON object", false},
		{"broken json", `{"data_url":`, "", "event is not valid JSON", false},
		{"empty body", `{"httpMethod":"POST","body":""}`, "body", "is empty", false},
		{"null body", `{"httpMethod":"POST","requestContext":{},"body":null}`, "body", "is empty", false},
		{"bad base64", `{"httpMethod":"POST","body":"%%%","isBase64Encoded":true}`, "body", "base64", false},
		{"body not json", `{"httpMethod":"POST","body":"hello"}`, "body", "is not valid JSON", false},
		{"missing data_url", `{"callback_url":"http://a/","webhook_id":"wh-1"}`, "data_url", "is required", true},
		{"data_url number", `{"data_url":5,"callback_url":"http://a/","webhook_id":"wh-1"}`, "data_url", "must be a string", true},
		{"data_url not http", `{"data_url":"s3://b/k","callback_url":"http://a/","webhook_id":"wh-1"}`, "data_url", "http or https", true},
		{"missing webhook_id", `{"data_url":"http://d/","callback_url":"http://a/"}`, "webhook_id", "is required", false},
		{"webhook_id with slash", `{"data_url":"http://d/","callback_url":"http://a/","webhook_id":"../x"}`, "webhook_id", "not allowed", false},
		{"missing callback_url", `{"data_url":"http://d/","webhook_id":"wh-1"}`, "callback_url", "is required", false},
		{"settings not object", `{"data_url":"http://d/","callback_url":"http://a/","webhook_id":"wh-1","settings":[1]}`, "settings", "must be a JSON object", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _, err := ParseEvent([]byte(tt.event))
			var reqErr *RequestError
			if !errors.As(err, &reqErr) {
				t.Fatalf("err = %v, want a RequestError", err)
			}
			if reqErr.Field != tt.field || !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("err = %v (field %q), want field %q and %q", err, reqErr.Field, tt.field, tt.msg)
			}
			if usable := req.CallbackURL != "" && req.WebhookID != ""; usable != tt.usableCallback {
				t.Errorf("usable callback = %v, want %v", usable, tt.usableCallback)
			}
		})
	}
}

func TestRunner_InvalidRequestAnswers400AndReportsFailed(t *testing.T) {
	s := newSetup(t, twoRecords)
	body := s.body()
	delete(body, "data_url")
	resp, rb := s.run(body)
	if resp.StatusCode != 400 || rb.Status != "error" || !strings.Contains(rb.Message, "data_url is required") {
		t.Fatalf("response %d %+v", resp.StatusCode, rb)
	}
	reports := s.amp.got()
	if len(reports) != 1 || reports[0].State != Failed || !strings.Contains(reports[0].Reason, "data_url is required") {
		t.Fatalf("reports = %+v", reports)
	}
	if len(s.dest.got()) != 0 {
		t.Fatal("destination called")
	}
}

func TestRequest_StatusURL(t *testing.T) {
	for cb, want := range map[string]string{
		"https://app.amperity.com/webhook/v1/": "https://app.amperity.com/webhook/v1/wh-1",
		"https://app.amperity.com/webhook/v1":  "https://app.amperity.com/webhook/v1/wh-1",
	} {
		if got := (Request{CallbackURL: cb, WebhookID: "wh-1"}).statusURL(); got != want {
			t.Errorf("statusURL(%q) = %q, want %q", cb, got, want)
		}
	}
}

func FuzzParseEvent(f *testing.F) {
	f.Add([]byte(amperityBody))
	f.Add([]byte(`{"httpMethod":"POST","body":"e30=","isBase64Encoded":true}`))
	f.Add([]byte(`{"version":"2.0","rawPath":"/","body":"{}"}`))
	f.Fuzz(func(t *testing.T, event []byte) {
		req, _, err := ParseEvent(event)
		if err == nil && (req.WebhookID == "" || req.CallbackURL == "" || req.DataURL == "") {
			t.Fatalf("accepted %q with a missing field: %+v", event, req)
		}
		if err != nil && (req.CallbackURL != "" && req.WebhookID != "") {
			// A usable callback must really be usable.
			if strings.ContainsAny(req.WebhookID, "/?#") {
				t.Fatalf("unsafe webhook id %q", req.WebhookID)
			}
		}
	})
}
