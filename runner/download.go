package runner

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// download streams the data file. When the connection breaks mid-file it
// reconnects with a Range request from the last byte read, so a flaky
// network neither loses nor repeats data; a server that ignores Range is
// handled by discarding the bytes already read. It counts bytes as they
// arrive for progress reporting.
type download struct {
	ctx    context.Context
	client *http.Client
	url    string
	retry  retrier

	body     io.ReadCloser
	start    int64 // offset the download started from
	pos      int64 // offset in the file of the next byte Read returns
	read     atomic.Int64
	size     atomic.Int64 // file size in bytes, -1 when unknown; read by senders for progress
	etag     string
	encoding string // Content-Encoding of the file
	resumes  int
}

// openDownload starts streaming url from byte offset off.
func openDownload(ctx context.Context, client *http.Client, url string, off int64, retry retrier) (*download, error) {
	d := &download{ctx: ctx, client: client, url: url, retry: retry, start: off, pos: off}
	d.size.Store(-1)
	d.read.Store(off)
	err := retry.do(ctx, func(int) (time.Duration, error) { return d.connect() })
	if err != nil {
		return nil, fmt.Errorf("download: %w", err)
	}
	return d, nil
}

// connect issues the GET (ranged when pos > 0) and leaves d.body positioned
// at d.pos.
func (d *download) connect() (time.Duration, error) {
	req, err := http.NewRequestWithContext(d.ctx, http.MethodGet, d.url, nil)
	if err != nil {
		return 0, permanent(err)
	}
	// Ask for the bytes as stored: transparent decompression would hide
	// the offsets that progress and Range resumption depend on. Gzip is
	// decoded by the runner instead.
	req.Header.Set("Accept-Encoding", "identity")
	if d.pos > 0 {
		req.Header.Set("Range", fmt.Sprintf("bytes=%d-", d.pos))
	}
	resp, err := d.client.Do(req)
	if err != nil {
		return 0, fmt.Errorf("GET %s: %w", redactURL(req.URL), unwrapURLError(err))
	}
	switch {
	case resp.StatusCode == http.StatusOK:
		if d.pos > 0 {
			// The server ignored Range: skip what was already read.
			if _, err := io.CopyN(io.Discard, resp.Body, d.pos); err != nil {
				resp.Body.Close()
				return 0, fmt.Errorf("GET %s: skipping to byte %d: %w", redactURL(req.URL), d.pos, err)
			}
		}
		if resp.ContentLength >= 0 {
			d.size.Store(resp.ContentLength)
		}
	case resp.StatusCode == http.StatusPartialContent:
		start, total, ok := parseContentRange(resp.Header.Get("Content-Range"))
		if !ok || start != d.pos {
			resp.Body.Close()
			return 0, permanent(fmt.Errorf("GET %s: server answered range %q for a request from byte %d", redactURL(req.URL), resp.Header.Get("Content-Range"), d.pos))
		}
		d.size.Store(total)
	case resp.StatusCode == http.StatusRequestedRangeNotSatisfiable && d.pos > 0:
		// Resuming exactly at the end of the file.
		resp.Body.Close()
		d.body = http.NoBody
		return 0, nil
	default:
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
		resp.Body.Close()
		herr := newHTTPError(req, resp, body)
		if resp.StatusCode == 429 || resp.StatusCode >= 500 {
			wait, _ := retryAfter(resp.Header, d.retry.clock.Now())
			return wait, herr
		}
		if resp.StatusCode == http.StatusForbidden {
			herr.Body = strings.TrimSpace(herr.Body + " (the pre-signed data_url may have expired)")
		}
		return 0, permanent(herr)
	}
	etag := resp.Header.Get("ETag")
	if d.etag != "" && etag != "" && etag != d.etag {
		resp.Body.Close()
		return 0, permanent(fmt.Errorf("GET %s: the file changed while it was being read (ETag %s, was %s)", redactURL(req.URL), etag, d.etag))
	}
	d.etag = etag
	if d.encoding == "" {
		d.encoding = resp.Header.Get("Content-Encoding")
	}
	d.body = resp.Body
	return 0, nil
}

// Read reads from the current connection, reconnecting on errors.
func (d *download) Read(p []byte) (int, error) {
	for {
		n, err := d.body.Read(p)
		d.pos += int64(n)
		d.read.Store(d.pos)
		if err == nil || err == io.EOF {
			if err == io.EOF && d.size.Load() >= 0 && d.pos < d.size.Load() {
				err = io.ErrUnexpectedEOF
			} else {
				return n, err
			}
		}
		if n > 0 {
			// Deliver what arrived; the next Read hits the error again.
			return n, nil
		}
		if d.ctx.Err() != nil {
			return 0, context.Cause(d.ctx)
		}
		if rerr := d.resume(err); rerr != nil {
			return 0, rerr
		}
	}
}

// resume reconnects after cause broke the stream.
func (d *download) resume(cause error) error {
	d.body.Close()
	d.body = http.NoBody
	d.resumes++
	if d.resumes > d.retry.backoff.Attempts {
		return fmt.Errorf("download: connection lost at byte %d: %w (gave up after %d reconnects)", d.pos, cause, d.resumes-1)
	}
	if err := d.retry.clock.Sleep(d.ctx, d.retry.backoff.delay(d.resumes, d.retry.jitter())); err != nil {
		return err
	}
	err := d.retry.do(d.ctx, func(int) (time.Duration, error) { return d.connect() })
	if err != nil {
		return fmt.Errorf("download: resuming at byte %d after %v: %w", d.pos, cause, err)
	}
	return nil
}

// Close closes the current connection.
func (d *download) Close() error { return d.body.Close() }

// bytesRead is the offset reached in the file; safe from any goroutine.
func (d *download) bytesRead() int64 { return d.read.Load() }

// progress is bytes read / file size, 0 when the size is unknown.
func (d *download) progress() float64 {
	size := d.size.Load()
	if size <= 0 {
		return 0
	}
	return float64(d.bytesRead()) / float64(size)
}

// parseContentRange parses "bytes start-end/total"; total is -1 for "*".
func parseContentRange(v string) (start, total int64, ok bool) {
	v, found := strings.CutPrefix(v, "bytes ")
	if !found {
		return 0, 0, false
	}
	rng, tot, found := strings.Cut(v, "/")
	if !found {
		return 0, 0, false
	}
	first, _, found := strings.Cut(rng, "-")
	if !found {
		return 0, 0, false
	}
	start, err := strconv.ParseInt(first, 10, 64)
	if err != nil {
		return 0, 0, false
	}
	if tot == "*" {
		return start, -1, true
	}
	total, err = strconv.ParseInt(tot, 10, 64)
	if err != nil {
		return 0, 0, false
	}
	return start, total, true
}
