package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"strings"
	"sync"
	"testing"

	"github.com/amperity/lambda-runner-go/runner"
)

// dataverseStandIn speaks the wire formats the connector meets: the
// Microsoft identity platform's client-credentials token endpoint, the
// Web API's entity metadata, and OData $batch with change sets (all or
// nothing; a refused row rolls its change set back and is named by
// Content-ID in the response).
type dataverseStandIn struct {
	t *testing.T

	mu       sync.Mutex
	tokens   int
	rows     []map[string]any
	batches  int
	throttle int // answer 429 to this many $batch requests first
}

func (d *dataverseStandIn) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	d.mu.Lock()
	defer d.mu.Unlock()
	switch {
	case r.URL.Path == "/tenant-1/oauth2/v2.0/token":
		r.ParseForm()
		user, pass, basic := r.BasicAuth()
		if !basic {
			user, pass = r.Form.Get("client_id"), r.Form.Get("client_secret")
		}
		if r.Form.Get("grant_type") != "client_credentials" || user != "app-1" || pass != "s3cret" || r.Form.Get("scope") != "http://"+r.Host+"/.default" {
			w.WriteHeader(401)
			io.WriteString(w, `{"error":"invalid_client"}`)
			return
		}
		d.tokens++
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"access_token":"tok-1","token_type":"Bearer","expires_in":3600}`)
		return
	case r.Header.Get("Authorization") != "Bearer tok-1":
		w.WriteHeader(401)
		io.WriteString(w, `{"error":{"code":"0x80072560","message":"The user is not a member of the organization."}}`)
		return
	case r.Method == "GET" && strings.HasPrefix(r.URL.Path, "/api/data/v9.2/EntityDefinitions(LogicalName='contact')"):
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"LogicalName":"contact","EntitySetName":"contacts","Attributes":[{"LogicalName":"firstname"},{"LogicalName":"lastname"},{"LogicalName":"emailaddress1"},{"LogicalName":"telephone1"}]}`)
		return
	case r.Method == "GET" && strings.HasPrefix(r.URL.Path, "/api/data/v9.2/EntityDefinitions("):
		w.WriteHeader(404)
		io.WriteString(w, `{"error":{"code":"0x80060888","message":"Could not find an entity with the specified key."}}`)
		return
	case r.Method == "POST" && r.URL.Path == "/api/data/v9.2/$batch":
		d.batch(w, r)
		return
	}
	w.WriteHeader(404)
}

func (d *dataverseStandIn) batch(w http.ResponseWriter, r *http.Request) {
	if d.throttle > 0 {
		d.throttle--
		w.Header().Set("Retry-After", "0")
		w.WriteHeader(429)
		return
	}
	d.batches++
	_, params, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	outer := multipart.NewReader(r.Body, params["boundary"])
	part, err := outer.NextPart()
	if err != nil {
		d.t.Errorf("batch: %v", err)
		w.WriteHeader(400)
		return
	}
	_, cparams, _ := mime.ParseMediaType(part.Header.Get("Content-Type"))
	inner := multipart.NewReader(part, cparams["boundary"])
	var staged []map[string]any
	var ids []string
	for {
		p, err := inner.NextPart()
		if err == io.EOF {
			break
		}
		br := bufio.NewReader(p)
		req, err := http.ReadRequest(br)
		if err != nil || req.Method != "POST" || req.URL.Path != "/api/data/v9.2/contacts" || p.Header.Get("Content-Transfer-Encoding") != "binary" {
			d.t.Errorf("change set request: %v %+v", err, req)
			w.WriteHeader(400)
			return
		}
		// Parts carry no Content-Length: the body runs to the boundary.
		var row map[string]any
		if err := json.NewDecoder(br).Decode(&row); err != nil {
			d.t.Errorf("row body: %v", err)
		}
		id := p.Header.Get("Content-ID")
		if email, _ := row["emailaddress1"].(string); email != "" && !strings.Contains(email, "@") {
			// The change set is rolled back; the response names the request.
			mw := multipart.NewWriter(w)
			w.Header().Set("Content-Type", "multipart/mixed; boundary="+mw.Boundary())
			h := textproto.MIMEHeader{"Content-Type": {"application/http"}, "Content-Transfer-Encoding": {"binary"}, "Content-ID": {id}}
			pw, _ := mw.CreatePart(h)
			fmt.Fprintf(pw, "HTTP/1.1 400 Bad Request\r\nContent-Type: application/json; odata.metadata=minimal\r\n\r\n%s\r\n",
				`{"error":{"code":"0x80044331","message":"A validation error occurred. The value of 'emailaddress1' is not a valid email address."}}`)
			mw.Close()
			return
		}
		staged = append(staged, row)
		ids = append(ids, id)
	}
	d.rows = append(d.rows, staged...)
	mw := multipart.NewWriter(w)
	w.Header().Set("Content-Type", "multipart/mixed; boundary="+mw.Boundary())
	var cs strings.Builder
	cw := multipart.NewWriter(&cs)
	for _, id := range ids {
		pw, _ := cw.CreatePart(textproto.MIMEHeader{"Content-Type": {"application/http"}, "Content-Transfer-Encoding": {"binary"}, "Content-ID": {id}})
		fmt.Fprintf(pw, "HTTP/1.1 204 No Content\r\nOData-EntityId: http://x/api/data/v9.2/contacts(00000000-0000-0000-0000-00000000000%s)\r\n\r\n", id)
	}
	cw.Close()
	pw, _ := mw.CreatePart(textproto.MIMEHeader{"Content-Type": {"multipart/mixed; boundary=" + cw.Boundary()}})
	io.WriteString(pw, cs.String())
	mw.Close()
}

