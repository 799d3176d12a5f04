package destination

import (
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"
)

// maxBody is how much of a request body is kept for inspection.
const maxBody = 64 << 10

// Request is one request to a mock route, as kept for inspection.
type Request struct {
	ID            int64             `json:"id"`
	Time          time.Time         `json:"time"`
	Method        string            `json:"method"`
	Path          string            `json:"path"`
	Route         string            `json:"route"`
	WebhookID     string            `json:"webhook_id,omitempty"`
	Status        int               `json:"status"`
	Records       int               `json:"records"`
	Bytes         int64             `json:"bytes"`
	Headers       map[string]string `json:"headers"`
	Body          string            `json:"body"`
	BodyTruncated bool              `json:"body_truncated"`
	Message       string            `json:"message,omitempty"`
}

// Counter is an exact running total for one route since start.
type Counter struct {
	Requests int64 `json:"requests"`
	Records  int64 `json:"records"`
	Bytes    int64 `json:"bytes"`
}

// requests keeps the last max requests in a ring and exact counters.
type requests struct {
	mu       sync.Mutex
	ring     []Request
	next     int // ring index of the next write
	full     bool
	seq      int64
	counters map[string]*Counter
}

func newRequests(max int) *requests {
	return &requests{ring: make([]Request, max), counters: map[string]*Counter{}}
}

// add stores a request, keeping at most maxBody bytes of its body, and
// returns its id.
func (rq *requests) add(r Request, body []byte) int64 {
	if len(body) > maxBody {
		r.BodyTruncated = true
		body = body[:maxBody]
	}
	r.Body = string(body) // a copy: the caller reuses its buffer
	rq.mu.Lock()
	defer rq.mu.Unlock()
	rq.seq++
	r.ID = rq.seq
	rq.ring[rq.next] = r
	rq.next = (rq.next + 1) % len(rq.ring)
	if rq.next == 0 {
		rq.full = true
	}
	c := rq.counters[r.Route]
	if c == nil {
		c = &Counter{}
		rq.counters[r.Route] = c
	}
	c.Requests++
	c.Records += int64(r.Records)
	c.Bytes += r.Bytes
	return r.ID
}

// list returns the kept requests, newest first, and the counters.
func (rq *requests) list() ([]Request, map[string]Counter) {
	rq.mu.Lock()
	defer rq.mu.Unlock()
	n := rq.next
	if rq.full {
		n = len(rq.ring)
	}
	out := make([]Request, 0, n)
	for i := 1; i <= n; i++ {
		out = append(out, rq.ring[(rq.next-i+len(rq.ring))%len(rq.ring)])
	}
	counters := make(map[string]Counter, len(rq.counters))
	for k, c := range rq.counters {
		counters[k] = *c
	}
	return out, counters
}

// secretHeaders are masked wherever requests are shown.
var secretHeaders = []string{"authorization", "proxy-authorization", "x-api-key", "cookie", "x-amz-security-token"}

// maskHeaders flattens headers for display, masking credentials but
// keeping an Authorization scheme ("Bearer ****") so a user can still see
// which kind was sent.
func maskHeaders(h http.Header) map[string]string {
	out := make(map[string]string, len(h))
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := strings.Join(h[k], ", ")
		lk := strings.ToLower(k)
		if contains(secretHeaders, lk) || strings.Contains(lk, "token") || strings.Contains(lk, "secret") {
			scheme, _, found := strings.Cut(v, " ")
			if found && (lk == "authorization" || lk == "proxy-authorization") {
				v = scheme + " ****"
			} else {
				v = "****"
			}
		}
		out[k] = v
	}
	return out
}
