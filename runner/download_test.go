package runner

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
)

// flakyFile serves content but cuts the connection after cutAt bytes on
// the first cuts requests, the way a dropped network does. honourRange
// says whether later requests get a 206 or the whole file again.
type flakyFile struct {
	content     string
	cutAt       int
	cuts        int
	honourRange bool

	mu     sync.Mutex
	ranges []string
}

func (f *flakyFile) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.ranges = append(f.ranges, r.Header.Get("Range"))
	n := len(f.ranges)
	f.mu.Unlock()
	if n <= f.cuts {
		// Promise the whole rest of the file, send part of it, hang up.
		start := 0
		if rng := r.Header.Get("Range"); rng != "" && f.honourRange {
			fmt.Sscanf(rng, "bytes=%d-", &start)
		}
		conn, buf, _ := w.(http.Hijacker).Hijack()
		status := "200 OK"
		extra := ""
		if start > 0 {
			status = "206 Partial Content"
			extra = fmt.Sprintf("Content-Range: bytes %d-%d/%d\r\n", start, len(f.content)-1, len(f.content))
		}
		fmt.Fprintf(buf, "HTTP/1.1 %s\r\nContent-Length: %d\r\nETag: \"v1\"\r\n%s\r\n", status, len(f.content)-start, extra)
		end := min(start+f.cutAt, len(f.content))
		buf.WriteString(f.content[start:end])
		buf.Flush()
		conn.Close()
		return
	}
	w.Header().Set("ETag", `"v1"`)
	if f.honourRange {
		http.ServeContent(w, r, "f.ndjson", zeroTime, strings.NewReader(f.content))
		return
	}
	w.Write([]byte(f.content))
}

func numberedRecords(n int) string {
	var b strings.Builder
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&b, "{\"id\":%d,\"pad\":\"%s\"}\n", i, strings.Repeat("p", 40))
	}
	return b.String()
}

func TestRunner_ResumesCutDownloadWithoutLossOrDuplicate(t *testing.T) {
	for _, honour := range []bool{true, false} {
		t.Run(fmt.Sprintf("server honours Range=%v", honour), func(t *testing.T) {
			file := numberedRecords(2000)
			flaky := &flakyFile{content: file, cutAt: 30001, cuts: 2, honourRange: honour}
			s := newSetup(t, "")
			s.data.Config.Handler = flaky
			s.cfg.BatchSize = 100
			_, rb := s.run(s.body())

			recs := s.dest.records(t, "data")
			for i, r := range recs {
				if r["id"] != float64(i+1) {
					t.Fatalf("record %d has id %v: lost or repeated", i, r["id"])
				}
			}
			if len(recs) != 2000 || s.final().State != Succeeded {
				t.Fatalf("delivered %d records, summary %+v", len(recs), rb.Summary)
			}
			if honour && (len(flaky.ranges) != 3 || flaky.ranges[1] != "bytes=30001-" || flaky.ranges[2] != "bytes=60002-") {
				t.Errorf("requests' Range headers = %q", flaky.ranges)
			}
			if rb.Summary.Bytes != int64(len(file)) {
				t.Errorf("bytes read %d, want %d", rb.Summary.Bytes, len(file))
			}
		})
	}
}

func TestRunner_DownloadGivesUpAfterBoundedReconnects(t *testing.T) {
	flaky := &flakyFile{content: numberedRecords(500), cutAt: 1000, cuts: 1000, honourRange: true}
	s := newSetup(t, "")
	s.data.Config.Handler = flaky
	s.cfg.DownloadRetry = Backoff{Attempts: 3}
	resp, _ := s.run(s.body())
	final := s.final()
	if resp.StatusCode != 500 || final.State != Failed || !strings.Contains(final.Reason, "gave up after 3 reconnects") {
		t.Fatalf("response %d final %+v", resp.StatusCode, final)
	}
}

func TestRunner_FileChangedDuringResumeFails(t *testing.T) {
	file := numberedRecords(500)
	var n int
	s := newSetup(t, "")
	s.data.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n++
		if n == 1 {
			(&flakyFile{content: file, cutAt: 5000, cuts: 1, honourRange: true}).ServeHTTP(w, r)
			return
		}
		w.Header().Set("ETag", `"v2"`)
		http.ServeContent(w, r, "f", zeroTime, strings.NewReader(file))
	})
	s.run(s.body())
	if final := s.final(); final.State != Failed || !strings.Contains(final.Reason, "the file changed while it was being read") {
		t.Fatalf("final %+v", final)
	}
}

func TestParseContentRange(t *testing.T) {
	for v, want := range map[string][3]int64{
		"bytes 0-99/100":   {0, 100, 1},
		"bytes 100-199/*":  {100, -1, 1},
		"bytes */100":      {0, 0, 0},
		"items 0-1/2":      {0, 0, 0},
		"bytes 5-9/banana": {0, 0, 0},
	} {
		start, total, ok := parseContentRange(v)
		got := [3]int64{start, total, 0}
		if ok {
			got[2] = 1
		}
		if got != want {
			t.Errorf("parseContentRange(%q) = %v, want %v", v, got, want)
		}
	}
}
