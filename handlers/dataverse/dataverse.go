package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/amperity/lambda-runner-go/runner"
	"golang.org/x/oauth2/clientcredentials"
)

var errDataverseBatchLimit = errors.New("BATCH_SIZE must be at most 1000: Dataverse refuses larger $batch requests")

type settings struct {
	URL, Table                       string
	TenantID, ClientID, ClientSecret string
	TokenURL                         string
}

func loadSettings(env *runner.Env) (settings, error) {
	cfg := settings{
		URL:          strings.TrimRight(env.Required("DATAVERSE_URL"), "/"),
		Table:        env.Required("DATAVERSE_TABLE"),
		TenantID:     env.Required("AZURE_TENANT_ID"),
		ClientID:     env.Required("AZURE_CLIENT_ID"),
		ClientSecret: env.Required("AZURE_CLIENT_SECRET"),
		TokenURL:     env.String("TOKEN_URL", ""),
	}
	if cfg.TokenURL == "" && cfg.TenantID != "" {
		cfg.TokenURL = "https://login.microsoftonline.com/" + url.PathEscape(cfg.TenantID) + "/oauth2/v2.0/token"
	}
	return cfg, env.Err()
}

// api is the Web API's path prefix.
const api = "/api/data/v9.2/"

// sink writes batches through the Dataverse Web API.
type sink struct {
	cfg    settings
	client *http.Client // adds and refreshes the OAuth2 token
	log    *slog.Logger

	mu        sync.Mutex
	entitySet string          // the table's entity set name, e.g. contacts
	columns   map[string]bool // the table's column logical names
}

func newSink(ctx context.Context, cfg settings, log *slog.Logger) *sink {
	cc := clientcredentials.Config{ClientID: cfg.ClientID, ClientSecret: cfg.ClientSecret, TokenURL: cfg.TokenURL,
		Scopes: []string{cfg.URL + "/.default"}}
	client := cc.Client(ctx)
	client.Timeout = 2 * time.Minute
	return &sink{cfg: cfg, client: client, log: log}
}

