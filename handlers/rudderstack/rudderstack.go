package main

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"

	"github.com/amperity/lambda-runner-go/runner"
)

// config is the connector's configuration, read from the environment.
type config struct {
	URL         string
	WriteKey    string
	UserIDField string
	Event       string
	BatchSize   int
	RPM         float64
	Tenant      string
}

func loadConfig(env *runner.Env) (config, error) {
	cfg := config{
		URL:         env.Required("RUDDERSTACK_URL"),
		WriteKey:    env.Required("RUDDERSTACK_WRITE_KEY"),
		UserIDField: env.String("USER_ID_FIELD", "amperity_id"),
		Event:       env.String("EVENT_NAME", "Amperity Audience"),
		BatchSize:   env.Int("BATCH_SIZE", 100),
		RPM:         env.Float("REQUESTS_PER_MINUTE", 0),
		Tenant:      env.String("TENANT_ID", ""),
	}
	return cfg, env.Err()
}

// event is a RudderStack track call.
type event struct {
	Type       string         `json:"type"`
	Event      string         `json:"event"`
	UserID     string         `json:"userId"`
	Properties map[string]any `json:"properties"`
	Context    map[string]any `json:"context"`
}

// newSink posts {"batch": [events]} with Basic auth (the write key as
// user name, no password), as RudderStack's batch API expects.
func newSink(cfg config) (*runner.HTTPSink, error) {
	auth := "Basic " + base64.StdEncoding.EncodeToString([]byte(cfg.WriteKey+":"))
	return runner.NewHTTPSink(runner.HTTPConfig{
		URL:               cfg.URL,
		Header:            http.Header{"Authorization": {auth}},
		DataKey:           "batch",
		RequestsPerMinute: cfg.RPM,
		Map:               toEvent(cfg),
	})
}

// toEvent maps a record to a track event. A record without a user id is
// a record error: RudderStack would refuse the whole batch for it.
func toEvent(cfg config) func(runner.Record) (any, error) {
	return func(r runner.Record) (any, error) {
		var props map[string]any
		if err := r.Decode(&props); err != nil {
			return nil, err
		}
		id := ""
		if v, ok := props[cfg.UserIDField]; ok && v != nil {
			id = strings.TrimSpace(fmt.Sprint(v))
		}
		if id == "" {
			return nil, fmt.Errorf("no %s to use as userId", cfg.UserIDField)
		}
		label := ""
		if r.Request != nil {
			label = r.Request.LabelName
		}
		props["label_name"] = label
		return event{Type: "track", Event: cfg.Event, UserID: id, Properties: props,
			Context: map[string]any{"library": map[string]string{"name": "amperity-lambda-runner"}, "label_name": label}}, nil
	}
}