func newTestSink(t *testing.T, table string) (*sink, *dataverseStandIn) {
	stand := &dataverseStandIn{t: t}
	srv := httptest.NewServer(stand)
	t.Cleanup(srv.Close)
	cfg := settings{URL: srv.URL, Table: table, TenantID: "tenant-1", ClientID: "app-1", ClientSecret: "s3cret",
		TokenURL: srv.URL + "/tenant-1/oauth2/v2.0/token"}
	return newSink(context.Background(), cfg, slog.New(slog.DiscardHandler)), stand
}

func batch(lines ...string) *runner.Batch {
	b := &runner.Batch{Seq: 1}
	for i, l := range lines {
		b.Records = append(b.Records, runner.Record{Line: int64(i + 1), Raw: []byte(l)})
	}
	return b
}

func TestDataverse_CreatesRowsInAChangeSet(t *testing.T) {
	s, stand := newTestSink(t, "contact")
	stand.throttle = 1
	ctx := context.Background()
	err := s.Send(ctx, batch(
		`{"firstname":"Ada","lastname":"Lovelace","emailaddress1":"ada@example.com","amperity_id":"a1"}`,
		`{"firstname":"Bad","emailaddress1":"not-an-email"}`,
		`{"amperity_id":"only-unknown-fields"}`,
		`{"firstname":"Grace","telephone1":"+14155550100"}`,
	))
	var recErrs runner.RecordErrors
	if !errors.As(err, &recErrs) || len(recErrs) != 2 {
		t.Fatalf("err = %v", err)
	}
	if recErrs[0].Line != 2 || !strings.Contains(recErrs[0].Error(), "'emailaddress1' is not a valid email address") ||
		recErrs[1].Line != 3 || !strings.Contains(recErrs[1].Error(), "no field is a column of table contact") {
		t.Fatalf("record errors %v", recErrs)
	}
	if len(stand.rows) != 2 || stand.rows[0]["firstname"] != "Ada" || stand.rows[0]["amperity_id"] != nil || stand.rows[1]["telephone1"] != "+14155550100" {
		t.Fatalf("rows %+v", stand.rows)
	}
	// One more batch: the token and the metadata are reused.
	if err := s.Send(ctx, batch(`{"firstname":"Linus"}`)); err != nil {
		t.Fatal(err)
	}
	if stand.tokens != 1 || len(stand.rows) != 3 || stand.batches != 3 {
		t.Fatalf("tokens %d rows %d batches %d", stand.tokens, len(stand.rows), stand.batches)
	}
}

func TestDataverse_UnknownTableStopsTheJob(t *testing.T) {
	s, _ := newTestSink(t, "nosuchtable")
	err := s.Send(context.Background(), batch(`{"firstname":"Ada"}`))
	if !runner.IsFatal(err) || !strings.Contains(err.Error(), "Could not find an entity") {
		t.Fatalf("err = %v", err)
	}
}

func TestDataverse_BadCredentialsStopTheJob(t *testing.T) {
	s, _ := newTestSink(t, "contact")
	s.cfg.ClientSecret = "wrong"
	s = newSink(context.Background(), s.cfg, slog.New(slog.DiscardHandler))
	err := s.Send(context.Background(), batch(`{"firstname":"Ada"}`))
	if !runner.IsFatal(err) || !strings.Contains(err.Error(), "invalid_client") {
		t.Fatalf("err = %v", err)
	}
	if strings.Contains(err.Error(), "wrong") {
		t.Fatal("the client secret is in the error")
	}
}

func TestDataverse_SettingsNameWhatIsMissing(t *testing.T) {
	_, err := loadSettings(&runner.Env{Lookup: func(string) (string, bool) { return "", false }})
	for _, want := range []string{"DATAVERSE_URL", "DATAVERSE_TABLE", "AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET"} {
		if err == nil || !strings.Contains(err.Error(), want+" is required") {
			t.Errorf("err %v lacks %s", err, want)
		}
	}
}
