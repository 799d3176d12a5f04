package destination

import (
	"bytes"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"sort"
	"strings"
)

// statusFields are exactly the fields of a status report body.
var statusFields = []string{"state", "progress", "errors", "reason"}

// report is one status report as received, with what was wrong with it.
type report struct {
	State      string   `json:"state"`
	Progress   float64  `json:"progress"`
	Errors     []string `json:"errors"`
	Reason     string   `json:"reason"`
	Violations []string `json:"violations,omitempty"`
	stateOK    bool     // State is one of the three states
	progressOK bool     // Progress is a number in [0,1]
}

// checkReport validates one status callback request against Amperity's
// contract, given the run's state so far (nil for the first report). Every
// violation is listed, in plain words a user can act on.
func checkReport(method string, h http.Header, body []byte, prev *Run) report {
	var rep report
	v := func(format string, args ...any) {
		rep.Violations = append(rep.Violations, fmt.Sprintf(format, args...))
	}

	if method != http.MethodPut {
		v("method is %s; the status callback must be a PUT", method)
	}
	auth := h.Get("Authorization")
	switch {
	case auth == "":
		v("Authorization header missing: send \"Bearer <access_token>\" with the access_token from the request")
	case !strings.HasPrefix(auth, "Bearer ") || strings.TrimSpace(strings.TrimPrefix(auth, "Bearer ")) == "":
		v("Authorization header is not \"Bearer <access_token>\"")
	}
	if strings.TrimSpace(h.Get("X-Amperity-Tenant")) == "" {
		v("X-Amperity-Tenant header missing: send the tenant id")
	}
	if mt, _, _ := mime.ParseMediaType(h.Get("Content-Type")); mt != "application/json" {
		v("Content-Type is %q; it must be application/json", h.Get("Content-Type"))
	}

	var fields map[string]json.RawMessage
	if err := json.Unmarshal(body, &fields); err != nil {
		v("body is not a JSON object: %s", strings.TrimPrefix(err.Error(), "json: "))
		return rep
	}
	for _, name := range statusFields {
		if _, ok := fields[name]; !ok {
			v("field %q missing: the body must have exactly state, progress, errors and reason", name)
		}
	}
	var extra []string
	for name := range fields {
		if !contains(statusFields, name) {
			extra = append(extra, name)
		}
	}
	sort.Strings(extra)
	for _, name := range extra {
		v("unexpected field %q: the body must have exactly state, progress, errors and reason", name)
	}

	if raw, ok := fields["state"]; ok {
		if err := json.Unmarshal(raw, &rep.State); err != nil {
			v("state is %s; it must be a string", raw)
		} else if rep.State != "running" && rep.State != "succeeded" && rep.State != "failed" {
			v("state %q is not running, succeeded or failed", rep.State)
		} else {
			rep.stateOK = true
		}
	}
	if raw, ok := fields["progress"]; ok {
		if err := json.Unmarshal(raw, &rep.Progress); err != nil || bytes.HasPrefix(bytes.TrimSpace(raw), []byte(`"`)) {
			v("progress is %s; it must be a number between 0 and 1", raw)
		} else if rep.Progress < 0 || rep.Progress > 1 {
			v("progress %v is outside 0..1", rep.Progress)
		} else {
			rep.progressOK = true
		}
	}
	if raw, ok := fields["errors"]; ok {
		if err := json.Unmarshal(raw, &rep.Errors); err != nil || string(bytes.TrimSpace(raw)) == "null" {
			v("errors is %s; it must be an array of strings", excerpt(raw))
			rep.Errors = nil
		} else if len(rep.Errors) > 10 {
			v("errors has %d entries; at most 10 are allowed per report", len(rep.Errors))
		}
	}
	if raw, ok := fields["reason"]; ok {
		if err := json.Unmarshal(raw, &rep.Reason); err != nil {
			v("reason is %s; it must be a string", excerpt(raw))
		}
	}

	if rep.stateOK && rep.progressOK {
		if rep.State == "succeeded" && rep.Progress != 1 {
			v("state succeeded with progress %v; a succeeded report must have progress 1", rep.Progress)
		}
	}
	if rep.stateOK && rep.State == "failed" && strings.TrimSpace(rep.Reason) == "" {
		v("state failed without a reason: say why the job failed")
	}
	if prev != nil {
		if prev.terminal() {
			v("report received after the run already ended %s: a job sends exactly one final report", prev.State)
		}
		if rep.progressOK && rep.Progress < prev.Progress {
			v("progress %v is lower than the previous report's %v: progress must never decrease", rep.Progress, prev.Progress)
		}
	}
	return rep
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func excerpt(b []byte) string {
	s := string(b)
	if len(s) > 80 {
		s = s[:80] + "…"
	}
	return s
}
