package runner

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"
	"time"
)

// HTTPConfig configures an HTTPSink. Only URL is required.
type HTTPConfig struct {
	// URL receives one POST per batch.
	URL string
	// Client sends the requests; set it to add auth (an OAuth2 client, a
	// RoundTripper that signs). Default: a client with a 60 s timeout.
	Client *http.Client
	// Header is added to every request (API keys, Basic auth).
	Header http.Header
	// DataKey wraps the records: {"<DataKey>": [...]}. Empty sends a bare
	// JSON array. The template handler uses "data", Amperity's usual shape.
	DataKey string
	// Map transforms each record before it is sent. It returns the value to
	// encode as JSON, or nil to leave the record out. An error fails that
	// record only. Without Map, records are sent as the raw bytes read.
	// MapJSON builds one from a typed function.
	Map func(Record) (any, error)
	// MapBatch builds the whole request body from the batch's records (as
	// mapped by Map, or raw). Its result is encoded as JSON; it replaces
	// the DataKey wrapping.
	MapBatch func(b *Batch, records []json.RawMessage) (any, error)
	// Encode writes the request body itself, for APIs that do not take
	// JSON (multipart, CSV), and returns its Content-Type. It takes
	// precedence over MapBatch.
	Encode func(w io.Writer, b *Batch, records []json.RawMessage) (contentType string, err error)
	// RequestsPerMinute limits request starts, retries included. Zero
	// means no limit.
	RequestsPerMinute float64
	// Retry is the policy for 429, 502, 503, 504 and network errors.
	Retry Backoff
	// Clock and Jitter are for tests; zero values use the real ones.
	Clock  Clock
	Jitter func() float64
}

// HTTPSink posts each batch as one JSON request. It is safe for
// concurrent use.
type HTTPSink struct {
	cfg   HTTPConfig
	retry retrier
	limit *limiter
	bufs  sync.Pool
}

var _ Sink = (*HTTPSink)(nil)

// NewHTTPSink checks cfg and returns the sink.
func NewHTTPSink(cfg HTTPConfig) (*HTTPSink, error) {
	u, err := url.Parse(cfg.URL)
	if cfg.URL == "" {
		return nil, errors.New("http sink: URL is required")
	}
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("http sink: URL %q is not an http(s) URL", redactURLString(cfg.URL))
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{Timeout: 60 * time.Second}
	}
	if cfg.Clock == nil {
		cfg.Clock = SystemClock{}
	}
	return &HTTPSink{
		cfg:   cfg,
		retry: newRetrier(cfg.Retry, cfg.Clock, cfg.Jitter),
		limit: newLimiter(cfg.RequestsPerMinute, cfg.Clock),
		bufs:  sync.Pool{New: func() any { return new(bytes.Buffer) }},
	}, nil
}

// MapJSON adapts a typed mapping for HTTPConfig.Map: each record is decoded
// into In, and fn's result is sent. Decoding into a struct is several times
// faster than into a map and documents the fields the handler relies on.
func MapJSON[In, Out any](fn func(In) (Out, error)) func(Record) (any, error) {
	return func(r Record) (any, error) {
		var in In
		if err := json.Unmarshal(r.Raw, &in); err != nil {
			return nil, fmt.Errorf("invalid JSON: %s", jsonErrText(err))
		}
		return fn(in)
	}
}

// Send encodes the batch and posts it, retrying as configured.
func (s *HTTPSink) Send(ctx context.Context, b *Batch) error {
	buf := s.bufs.Get().(*bytes.Buffer)
	buf.Reset()
	defer s.bufs.Put(buf)
	contentType, recErrs, err := s.encode(buf, b)
	if err != nil {
		return err
	}
	if contentType == "" {
		// Every record was dropped or failed mapping: nothing to send.
		return recordErrorsOrNil(recErrs)
	}
	body := buf.Bytes()
	webhook := ""
	if b.Request != nil {
		webhook = b.Request.WebhookID
	}
	err = s.retry.do(ctx, func(int) (time.Duration, error) {
		if err := s.limit.wait(ctx); err != nil {
			return 0, permanent(err)
		}
		return s.post(ctx, body, contentType, webhook)
	})
	if err != nil {
		return err
	}
	return recordErrorsOrNil(recErrs)
}

func recordErrorsOrNil(errs RecordErrors) error {
	if len(errs) == 0 {
		return nil
	}
	return errs
}

