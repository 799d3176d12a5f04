// Package webui is the devserver's web page: the runs Amperity would see,
// the requests the mock destinations received, the gateway's invocations
// and build errors, and the local bucket, updated live with Server-Sent
// Events. Pages are rendered on the server with html/template (every value
// escaped, credentials masked) and work without JavaScript; a small
// embedded script refreshes the live parts when something changes.
package webui

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/amperity/lambda-runner-go/emulator/destination"
	"github.com/amperity/lambda-runner-go/emulator/gateway"
	"github.com/amperity/lambda-runner-go/emulator/s3"
	"github.com/go-chi/chi/v5"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed assets
var assetFS embed.FS

// Sources are what the page shows. Gateway and S3 may be nil.
type Sources struct {
	Destination *destination.Server
	Gateway     *gateway.Gateway
	S3          *s3.Server
	// URLs of the services, for links and ready-to-paste commands.
	GatewayURL, S3URL, DestinationURL string
}

// maxRows is how many rows a list shows: the stores hold up to thousands
// of entries, and a page stays fast by rendering the newest ones.
const maxRows = 200

// Server serves the page.
type Server struct {
	src    Sources
	hub    *hub
	tmpl   *template.Template
	router chi.Router
}

// New parses the templates and returns the page's server.
func New(src Sources) (*Server, error) {
	s := &Server{src: src, hub: newHub()}
	tmpl, err := template.New("").Funcs(template.FuncMap{
		"pct":      func(p float64) string { return fmt.Sprintf("%.0f", p*100) },
		"bytes":    humanBytes,
		"ago":      func(t time.Time) string { return t.Format("15:04:05") },
		"duration": func(a, b time.Time) string { return b.Sub(a).Round(time.Millisecond).String() },
		"ms":       func(ms float64) string { return fmt.Sprintf("%.1f ms", ms) },
		"scrub":    s.scrub,
		"pretty":   s.pretty,
		"plural": func(n int, word string) string {
			if n == 1 {
				return "1 " + word
			}
			return fmt.Sprintf("%d %ss", n, word)
		},
	}).ParseFS(templateFS, "templates/*.html")
	if err != nil {
		return nil, fmt.Errorf("webui: %w", err)
	}
	s.tmpl = tmpl
	assets, _ := fs.Sub(assetFS, "assets")
	r := chi.NewRouter()
	r.Get("/", s.page("runs", s.runsData))
	r.Get("/runs/{id}", s.page("run", s.runData))
	r.Get("/requests", s.page("requests", s.requestsData))
	r.Get("/invocations", s.page("invocations", s.invocationsData))
	r.Get("/s3", s.page("s3", s.s3Data))
	r.Get("/fragment/runs", s.fragment("runs-live", s.runsData))
	r.Get("/fragment/runs/{id}", s.fragment("run-live", s.runData))
	r.Get("/fragment/requests", s.fragment("requests-live", s.requestsData))
	r.Get("/fragment/invocations", s.fragment("invocations-live", s.invocationsData))
	r.Get("/fragment/s3", s.fragment("s3-live", s.s3Data))
	r.Get("/fragment/build", s.fragment("build-live", func(*http.Request) (map[string]any, error) { return map[string]any{}, nil }))
	r.Get("/events", s.events)
	r.Handle("/static/*", http.StripPrefix("/static/", http.FileServer(http.FS(assets))))
	s.router = r
	return s, nil
}

// Routes lists the paths the page serves, so the devserver can send the
// rest to the mock destinations.
func (s *Server) Routes() []string {
	return []string{"/", "/runs/*", "/requests", "/invocations", "/s3", "/fragment/*", "/events", "/static/*"}
}

// ServeHTTP serves the page.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.router.ServeHTTP(w, r) }

// Notify tells open pages that something changed: kind is runs, requests,
// invocations, build or s3. Safe from any goroutine; never blocks.
func (s *Server) Notify(kind, id string) { s.hub.publish(event{kind: kind, id: id}) }

type dataFunc func(*http.Request) (map[string]any, error)

// common adds what every page shows: the build errors banner and links.
func (s *Server) common(data map[string]any) map[string]any {
	if s.src.Gateway != nil {
		data["BuildErrors"] = s.src.Gateway.BuildErrors()
	}
	data["GatewayURL"], data["S3URL"], data["DestinationURL"] = s.src.GatewayURL, s.src.S3URL, s.src.DestinationURL
	if _, ok := data["Title"]; !ok {
		data["Title"] = ""
	}
	if _, ok := data["Page"]; !ok {
		data["Page"] = ""
	}
	return data
}

func (s *Server) page(name string, data dataFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		d, err := data(r)
		if err != nil {
			http.Error(w, err.Error(), http.StatusNotFound)
			return
		}
		d["Page"] = name
		s.render(w, name+"-page", s.common(d))
	}
}

func (s *Server) fragment(name string, data dataFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		d, err := data(r)
		if err != nil {
			http.Error(w, err.Error(), http.StatusNotFound)
			return
		}
		s.render(w, name, s.common(d))
	}
}

