package destination

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/amperity/lambda-runner-go/internal/jsonscan"
	"github.com/go-chi/chi/v5"
)

// faults is what a request to /mock/destination asks to go wrong, from
// query parameters or X-Mock-* headers (query wins):
//
//	status=503        answer this status to every request
//	fail_rate=0.3     answer fail_status (default 503) to this share of requests
//	fail_status=429   the status fail_rate answers
//	latency=250ms     wait this long before answering
//	retry_after=2     send Retry-After: 2 with failures
type faults struct {
	status     int
	failRate   float64
	failStatus int
	latency    time.Duration
	retryAfter string
}

func parseFaults(r *http.Request) (faults, error) {
	q := r.URL.Query()
	get := func(name string) string {
		if v := q.Get(name); v != "" {
			return v
		}
		return r.Header.Get("X-Mock-" + strings.ReplaceAll(name, "_", "-"))
	}
	f := faults{failStatus: http.StatusServiceUnavailable}
	var err error
	if v := get("status"); v != "" {
		if f.status, err = parseStatus(v); err != nil {
			return f, fmt.Errorf("status: %w", err)
		}
	}
	if v := get("fail_rate"); v != "" {
		if f.failRate, err = strconv.ParseFloat(v, 64); err != nil || f.failRate < 0 || f.failRate > 1 {
			return f, fmt.Errorf("fail_rate %q: must be a number between 0 and 1", v)
		}
	}
	if v := get("fail_status"); v != "" {
		if f.failStatus, err = parseStatus(v); err != nil {
			return f, fmt.Errorf("fail_status: %w", err)
		}
	}
	if v := get("latency"); v != "" {
		if f.latency, err = time.ParseDuration(v); err != nil {
			ms, merr := strconv.Atoi(v)
			if merr != nil {
				return f, fmt.Errorf("latency %q: use a duration like 250ms", v)
			}
			f.latency = time.Duration(ms) * time.Millisecond
		}
		if f.latency > 15*time.Minute {
			return f, fmt.Errorf("latency %v: at most 15m", f.latency)
		}
	}
	f.retryAfter = get("retry_after")
	return f, nil
}

func parseStatus(v string) (int, error) {
	code, err := strconv.Atoi(v)
	if err != nil || code < 200 || code > 599 {
		return 0, fmt.Errorf("%q is not an HTTP status between 200 and 599", v)
	}
	return code, nil
}

// mockDestination accepts a JSON body and counts its records: a top-level
// array, or the arrays under a top-level object's keys.
func (s *Server) mockDestination(w http.ResponseWriter, r *http.Request) {
	const route = "/mock/destination"
	body, release, err := s.readBody(r)
	defer release()
	if err != nil {
		s.keep(r, route, http.StatusBadRequest, 0, body, "reading body: "+err.Error())
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "reading body: " + err.Error()})
		return
	}
	f, err := parseFaults(r)
	if err != nil {
		s.keep(r, route, http.StatusBadRequest, 0, body, err.Error())
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "fault injection: " + err.Error()})
		return
	}
	if f.latency > 0 {
		t := time.NewTimer(f.latency)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		}
	}
	status := f.status
	if status == 0 && f.failRate > 0 && s.cfg.Rand() < f.failRate {
		status = f.failStatus
	}
	if status != 0 && status/100 != 2 {
		if f.retryAfter != "" {
			w.Header().Set("Retry-After", f.retryAfter)
		}
		msg := fmt.Sprintf("injected failure: %d", status)
		s.keep(r, route, status, 0, body, msg)
		writeJSON(w, status, map[string]string{"error": msg})
		return
	}
	n, err := jsonscan.CountRecords(body)
	if err != nil {
		msg := "invalid JSON: " + jsonError(body, err)
		s.keep(r, route, http.StatusBadRequest, 0, body, msg)
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": msg})
		return
	}
	if status == 0 {
		status = http.StatusOK
	}
	s.keep(r, route, status, n, body, "")
	writeJSON(w, status, map[string]int{"received": n})
}

