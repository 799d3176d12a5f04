package runner

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
)

// Request is what Amperity's Webhook destination sends: where the file is,
// where to report status, and the job's identity.
type Request struct {
	DataURL     string         `json:"data_url"`
	CallbackURL string         `json:"callback_url"`
	WebhookID   string         `json:"webhook_id"`
	AccessToken string         `json:"access_token,omitempty"`
	Settings    map[string]any `json:"settings,omitempty"`
	LabelName   string         `json:"label_name,omitempty"`
	// TenantID is not documented by Amperity; when absent the runner uses
	// Config.TenantID.
	TenantID string `json:"tenant_id,omitempty"`
}

// LogValue keeps the access token and the pre-signed URL's signature out
// of logs.
func (r Request) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("webhook_id", r.WebhookID),
		slog.String("data_url", redactURLString(r.DataURL)),
		slog.String("callback_url", r.CallbackURL),
		slog.String("label_name", r.LabelName),
		slog.String("tenant_id", r.TenantID),
		slog.Bool("access_token_set", r.AccessToken != ""),
	)
}

func redactURLString(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparseable URL)"
	}
	return redactURL(u)
}

// Source says how the function was invoked.
type Source string

// The sources the runner recognises.
const (
	SourceDirect      Source = "direct"       // Lambda Invoke with the request itself as payload
	SourceAPIGateway  Source = "api-gateway"  // API Gateway REST API proxy integration
	SourceHTTPAPI     Source = "http-api"     // API Gateway HTTP API (payload format 2.0)
	SourceFunctionURL Source = "function-url" // Lambda Function URL
)

// FromGateway reports whether the event came through an HTTP front end.
func (s Source) FromGateway() bool { return s != SourceDirect }

// RequestError is a request the runner cannot act on. Field names the
// offending field ("" when the event as a whole is wrong).
type RequestError struct {
	Field string
	Msg   string
}

func (e *RequestError) Error() string {
	if e.Field == "" {
		return "invalid request: " + e.Msg
	}
	return fmt.Sprintf("invalid request: %s %s", e.Field, e.Msg)
}

// envelope holds the fields that tell the kinds of events apart.
type envelope struct {
	Body            *string         `json:"body"`
	IsBase64Encoded bool            `json:"isBase64Encoded"`
	HTTPMethod      string          `json:"httpMethod"`
	Version         string          `json:"version"`
	RawPath         *string         `json:"rawPath"`
	RequestContext  json.RawMessage `json:"requestContext"`
}

// ParseEvent extracts the Amperity request from a Lambda event: an API
// Gateway REST proxy event, an HTTP API v2 event, a Function URL event, or a
// direct invoke whose payload is the request itself. The request returned
// holds whatever fields could be read even when the error is non-nil, so
// the caller can still report failure to a usable callback.
func ParseEvent(event []byte) (Request, Source, error) {
	event = bytes.TrimSpace(event)
	if len(event) == 0 || event[0] != '{' {
		return Request{}, SourceDirect, &RequestError{Msg: "event is not a JSON object"}
	}
	var env envelope
	if err := json.Unmarshal(event, &env); err != nil {
		return Request{}, SourceDirect, &RequestError{Msg: "event is not valid JSON: " + jsonErrText(err)}
	}
	src := SourceDirect
	switch {
	case env.Version == "2.0" && env.RawPath != nil:
		src = SourceHTTPAPI
		if bytes.Contains(env.RequestContext, []byte(".lambda-url.")) {
			src = SourceFunctionURL
		}
	case env.HTTPMethod != "" || (env.RequestContext != nil && env.Body != nil):
		src = SourceAPIGateway
	}
	body := event
	if src != SourceDirect {
		if env.Body == nil || strings.TrimSpace(*env.Body) == "" {
			return Request{}, src, &RequestError{Field: "body", Msg: "is empty: expected the Webhook destination's JSON request"}
		}
		body = []byte(*env.Body)
		if env.IsBase64Encoded {
			dec, err := base64.StdEncoding.DecodeString(*env.Body)
			if err != nil {
				return Request{}, src, &RequestError{Field: "body", Msg: "is marked base64 but does not decode: " + err.Error()}
			}
			body = dec
		}
	}
	req, err := parseBody(body)
	return req, src, err
}

// parseBody reads and validates the Webhook destination's JSON body. Fields
// are decoded one by one so a type error names its field.
func parseBody(body []byte) (Request, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(body, &fields); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) {
			return Request{}, &RequestError{Field: "body", Msg: "must be a JSON object"}
		}
		return Request{}, &RequestError{Field: "body", Msg: "is not valid JSON: " + jsonErrText(err)}
	}
	var req Request
	var errs []error
	str := func(name string, dst *string, required bool) {
		raw, ok := fields[name]
		if !ok || string(raw) == "null" {
			if required {
				errs = append(errs, &RequestError{Field: name, Msg: "is required"})
			}
			return
		}
		if err := json.Unmarshal(raw, dst); err != nil {
			errs = append(errs, &RequestError{Field: name, Msg: "must be a string"})
			return
		}
		*dst = strings.TrimSpace(*dst)
		if required && *dst == "" {
			errs = append(errs, &RequestError{Field: name, Msg: "is required"})
		}
	}
	str("webhook_id", &req.WebhookID, true)
	str("callback_url", &req.CallbackURL, true)
	str("data_url", &req.DataURL, true)
	str("access_token", &req.AccessToken, false)
	str("label_name", &req.LabelName, false)
	str("tenant_id", &req.TenantID, false)
	if raw, ok := fields["settings"]; ok && string(raw) != "null" {
		if err := json.Unmarshal(raw, &req.Settings); err != nil {
			errs = append(errs, &RequestError{Field: "settings", Msg: "must be a JSON object"})
		}
	}
	if req.WebhookID != "" && strings.ContainsAny(req.WebhookID, "/?#\\ \t\r\n") {
		errs = append(errs, &RequestError{Field: "webhook_id", Msg: fmt.Sprintf("%q contains characters not allowed in a URL path segment", req.WebhookID)})
		req.WebhookID = ""
	}
	if req.CallbackURL != "" {
		if err := checkHTTPURL(req.CallbackURL); err != nil {
			errs = append(errs, &RequestError{Field: "callback_url", Msg: err.Error()})
			req.CallbackURL = ""
		}
	}
	if req.DataURL != "" {
		if err := checkHTTPURL(req.DataURL); err != nil {
			errs = append(errs, &RequestError{Field: "data_url", Msg: err.Error()})
		}
	}
	return req, errors.Join(errs...)
}

func checkHTTPURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return errors.New("is not a URL")
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return errors.New("must be an http or https URL")
	}
	if u.Host == "" {
		return errors.New("has no host")
	}
	return nil
}

// jsonErrText is err's message without the "json: " prefix users need not
// see.
func jsonErrText(err error) string { return strings.TrimPrefix(err.Error(), "json: ") }

// statusURL is where status reports for req go: callback_url + webhook_id,
// with a '/' between them when callback_url lacks one.
func (r Request) statusURL() string {
	base := r.CallbackURL
	if !strings.HasSuffix(base, "/") {
		base += "/"
	}
	return base + url.PathEscape(r.WebhookID)
}