func (s *Server) render(w http.ResponseWriter, name string, data any) {
	var buf bytes.Buffer
	if err := s.tmpl.ExecuteTemplate(&buf, name, data); err != nil {
		http.Error(w, "template: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	// The page runs only its own script: a record's HTML shown on it can
	// never run, even if escaping had a hole.
	w.Header().Set("Content-Security-Policy", "default-src 'self'; style-src 'self'; script-src 'self'; img-src 'self' data:")
	buf.WriteTo(w)
}

// runRow is a run with what the list shows.
type runRow struct {
	destination.Run
	Duration string
}

func (s *Server) runsData(*http.Request) (map[string]any, error) {
	runs := s.src.Destination.Runs()
	total := len(runs)
	if len(runs) > maxRows {
		runs = runs[:maxRows]
	}
	rows := make([]runRow, len(runs))
	for i, r := range runs {
		rows[i] = runRow{Run: r, Duration: r.LastReport.Sub(r.FirstReport).Round(time.Millisecond).String()}
	}
	return map[string]any{"Runs": rows, "Total": total, "Shown": len(rows)}, nil
}

func (s *Server) runData(r *http.Request) (map[string]any, error) {
	id := chi.URLParam(r, "id")
	run, ok := s.src.Destination.RunByID(id)
	if !ok {
		return nil, fmt.Errorf("no run with webhook id %q", id)
	}
	reqs, _ := s.src.Destination.Requests()
	var mine []destination.Request
	for _, q := range reqs {
		if q.WebhookID == id && !strings.HasPrefix(q.Route, "/mock/poll") {
			mine = append(mine, q)
		}
	}
	if len(mine) > maxRows {
		mine = mine[:maxRows]
	}
	return map[string]any{"Title": "Run " + id, "Run": run, "Requests": mine, "Duration": run.LastReport.Sub(run.FirstReport).Round(time.Millisecond).String()}, nil
}

func (s *Server) requestsData(*http.Request) (map[string]any, error) {
	reqs, counters := s.src.Destination.Requests()
	total := len(reqs)
	if len(reqs) > maxRows {
		reqs = reqs[:maxRows]
	}
	routes := make([]string, 0, len(counters))
	for r := range counters {
		routes = append(routes, r)
	}
	sort.Strings(routes)
	type counterRow struct {
		Route string
		destination.Counter
	}
	var rows []counterRow
	for _, r := range routes {
		rows = append(rows, counterRow{r, counters[r]})
	}
	return map[string]any{"Requests": reqs, "Total": total, "Shown": len(reqs), "Counters": rows}, nil
}

func (s *Server) invocationsData(*http.Request) (map[string]any, error) {
	var invs []gateway.Invocation
	var handlers []string
	if s.src.Gateway != nil {
		invs = s.src.Gateway.Invocations()
		handlers = s.src.Gateway.Handlers()
	}
	total := len(invs)
	if len(invs) > maxRows {
		invs = invs[:maxRows]
	}
	return map[string]any{"Invocations": invs, "Total": total, "Shown": len(invs), "Handlers": handlers}, nil
}

// objectRow is an object with a ready-to-run request.
type objectRow struct {
	s3.Object
	URL  string
	Curl string
}

func (s *Server) s3Data(*http.Request) (map[string]any, error) {
	if s.src.S3 == nil {
		return map[string]any{}, nil
	}
	objs, err := s.src.S3.Objects()
	if err != nil {
		return nil, err
	}
	rows := make([]objectRow, len(objs))
	for i, o := range objs {
		url := s.src.S3URL + "/" + s.src.S3.Bucket() + "/" + o.Key
		body := fmt.Sprintf(`{"data_url": %q, "callback_url": %q, "webhook_id": "wh-%s", "access_token": "local-token"}`,
			url, s.src.DestinationURL+"/mock/poll/", slug(o.Key))
		rows[i] = objectRow{Object: o, URL: url,
			Curl: fmt.Sprintf("curl -X POST %s/lambda/template -H 'Content-Type: application/json' -d '%s'", s.src.GatewayURL, body)}
	}
	return map[string]any{"Objects": rows, "Bucket": s.src.S3.Bucket()}, nil
}

// slug makes a webhook id from an object key.
func slug(key string) string {
	var b strings.Builder
	for _, c := range strings.TrimSuffix(strings.TrimSuffix(key, ".gz"), ".ndjson") {
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' {
			b.WriteRune(c)
		} else {
			b.WriteByte('-')
		}
	}
	return b.String()
}

// scrub masks every credential the mock destinations have seen, wherever
// it appears (a handler that logs its token, a body that echoes it).
func (s *Server) scrub(text string) string {
	for _, secret := range s.src.Destination.Secrets() {
		if strings.Contains(text, secret) {
			text = strings.ReplaceAll(text, secret, "****")
		}
	}
	return text
}

// maxShown is how much of a body or log a page shows before "show all".
const maxShown = 4 << 10

// pretty indents a JSON body for display (masked); other text is shown as
// it is.
func (s *Server) pretty(body string) string {
	var out bytes.Buffer
	if err := json.Indent(&out, []byte(body), "", "  "); err == nil {
		body = out.String()
	}
	return s.scrub(body)
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// events streams change notifications as Server-Sent Events.
func (s *Server) events(w http.ResponseWriter, r *http.Request) {
	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	ch, cancel := s.hub.subscribe()
	defer cancel()
	fmt.Fprint(w, "retry: 1000\n: connected\n\n")
	rc.Flush()
	keepalive := time.NewTicker(15 * time.Second)
	defer keepalive.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case e := <-ch:
			data, _ := json.Marshal(map[string]string{"id": e.id})
			fmt.Fprintf(w, "event: %s\ndata: %s\n\n", e.kind, data)
			if err := rc.Flush(); err != nil {
				return
			}
		case <-keepalive.C:
			fmt.Fprint(w, ": keepalive\n\n")
			if err := rc.Flush(); err != nil {
				return
			}
		}
	}
}
