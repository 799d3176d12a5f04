// Package destination is the devserver's far side of a handler: a mock
// Amperity status callback that checks every report against the contract,
// mock destination APIs (a generic JSON one with fault injection, a
// RudderStack one that validates like the real service), and an
// inspection API that shows what arrived. Everything it keeps is bounded.
package destination

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"
)

// Config configures a Server. Zero values mean the defaults given.
type Config struct {
	// MaxRequests is how many recent requests are kept; default 1000.
	MaxRequests int
	// MaxRuns is how many runs are kept; default 1000.
	MaxRuns int
	// Logger receives one line per contract violation; default
	// slog.Default().
	Logger *slog.Logger
	// Rand draws the failures of fault injection; default math/rand.
	Rand func() float64
	// Now is the clock stamped on requests and reports; default time.Now.
	Now func() time.Time
	// OnChange, when set, is called after a request or report is kept,
	// with "request" or "run" and the webhook id concerned (if any): the
	// web page's live updates hang on it. It must not block.
	OnChange func(kind, id string)
}

// Server serves the mock routes and the inspection API.
type Server struct {
	cfg      Config
	router   chi.Router
	runs     *runs
	requests *requests
	bufs     sync.Pool
	log      *slog.Logger

	secretsMu   sync.Mutex
	secrets     map[string]struct{}
	secretOrder []string
}

// New returns a Server with empty stores.
func New(cfg Config) *Server {
	if cfg.MaxRequests <= 0 {
		cfg.MaxRequests = 1000
	}
	if cfg.MaxRuns <= 0 {
		cfg.MaxRuns = 1000
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Float64
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := &Server{
		cfg:      cfg,
		runs:     newRuns(cfg.MaxRuns),
		requests: newRequests(cfg.MaxRequests),
		bufs:     sync.Pool{New: func() any { return new(bytes.Buffer) }},
		log:      cfg.Logger,
		secrets:  map[string]struct{}{},
	}
	r := chi.NewRouter()
	r.Get("/health", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	r.Post("/mock/destination", s.mockDestination)
	r.Post("/mock/rudderstack", s.mockRudderstack)
	r.HandleFunc("/mock/poll/{webhook_id}", s.mockPoll)
	r.HandleFunc("/mock/error/{code}", s.mockError)
	r.Get("/api/runs", s.apiRuns)
	r.Get("/api/runs/{webhook_id}", s.apiRun)
	r.Get("/api/requests", s.apiRequests)
	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusNotFound, map[string]any{"error": "no route " + r.Method + " " + r.URL.Path,
			"routes": []string{"GET /health", "POST /mock/destination", "POST /mock/rudderstack", "PUT /mock/poll/{webhook_id}",
				"ANY /mock/error/{code}", "GET /api/runs", "GET /api/runs/{webhook_id}", "GET /api/requests"}})
	})
	s.router = r
	return s
}

// ServeHTTP routes a request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.router.ServeHTTP(w, r) }

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(true)
	enc.Encode(v)
}

// readBody reads the request body into a pooled buffer; release returns
// the buffer.
func (s *Server) readBody(r *http.Request) (body []byte, release func(), err error) {
	buf := s.bufs.Get().(*bytes.Buffer)
	buf.Reset()
	if r.ContentLength > 0 && r.ContentLength < 64<<20 {
		buf.Grow(int(r.ContentLength))
	}
	_, err = buf.ReadFrom(r.Body)
	return buf.Bytes(), func() { s.bufs.Put(buf) }, err
}

// maxSecrets bounds the credentials remembered for scrubbing.
const maxSecrets = 1000

// remember keeps the credentials a request carried, so displays of other
// text (handler logs, bodies) can mask them too; the stores only ever hold
// masked headers.
func (s *Server) remember(h http.Header) {
	var found []string
	for _, name := range []string{"Authorization", "X-Api-Key", "Proxy-Authorization"} {
		v := h.Get(name)
		if _, cred, ok := strings.Cut(v, " "); ok && name != "X-Api-Key" {
			v = cred
		}
		if v = strings.TrimSpace(v); len(v) >= 4 {
			found = append(found, v)
			if user, _, ok := basicAuth(v); ok && len(user) >= 4 {
				found = append(found, user)
			}
		}
	}
	if len(found) == 0 {
		return
	}
	s.secretsMu.Lock()
	defer s.secretsMu.Unlock()
	for _, v := range found {
		if _, ok := s.secrets[v]; ok {
			continue
		}
		if len(s.secretOrder) >= maxSecrets {
			delete(s.secrets, s.secretOrder[0])
			s.secretOrder = s.secretOrder[1:]
		}
		s.secrets[v] = struct{}{}
		s.secretOrder = append(s.secretOrder, v)
	}
}

// basicAuth decodes the credentials part of a Basic Authorization value.
func basicAuth(cred string) (user, pass string, ok bool) {
	r := &http.Request{Header: http.Header{"Authorization": {"Basic " + cred}}}
	return r.BasicAuth()
}

// Secrets returns the credentials seen in requests, for masking.
func (s *Server) Secrets() []string {
	s.secretsMu.Lock()
	defer s.secretsMu.Unlock()
	return append([]string(nil), s.secretOrder...)
}

// WebhookHeader names the job a destination request belongs to; the
// runner's HTTP sink sends it, so the mock can count records per run.
const WebhookHeader = "X-Amperity-Webhook-Id"

// keep records a request for inspection.
func (s *Server) keep(r *http.Request, route string, status, records int, body []byte, msg string) {
	s.remember(r.Header)
	id := r.Header.Get(WebhookHeader)
	if strings.HasPrefix(route, "/mock/poll") {
		id = chi.URLParam(r, "webhook_id")
	}
	s.requests.add(Request{
		Time: s.cfg.Now(), Method: r.Method, Path: r.URL.RequestURI(), Route: route, Status: status, WebhookID: id,
		Records: records, Bytes: int64(len(body)), Headers: maskHeaders(r.Header), Message: msg,
	}, body)
	if id != "" && !strings.HasPrefix(route, "/mock/poll") && status/100 == 2 {
		s.runs.received(id, records)
	}
	if s.cfg.OnChange != nil {
		s.cfg.OnChange("request", id)
		if strings.HasPrefix(route, "/mock/poll") || (id != "" && status/100 == 2) {
			s.cfg.OnChange("run", id)
		}
	}
}

func (s *Server) apiRuns(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"runs": s.runs.list()})
}

func (s *Server) apiRun(w http.ResponseWriter, r *http.Request) {
	id := chi.URLParam(r, "webhook_id")
	run, ok := s.runs.get(id)
	if !ok {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "no run with webhook_id " + id})
		return
	}
	writeJSON(w, http.StatusOK, run)
}

func (s *Server) apiRequests(w http.ResponseWriter, r *http.Request) {
	reqs, counters := s.requests.list()
	writeJSON(w, http.StatusOK, map[string]any{"requests": reqs, "counters": counters})
}

// Runs returns every run kept, newest first.
func (s *Server) Runs() []Run { return s.runs.list() }

// RunByID returns one run with its report timeline.
func (s *Server) RunByID(id string) (Run, bool) { return s.runs.get(id) }

// Requests returns the kept requests, newest first, and per-route totals.
func (s *Server) Requests() ([]Request, map[string]Counter) { return s.requests.list() }