// jsonError explains why body is not valid JSON, with encoding/json's
// wording (only computed for bodies already known to be invalid).
func jsonError(body []byte, scanErr error) string {
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		return strings.TrimPrefix(err.Error(), "json: ")
	}
	return scanErr.Error()
}

// mockRudderstack checks a request the way RudderStack's batch API does:
// Basic auth with the write key as user name, a "batch" array, and a
// userId (or anonymousId) on every event.
func (s *Server) mockRudderstack(w http.ResponseWriter, r *http.Request) {
	const route = "/mock/rudderstack"
	body, release, err := s.readBody(r)
	defer release()
	fail := func(msg string, records int) {
		s.keep(r, route, http.StatusBadRequest, records, body, msg)
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": msg})
	}
	if err != nil {
		fail("reading body: "+err.Error(), 0)
		return
	}
	user, _, ok := r.BasicAuth()
	if !ok || user == "" {
		s.keep(r, route, http.StatusUnauthorized, 0, body, "missing Basic auth")
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "Basic auth with the write key as user name is required"})
		return
	}
	var payload struct {
		Batch *[]map[string]any `json:"batch"`
	}
	if err := json.Unmarshal(body, &payload); err != nil {
		fail("invalid JSON: "+strings.TrimPrefix(err.Error(), "json: "), 0)
		return
	}
	if payload.Batch == nil {
		fail(`missing "batch" array`, 0)
		return
	}
	for i, ev := range *payload.Batch {
		id, _ := ev["userId"].(string)
		anon, _ := ev["anonymousId"].(string)
		if strings.TrimSpace(id) == "" && strings.TrimSpace(anon) == "" {
			fail(fmt.Sprintf("batch[%d]: userId or anonymousId is required", i), len(*payload.Batch))
			return
		}
	}
	n := len(*payload.Batch)
	s.keep(r, route, http.StatusOK, n, body, "")
	writeJSON(w, http.StatusOK, map[string]int{"received": n})
}

// mockPoll is the mock Amperity status callback.
func (s *Server) mockPoll(w http.ResponseWriter, r *http.Request) {
	const route = "/mock/poll/{webhook_id}"
	id := chi.URLParam(r, "webhook_id")
	body, release, err := s.readBody(r)
	defer release()
	if err != nil {
		s.keep(r, route, http.StatusBadRequest, 0, body, "reading body: "+err.Error())
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "reading body: " + err.Error()})
		return
	}
	rep := s.runs.record(id, r.Header.Get("X-Amperity-Tenant"), s.cfg.Now(), func(prev *Run) report {
		return checkReport(r.Method, r.Header, body, prev)
	})
	if len(rep.Violations) > 0 {
		for _, v := range rep.Violations {
			s.log.Warn("status report breaks the Amperity contract", "webhook_id", id, "violation", v)
		}
		s.keep(r, route, http.StatusBadRequest, 0, body, strings.Join(rep.Violations, "; "))
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": "status report rejected", "violations": rep.Violations})
		return
	}
	s.keep(r, route, http.StatusOK, 0, body, "")
	writeJSON(w, http.StatusOK, map[string]any{"ok": true, "webhook_id": id})
}

// mockError answers any request with the status in its path.
func (s *Server) mockError(w http.ResponseWriter, r *http.Request) {
	const route = "/mock/error/{code}"
	body, release, _ := s.readBody(r)
	defer release()
	code, err := strconv.Atoi(chi.URLParam(r, "code"))
	if err != nil || code < 200 || code > 599 {
		msg := fmt.Sprintf("%q is not an HTTP status between 200 and 599", chi.URLParam(r, "code"))
		s.keep(r, route, http.StatusBadRequest, 0, body, msg)
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": msg})
		return
	}
	s.keep(r, route, code, 0, body, "")
	if code == http.StatusNoContent || code == http.StatusNotModified {
		w.WriteHeader(code)
		return
	}
	writeJSON(w, code, map[string]any{"status": code, "message": http.StatusText(code)})
}
