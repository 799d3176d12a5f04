package runner

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"runtime/metrics"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// benchRecord is a realistic 1 KB customer record.
func benchRecord(i int) string {
	rec := fmt.Sprintf(`{"amperity_id":"a1b2c3d4-%08d","given_name":"Ada","surname":"Lovelace","email":"ada.lovelace%d@example.com","phone":"+14155550%03d","address":"12 Analytical Engine Way","city":"London","state":null,"postal":"N1 9GU","country":"GB","birthdate":"1815-12-10","lifetime_revenue":18234.55,"order_count":42,"first_order":"2019-03-01","last_order":"2026-10-30","segments":["vip","newsletter","high-value"],"predicted_clv":2311.9,"churn_propensity":0.12,"note":"`, i, i, i%1000)
	return rec + strings.Repeat("x", 1023-len(rec)-2) + `"}`
}

// repeatReader produces n bytes of NDJSON records without holding them.
type repeatReader struct {
	line      []byte
	remaining int64
	pos       int
}

func (r *repeatReader) Read(p []byte) (int, error) {
	if r.remaining <= 0 {
		return 0, io.EOF
	}
	n := 0
	for n < len(p) && r.remaining > 0 {
		c := copy(p[n:min(len(p), n+int(min(r.remaining, int64(len(r.line)-r.pos))))], r.line[r.pos:])
		n += c
		r.pos = (r.pos + c) % len(r.line)
		r.remaining -= int64(c)
	}
	return n, nil
}

type benchWorld struct {
	data, dest, status *httptest.Server
	received           atomic.Int64
}

func newBenchWorld(b *testing.B, size int64) *benchWorld {
	w := &benchWorld{}
	line := []byte(benchRecord(1) + "\n")
	w.data = httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		rw.Header().Set("Content-Length", fmt.Sprint(size))
		io.Copy(rw, &repeatReader{line: line, remaining: size})
	}))
	w.dest = httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		w.received.Add(n)
	}))
	w.status = httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
	}))
	b.Cleanup(func() { w.data.Close(); w.dest.Close(); w.status.Close() })
	return w
}

func (w *benchWorld) event() json.RawMessage {
	ev, _ := json.Marshal(map[string]any{"data_url": w.data.URL + "/f.ndjson", "callback_url": w.status.URL + "/", "webhook_id": "wh-bench", "access_token": "t"})
	return ev
}

type benchCustomer struct {
	ID      string  `json:"amperity_id"`
	Email   string  `json:"email"`
	Given   string  `json:"given_name"`
	Revenue float64 `json:"lifetime_revenue"`
}

type benchContact struct {
	UserID string            `json:"userId"`
	Traits map[string]string `json:"traits"`
}

func runPipelineBench(b *testing.B, size int64, mapped bool, inFlight int) {
	w := newBenchWorld(b, size)
	hc := HTTPConfig{URL: w.dest.URL, DataKey: "data"}
	if mapped {
		hc.Map = MapJSON(func(c benchCustomer) (benchContact, error) {
			return benchContact{UserID: c.ID, Traits: map[string]string{"email": c.Email, "first_name": c.Given}}, nil
		})
	}
	sink, err := NewHTTPSink(hc)
	if err != nil {
		b.Fatal(err)
	}
	r, err := New(Config{Sink: sink, BatchSize: 500, MaxInFlight: inFlight, Logger: discardLogger})
	if err != nil {
		b.Fatal(err)
	}
	records := size / 1024
	b.SetBytes(size)
	b.ReportAllocs()
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	b.ResetTimer()
	for b.Loop() {
		resp, _ := r.Handle(context.Background(), w.event())
		if resp.StatusCode != 200 {
			b.Fatalf("job failed: %s", resp.Body)
		}
	}
	b.StopTimer()
	runtime.ReadMemStats(&m1)
	secs := b.Elapsed().Seconds()
	b.ReportMetric(float64(records)*float64(b.N)/secs, "records/s")
	b.ReportMetric(float64(m1.Mallocs-m0.Mallocs)/float64(records*int64(b.N)), "allocs/record")
}

// BenchmarkPipeline measures the whole runner over loopback: download,
// split, validate, batch 500 x 1 KB records, POST to a trivial destination.
//
//	go test -run '^$' -bench Pipeline -benchtime 20x ./runner
func BenchmarkPipeline(b *testing.B) {
	const size = 64 << 20
	b.Run("passthrough", func(b *testing.B) { runPipelineBench(b, size, false, 1) })
	b.Run("mapping", func(b *testing.B) { runPipelineBench(b, size, true, 1) })
	b.Run("mapping-inflight2", func(b *testing.B) { runPipelineBench(b, size, true, 2) })
}

// BenchmarkPipeline_PeakHeap1GB streams a 1 GB file and reports the
// highest live heap seen, which must not grow with the file.
//
//	go test -run '^$' -bench PeakHeap -benchtime 1x ./runner
func BenchmarkPipeline_PeakHeap1GB(b *testing.B) {
	for _, size := range []int64{64 << 20, 1 << 30} {
		b.Run(fmt.Sprintf("%dMB", size>>20), func(b *testing.B) {
			var peak atomic.Uint64
			done := make(chan struct{})
			go func() {
				sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
				t := time.NewTicker(2 * time.Millisecond)
				defer t.Stop()
				for {
					select {
					case <-done:
						return
					case <-t.C:
						metrics.Read(sample)
						if v := sample[0].Value.Uint64(); v > peak.Load() {
							peak.Store(v)
						}
					}
				}
			}()
			runPipelineBench(b, size, false, 1)
			close(done)
			b.ReportMetric(float64(peak.Load())/(1<<20), "peak-heap-MB")
		})
	}
}