// encode writes the request body for b into buf. It returns "" as the
// content type when there is nothing to send.
func (s *HTTPSink) encode(buf *bytes.Buffer, b *Batch) (string, RecordErrors, error) {
	if s.cfg.Map == nil && s.cfg.MapBatch == nil && s.cfg.Encode == nil {
		// Fast path: the records are already JSON; concatenate them.
		if len(b.Records) == 0 {
			return "", nil, nil
		}
		s.open(buf)
		for i, r := range b.Records {
			if i > 0 {
				buf.WriteByte(',')
			}
			buf.Write(r.Raw)
		}
		s.close(buf)
		return "application/json", nil, nil
	}
	records, recErrs, err := s.mapRecords(b)
	if err != nil || len(records) == 0 {
		return "", recErrs, err
	}
	switch {
	case s.cfg.Encode != nil:
		ct, err := s.cfg.Encode(buf, b, records)
		if err != nil {
			return "", recErrs, fmt.Errorf("encode: %w", err)
		}
		if ct == "" {
			ct = "application/octet-stream"
		}
		return ct, recErrs, nil
	case s.cfg.MapBatch != nil:
		v, err := s.cfg.MapBatch(b, records)
		if err != nil {
			return "", recErrs, fmt.Errorf("map batch: %w", err)
		}
		if err := json.NewEncoder(buf).Encode(v); err != nil {
			return "", recErrs, fmt.Errorf("encode: %w", err)
		}
		return "application/json", recErrs, nil
	default:
		s.open(buf)
		for i, r := range records {
			if i > 0 {
				buf.WriteByte(',')
			}
			buf.Write(r)
		}
		s.close(buf)
		return "application/json", recErrs, nil
	}
}

func (s *HTTPSink) open(buf *bytes.Buffer) {
	if s.cfg.DataKey != "" {
		key, _ := json.Marshal(s.cfg.DataKey)
		buf.WriteByte('{')
		buf.Write(key)
		buf.WriteByte(':')
	}
	buf.WriteByte('[')
}

func (s *HTTPSink) close(buf *bytes.Buffer) {
	buf.WriteByte(']')
	if s.cfg.DataKey != "" {
		buf.WriteByte('}')
	}
}

// mapRecords applies Map to every record; without Map the raw records are
// returned as they are.
func (s *HTTPSink) mapRecords(b *Batch) ([]json.RawMessage, RecordErrors, error) {
	out := make([]json.RawMessage, 0, len(b.Records))
	if s.cfg.Map == nil {
		for _, r := range b.Records {
			out = append(out, r.Raw)
		}
		return out, nil, nil
	}
	var recErrs RecordErrors
	for _, r := range b.Records {
		v, err := s.cfg.Map(r)
		if err != nil {
			recErrs = append(recErrs, RecordError{Line: r.Line, Err: err})
			continue
		}
		if v == nil {
			continue
		}
		enc, err := json.Marshal(v)
		if err != nil {
			recErrs = append(recErrs, RecordError{Line: r.Line, Err: fmt.Errorf("encode mapped record: %w", err)})
			continue
		}
		out = append(out, enc)
	}
	return out, recErrs, nil
}

// post makes one attempt.
func (s *HTTPSink) post(ctx context.Context, body []byte, contentType, webhook string) (time.Duration, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.cfg.URL, bytes.NewReader(body))
	if err != nil {
		return 0, permanent(err)
	}
	for k, vs := range s.cfg.Header {
		req.Header[k] = vs
	}
	req.Header.Set("Content-Type", contentType)
	if webhook != "" {
		// Lets the receiving side (and the devserver's web page) tie a
		// request to its Amperity job.
		req.Header.Set("X-Amperity-Webhook-Id", webhook)
	}
	resp, err := s.cfg.Client.Do(req)
	if err != nil {
		return 0, fmt.Errorf("POST %s: %w", redactURL(req.URL), unwrapURLError(err))
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 == 2 {
		// Drain so the connection is reused.
		io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
		return 0, nil
	}
	text, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	herr := newHTTPError(req, resp, text)
	if !retryableStatus(resp.StatusCode, sinkRetryCodes) {
		return 0, permanent(herr)
	}
	wait, _ := retryAfter(resp.Header, s.retry.clock.Now())
	return wait, herr
}
