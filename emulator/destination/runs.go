package destination

import (
	"sort"
	"sync"
	"time"
)

// Limits on what one run keeps, so a run of millions of records with a
// report every few seconds still has a bounded footprint.
const (
	maxTimeline   = 500  // most recent reports kept per run
	maxRunErrors  = 1000 // errors kept per run (the count stays exact)
	maxViolations = 200  // violations kept per run (the count stays exact)
)

// Run is one webhook job as seen by the mock Amperity callback.
type Run struct {
	WebhookID      string      `json:"webhook_id"`
	Tenant         string      `json:"tenant"`
	State          string      `json:"state"`
	Progress       float64     `json:"progress"`
	Reports        int         `json:"reports"`
	Errors         []string    `json:"errors"`
	ErrorCount     int         `json:"error_count"`
	Reason         string      `json:"reason"`
	Violations     []Violation `json:"violations"`
	ViolationCount int         `json:"violation_count"`
	// Records and Requests count what the mock destinations received for
	// this run (requests carrying its X-Amperity-Webhook-Id).
	Records     int64     `json:"records_received"`
	Requests    int64     `json:"destination_requests"`
	FirstReport time.Time `json:"first_report"`
	LastReport  time.Time `json:"last_report"`
	// Timeline is filled only for a single run's view.
	Timeline []TimelineEntry `json:"timeline,omitempty"`

	timeline []TimelineEntry
}

// Violation is a breach of the status callback contract.
type Violation struct {
	Time    time.Time `json:"time"`
	Report  int       `json:"report"` // 1-based number of the report
	Message string    `json:"message"`
}

// TimelineEntry is one status report received.
type TimelineEntry struct {
	N          int       `json:"n"`
	Time       time.Time `json:"time"`
	State      string    `json:"state"`
	Progress   float64   `json:"progress"`
	Errors     []string  `json:"errors"`
	Reason     string    `json:"reason"`
	Answered   int       `json:"answered"` // HTTP status the mock answered
	Violations []string  `json:"violations,omitempty"`
}

func (r *Run) terminal() bool { return r.State == "succeeded" || r.State == "failed" }

// runs holds the most recent runs, up to a limit.
type runs struct {
	mu    sync.Mutex
	max   int
	byID  map[string]*Run
	order []string // webhook ids, oldest first by first report
}

func newRuns(max int) *runs { return &runs{max: max, byID: map[string]*Run{}} }

// record checks a report against its run and records it, atomically so
// concurrent reports for one run are checked in the order recorded. It
// returns the checked report.
func (rs *runs) record(id, tenant string, at time.Time, check func(prev *Run) report) report {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	r, ok := rs.byID[id]
	rep := check(r)
	answered := 200
	if len(rep.Violations) > 0 {
		answered = 400
	}
	if !ok {
		if len(rs.order) >= rs.max {
			delete(rs.byID, rs.order[0])
			rs.order = rs.order[1:]
		}
		r = &Run{WebhookID: id, FirstReport: at, Errors: []string{}, Violations: []Violation{}}
		rs.byID[id] = r
		rs.order = append(rs.order, id)
	}
	r.Reports++
	r.LastReport = at
	if tenant != "" {
		r.Tenant = tenant
	}
	// A report that breaks the contract still moves the run where its
	// fields are usable: the page then shows both what happened and what
	// was wrong with it.
	if rep.stateOK && !r.terminal() {
		r.State = rep.State
		r.Reason = rep.Reason
	}
	if rep.progressOK && rep.Progress > r.Progress {
		r.Progress = rep.Progress
	}
	for _, e := range rep.Errors {
		r.ErrorCount++
		if len(r.Errors) < maxRunErrors {
			r.Errors = append(r.Errors, e)
		}
	}
	for _, v := range rep.Violations {
		r.ViolationCount++
		if len(r.Violations) < maxViolations {
			r.Violations = append(r.Violations, Violation{Time: at, Report: r.Reports, Message: v})
		}
	}
	errs := rep.Errors
	if errs == nil {
		errs = []string{}
	}
	r.timeline = append(r.timeline, TimelineEntry{N: r.Reports, Time: at, State: rep.State, Progress: rep.Progress,
		Errors: errs, Reason: rep.Reason, Answered: answered, Violations: rep.Violations})
	if len(r.timeline) > maxTimeline {
		r.timeline = append(r.timeline[:0:0], r.timeline[len(r.timeline)-maxTimeline:]...)
	}
	return rep
}

// received counts records a destination accepted for a run.
func (rs *runs) received(id string, records int) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if r, ok := rs.byID[id]; ok {
		r.Records += int64(records)
		r.Requests++
	}
}

// list returns snapshots of every run, newest first, without timelines.
func (rs *runs) list() []Run {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	out := make([]Run, 0, len(rs.byID))
	for _, r := range rs.byID {
		cp := *r
		cp.timeline = nil
		out = append(out, cp)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].FirstReport.After(out[j].FirstReport) })
	return out
}

// get returns a snapshot of one run with its timeline.
func (rs *runs) get(id string) (Run, bool) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	r, ok := rs.byID[id]
	if !ok {
		return Run{}, false
	}
	cp := *r
	cp.Timeline = append([]TimelineEntry(nil), r.timeline...)
	cp.timeline = nil
	return cp, true
}