// metadata reads the table's entity set and columns, once.
func (s *sink) metadata(ctx context.Context) (string, map[string]bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.columns != nil {
		return s.entitySet, s.columns, nil
	}
	u := fmt.Sprintf("%s%sEntityDefinitions(LogicalName='%s')?$select=EntitySetName,LogicalName&$expand=Attributes($select=LogicalName)",
		s.cfg.URL, api, url.PathEscape(s.cfg.Table))
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	odataHeaders(req.Header)
	resp, err := s.client.Do(req)
	if err != nil {
		return "", nil, runner.Fatal(fmt.Errorf("reading table %s metadata: %w", s.cfg.Table, err))
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if resp.StatusCode != http.StatusOK {
		return "", nil, runner.Fatal(fmt.Errorf("reading table %s metadata: %s: %s", s.cfg.Table, resp.Status, odataError(body)))
	}
	var meta struct {
		EntitySetName string
		Attributes    []struct{ LogicalName string }
	}
	if err := json.Unmarshal(body, &meta); err != nil || meta.EntitySetName == "" {
		return "", nil, runner.Fatal(fmt.Errorf("reading table %s metadata: unexpected answer", s.cfg.Table))
	}
	cols := map[string]bool{}
	for _, a := range meta.Attributes {
		cols[a.LogicalName] = true
	}
	s.entitySet, s.columns = meta.EntitySetName, cols
	return s.entitySet, s.columns, nil
}

func odataHeaders(h http.Header) {
	h.Set("OData-MaxVersion", "4.0")
	h.Set("OData-Version", "4.0")
	h.Set("Accept", "application/json")
}

// odataError extracts error.message from an OData error body.
func odataError(body []byte) string {
	var e struct {
		Error struct{ Code, Message string } `json:"error"`
	}
	if json.Unmarshal(body, &e) == nil && e.Error.Message != "" {
		return e.Error.Message
	}
	s := strings.TrimSpace(string(body))
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}

// row is a record ready to create.
type row struct {
	line int64
	body []byte
}

// Send creates the batch's rows in one change set. A change set is all or
// nothing: when Dataverse refuses a row, that row becomes a record error
// and the change set is sent again without it, so one bad row costs one
// more request, not the whole batch.
func (s *sink) Send(ctx context.Context, b *runner.Batch) error {
	set, cols, err := s.metadata(ctx)
	if err != nil {
		return err
	}
	var recErrs runner.RecordErrors
	var rows []row
	dropped := map[string]bool{}
	for _, r := range b.Records {
		var rec map[string]any
		if err := r.Decode(&rec); err != nil {
			recErrs = append(recErrs, runner.RecordError{Line: r.Line, Err: err})
			continue
		}
		kept := map[string]any{}
		for k, v := range rec {
			if cols[k] {
				kept[k] = v
			} else {
				dropped[k] = true
			}
		}
		if len(kept) == 0 {
			recErrs = append(recErrs, runner.RecordError{Line: r.Line, Err: fmt.Errorf("no field is a column of table %s", s.cfg.Table)})
			continue
		}
		body, _ := json.Marshal(kept)
		rows = append(rows, row{line: r.Line, body: body})
	}
	if len(dropped) > 0 {
		names := make([]string, 0, len(dropped))
		for k := range dropped {
			names = append(names, k)
		}
		sort.Strings(names)
		s.log.Debug("fields that are not columns of the table were left out", "table", s.cfg.Table, "fields", names)
	}
	for len(rows) > 0 {
		failed, msg, err := s.changeSet(ctx, set, rows)
		if err != nil {
			return err
		}
		if failed < 0 {
			break
		}
		recErrs = append(recErrs, runner.RecordError{Line: rows[failed].line, Err: errors.New(msg)})
		rows = append(rows[:failed], rows[failed+1:]...)
	}
	if len(recErrs) > 0 {
		sort.Slice(recErrs, func(i, j int) bool { return recErrs[i].Line < recErrs[j].Line })
		return recErrs
	}
	return nil
}

func boundary(prefix string) string {
	var b [8]byte
	rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

// changeSet posts rows as one $batch with one change set. It returns the
// index of the row Dataverse refused (with its message), or -1 when all
// were created.
func (s *sink) changeSet(ctx context.Context, set string, rows []row) (int, string, error) {
	var body bytes.Buffer
	batch := multipart.NewWriter(&body)
	batch.SetBoundary(boundary("batch_"))
	var cs bytes.Buffer
	change := multipart.NewWriter(&cs)
	change.SetBoundary(boundary("changeset_"))
	for i, r := range rows {
		h := textproto.MIMEHeader{}
		h.Set("Content-Type", "application/http")
		h.Set("Content-Transfer-Encoding", "binary")
		h.Set("Content-ID", strconv.Itoa(i+1))
		w, _ := change.CreatePart(h)
		fmt.Fprintf(w, "POST %s%s HTTP/1.1\r\nContent-Type: application/json; type=entry\r\n\r\n%s\r\n", api, set, r.body)
	}
	change.Close()
	h := textproto.MIMEHeader{}
	h.Set("Content-Type", "multipart/mixed; boundary="+change.Boundary())
	w, _ := batch.CreatePart(h)
	w.Write(cs.Bytes())
	batch.Close()

	var resp *http.Response
	for attempt := 1; ; attempt++ {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, s.cfg.URL+api+"$batch", bytes.NewReader(body.Bytes()))
		odataHeaders(req.Header)
		req.Header.Set("Content-Type", "multipart/mixed; boundary="+batch.Boundary())
		var err error
		resp, err = s.client.Do(req)
		if err != nil {
			return 0, "", fmt.Errorf("POST $batch: %w", err)
		}
		// Service protection limits answer 429 with Retry-After.
		if (resp.StatusCode != http.StatusTooManyRequests && resp.StatusCode != http.StatusServiceUnavailable) || attempt == 5 {
			break
		}
		wait := time.Duration(attempt) * time.Second
		if secs, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && secs >= 0 {
			wait = time.Duration(secs) * time.Second
		}
		resp.Body.Close()
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return 0, "", context.Cause(ctx)
		case <-t.C:
		}
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		return 0, "", runner.Fatal(fmt.Errorf("POST $batch: %s: %s (does the app registration have a Dataverse application user with a security role?)", resp.Status, odataError(b)))
	}
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		return 0, "", fmt.Errorf("POST $batch: %s: %s", resp.Status, odataError(b))
	}
	failed, msg, err := parseBatchResponse(resp.Header.Get("Content-Type"), resp.Body, len(rows))
	if err != nil {
		return 0, "", fmt.Errorf("POST $batch: %w", err)
	}
	return failed, msg, nil
}

// parseBatchResponse reads a $batch response: the change set's parts
// (all 2xx) or the single failure that rolled it back, identified by its
// Content-ID.
func parseBatchResponse(contentType string, body io.Reader, n int) (int, string, error) {
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil || !strings.HasPrefix(mt, "multipart/") {
		return 0, "", fmt.Errorf("response is %q, not multipart", contentType)
	}
	mr := multipart.NewReader(body, params["boundary"])
	ok := 0
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return 0, "", err
		}
		pmt, _, _ := mime.ParseMediaType(part.Header.Get("Content-Type"))
		if strings.HasPrefix(pmt, "multipart/") {
			failed, msg, err := parseBatchResponse(part.Header.Get("Content-Type"), part, n)
			if err != nil || failed >= 0 {
				return failed, msg, err
			}
			ok += n
			continue
		}
		resp, err := http.ReadResponse(bufio.NewReader(part), nil)
		if err != nil {
			return 0, "", fmt.Errorf("reading a response part: %w", err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode/100 == 2 {
			ok++
			continue
		}
		id, err := strconv.Atoi(strings.TrimSpace(part.Header.Get("Content-ID")))
		if err != nil || id < 1 || id > n {
			return 0, "", fmt.Errorf("the change set failed (%s: %s) without saying which row", resp.Status, odataError(b))
		}
		return id - 1, fmt.Sprintf("Dataverse refused the row: %s: %s", resp.Status, odataError(b)), nil
	}
	if ok < n {
		return 0, "", fmt.Errorf("%d of %d rows confirmed", ok, n)
	}
	return -1, "", nil
}
